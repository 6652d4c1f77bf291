"""Benchmark the audit stage on a large delivery log: queries, exports, reports, bounces.

    .venv/bin/python bench/audit.py [--messages 20000] [--bounces 2000]

Builds a one-run log (one attempt per message, 10 messages per second, 2 % failed, 1 %
unknown) in a temporary folder, then times each operation (best of 3) and prints the time per
message, so figures compare as ratios on this noisy shared machine.
"""

from __future__ import annotations

import argparse
import hashlib
import mailbox
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from distrib.audit import LogFilter, history, log_columns, log_entries, report
from distrib.audit import rows as export_rows
from distrib.audit.html import render_html
from distrib.bounces import process_mailbox
from distrib.deliverylog import Begin, DeliveryLog, NewMessage, Outcome, State, open_log
from distrib.export import write_table

T0 = datetime(2027, 2, 2, 14, 0, tzinfo=UTC)
CORPUS = Path(__file__).resolve().parents[1] / "tests" / "data" / "bounces"


def ts(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


def build(path: Path, n: int) -> DeliveryLog:
    log = open_log(path)
    run = log.create_run("bench", "bench/campaign.toml", settings={"rate": 10.0})
    statuses, rows = [], []
    for i in range(n):
        statuses.append("failed" if i % 50 == 7 else "unknown" if i % 100 == 3 else "sent")
        address = f"journaliste{i}@media{i % 400}.example"
        digest = hashlib.sha256(address.encode()).hexdigest()[:24]
        rows.append(
            NewMessage(
                key=address, recipient=address, address=address, name=f"Journaliste {i}",
                outlet=f"Média {i % 400}", language="fr" if i % 3 else "en",
                provenance=f"medias.csv:{i + 2}", subject="Communiqué",
                message_id=f"<distrib.5d41402abc4b.{digest}@quais.example>",
                content_hash=f"{i:064x}",
            )
        )  # fmt: skip
    log.add_messages(run.id, rows)
    ids = [m.id for m in log.messages(run.id)]
    for start in range(0, n, 1000):  # as the engine's group commits write them
        chunk = range(start, min(n, start + 1000))
        at = [T0 + timedelta(seconds=i / 10) for i in chunk]
        begun = log.apply(
            [
                Begin(ids[i], "relay:587", ts(t - timedelta(milliseconds=80)))
                for i, t in zip(chunk, at, strict=True)
            ]
        )
        ends = []
        for i, t, attempt in zip(chunk, at, begun, strict=True):
            assert isinstance(attempt, int)
            failed = statuses[i] == "failed"
            ends.append(
                Outcome(ids[i], attempt, State(statuses[i]), 550 if failed else 250, "ok", ts(t),
                        "5.1.1" if failed else "2.0.0")
            )  # fmt: skip
        assert not any(isinstance(r, Exception) for r in log.apply(ends))
    log.set_run_status(run.id, "finished")
    return log


def bounce_box(folder: Path, log: DeliveryLog, count: int) -> Path:
    """A Maildir of ``count`` Postfix DSNs about messages of the log."""
    template = (CORPUS / "postfix-user-unknown.eml").read_text(encoding="utf-8")
    run = log.runs()[-1]
    rows = log.messages(run.id, states=["sent"])[:count]
    box = mailbox.Maildir(folder, create=True)
    for number, row in enumerate(rows):
        text = template.replace(
            "<distrib.5d41402abc4b.1c3e5a7b9d0f2e4a6c8b0d1f@quais.example>", row.message_id or ""
        ).replace("marc.tremblay@fleuve.example", row.address)
        text = text.replace("Marc.Tremblay@fleuve.example", row.address)
        text = text.replace("4Tq9Xk1Lz3z9sQ@relay", f"{number}x@relay")  # its own Message-ID
        box.add(text.encode("utf-8"))
    box.close()
    return folder


def best(operation: Callable[[], Any], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        operation()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--bounces", type=int, default=2_000)
    args = parser.parse_args()
    n = args.messages
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        start = time.perf_counter()
        log = build(folder / "distrib-log.sqlite", n)
        print(f"built a log of {n} messages in {time.perf_counter() - start:.2f} s")
        columns = log_columns(log)
        rows = export_rows(log_entries(log, 1), columns)
        where = LogFilter(domains=("media7.example",), since=T0 + timedelta(minutes=5),
                          until=T0 + timedelta(minutes=20))  # fmt: skip
        key = "journaliste77@media77.example"
        results = {
            "log entries (all)": best(lambda: log_entries(log, 1)),
            "log entries (domain + time range)": best(lambda: log_entries(log, 1, where)),
            "CSV export": best(lambda: write_table(folder / "l.csv", columns, rows, "csv")),
            "JSON export": best(lambda: write_table(folder / "l.json", columns, rows, "json")),
            "XLSX export": best(lambda: write_table(folder / "l.xlsx", columns, rows, "xlsx"), 1),
            "report (counts, timeline)": best(lambda: report(log, log.get_run(1))),
            "HTML report (render)": best(lambda: render_html(report(log, log.get_run(1)))),
            "contacts history (one address)": best(
                lambda: history(log, key, key=key, domain="media77.example")
            ),
        }
        print(f"\n{'operation':<34} {'seconds':>9} {'µs/message':>11}")
        for name, seconds in results.items():
            print(f"{name:<34} {seconds:>9.3f} {seconds / n * 1e6:>11.1f}")
        html = render_html(report(log, log.get_run(1)))
        print(f"\nHTML report size: {len(html.encode()) / 1024:.0f} KiB")
        box = bounce_box(folder / "Maildir", log, args.bounces)
        start = time.perf_counter()
        outcome = process_mailbox(box, log)
        seconds = time.perf_counter() - start
        recorded = sum(1 for r in outcome.recorded if r.new)
        print(
            f"bounces: {outcome.read} DSNs read, parsed, matched and recorded in {seconds:.2f} s"
            f" ({outcome.read / seconds:.0f}/s; {recorded} recorded, each with its suppression)"
        )
        log.close()


if __name__ == "__main__":
    main()
