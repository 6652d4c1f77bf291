#!/usr/bin/env bash
# make demo: start distrib's local capture SMTP server, send the example campaign to it, report.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
OUT=demo-out
PORT=2525  # example/campaign.toml sends to 127.0.0.1:2525
rm -rf "$OUT"
mkdir -p "$OUT"

"$BIN/distrib" sink --port "$PORT" --maildir "$OUT/maildir" >"$OUT/sink.log" 2>&1 &
SINK=$!
trap 'kill "$SINK" 2>/dev/null || true; wait "$SINK" 2>/dev/null || true' EXIT
for _ in $(seq 50); do
    grep -q "listening" "$OUT/sink.log" 2>/dev/null && break
    kill -0 "$SINK" 2>/dev/null || { cat "$OUT/sink.log" >&2; exit 1; }
    sleep 0.1
done

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }
step "$BIN/distrib" contacts check example/campaign.toml
step "$BIN/distrib" preview example/campaign.toml --out "$OUT/preview"
step "$BIN/distrib" send example/campaign.toml --yes --log "$OUT/distrib-log.sqlite"
step "$BIN/distrib" report --log "$OUT/distrib-log.sqlite" --html "$OUT/report.html"

cat <<TXT

Where to look:
  captured emails  $OUT/maildir/new/      (one file per message; open with any mail client)
  sink output      $OUT/sink.log
  preview          $OUT/preview/index.html   (or: .venv/bin/distrib preview example/campaign.toml --serve)
  HTML report      $OUT/report.html
  delivery log     $OUT/distrib-log.sqlite  (distrib runs / log / report --log $OUT/distrib-log.sqlite)
TXT
