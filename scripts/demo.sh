#!/usr/bin/env bash
# make demo: start distrib's local capture SMTP server, then send two releases of the example
# workspace to it: the first to everyone, the second (a follow-up) to the culture beat only,
# with an opt-out recorded in between, which the second release honours.
#
# Works on a copy of example/ and lists/ (nothing in them changes).  PORT=2626 make demo (or
# make demo PORT=2626) uses another port.  The previous demo's output (demo-out/) is replaced
# only once the new sink is listening: a busy port leaves it as it was.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DISTRIB="$ROOT/.venv/bin/distrib"
OUT=demo-out
NEXT="$OUT.next"
PORT="${PORT:-2525}"
FIRST=2027-11-hiver-en-vitrine
SECOND=2027-12-marche-des-cedres
OPTED_OUT=chloe.dubois@northernwire.example

rm -rf "$NEXT"
mkdir -p "$NEXT"
"$DISTRIB" sink --port "$PORT" --maildir "$NEXT/maildir" >"$NEXT/sink.log" 2>&1 &
SINK=$!
finish() {
    kill "$SINK" 2>/dev/null || true
    wait "$SINK" 2>/dev/null || true
}
trap finish EXIT
for _ in $(seq 100); do
    grep -q "listening" "$NEXT/sink.log" 2>/dev/null && break
    if ! kill -0 "$SINK" 2>/dev/null; then
        cat "$NEXT/sink.log" >&2
        rm -rf "$NEXT"
        echo "The capture server could not start on port $PORT (try: make demo PORT=2626)." >&2
        [ -d "$OUT" ] && echo "The previous demo's output is still in $OUT/." >&2
        exit 1
    fi
    sleep 0.1
done

# The workspace, copied beside its lists (its paths are relative), sending to the sink's port.
cp -R example lists "$NEXT/"
sed -i.orig "s/^port = 2525/port = $PORT/" "$NEXT/example/distrib.toml"
rm -f "$NEXT/example/distrib.toml.orig"
cd "$NEXT/example"

step() { printf '\n\033[1m$ distrib %s\033[0m\n' "$*"; "$DISTRIB" "$@"; }
step contacts check --release "$FIRST"
step preview --release "$FIRST"
step send "releases/$FIRST" --yes
step unsubscribe "$OPTED_OUT" --note "asked by phone after the first release"
printf '\n\033[1m$ distrib contacts check releases/%s | grep -A3 Suppressed\033[0m\n' "$SECOND"
"$DISTRIB" contacts check "releases/$SECOND" | grep -A3 "^Suppressed"
step send "releases/$SECOND" --yes
step log latest
step contacts history "$OPTED_OUT"
step report --html report.html

cd "$ROOT"
finish
trap - EXIT
rm -rf "$OUT"
mv "$NEXT" "$OUT"
W="$OUT/example"
cat <<TXT

The second release went to the culture beat only, without $OPTED_OUT
(she opted out after the first one: the workspace's single log remembers it).

Where to look:
  captured emails  $OUT/maildir/new/      (one file per message; open with any mail client)
  sink output      $OUT/sink.log
  the workspace    $W/distrib.toml, $W/releases/
  preview          $W/preview/$FIRST/index.html
                   (or: cd $W && ../../.venv/bin/distrib preview --release $FIRST --serve)
  HTML report      $W/report.html
  delivery log     $W/distrib-log.sqlite  (cd $W && ../../.venv/bin/distrib runs / log / report)

Open the interface (preview, send, runs and reports, in a browser):
  cd $OUT && ../.venv/bin/distrib ui example/
TXT
