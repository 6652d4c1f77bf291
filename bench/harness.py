"""The benchmark harness: distrib against the C ceiling of this machine and against mailmerge.

    make bench                                   # = .venv/bin/python -m bench
    .venv/bin/python -m bench --quick            # a few minutes: small figures, same table
    .venv/bin/python -m bench --write-docs       # also put the tables in docs/benchmarks.md

Each *round* measures, back to back on the same Postfix ``smtp-sink`` (127.0.0.1, C, discards
everything) and the same synthetic campaign (`bench.campaigns`):

1. ``distrib send CAMPAIGN --yes``, the real command: load, merge, plan (render every message
   once), record the run, send (render again, SMTP, log committed): wall time from the start of
   the command to its exit, peak memory; its own report gives the send's share; once with the
   delivery log in a SQLite file, once in PostgreSQL (a throwaway cluster the bench starts,
   `bench.pg`, with PostgreSQL's durable defaults; a new database each time; skipped when
   PostgreSQL is not installed);
2. the sending engine fed with messages rendered beforehand (`bench.e2e prerendered`): the
   send path's own ceiling (SMTP and the delivery log, rendering excluded), on both logs;
3. ``smtp-source`` (C) with the same number of messages of the same size: this machine's ceiling;
4. mailmerge 2.3.0 with the same number of messages of the same size.

Ratios (distrib ÷ mailmerge, distrib ÷ C ceiling) are computed within each round, then every
figure is reported as min / median / max over the rounds.  Then: peak memory by number of
recipients, rate-limit accuracy, ``distrib --help`` start-up time, ``distrib preview`` at
5,000, 10,000 and 20,000 recipients (`bench.preview`), `distrib ui`'s preview over HTTP at
20,000 (`bench.web_preview`), a py-spy profile, and the delayed-link
comparison (`bench.delaylink`: one connection, 30 ms each way, with and without
PIPELINING, and aiosmtplib's public API).
Results go to ``bench/out/results.md`` and ``results.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench import delaylink, measure, peer, pg, profiling, ratelimit, startup, tools, web_preview
from bench import preview as preview_bench
from bench.campaigns import write_campaign

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "out"
DOCS = REPO / "docs" / "benchmarks.md"
BIN = Path(sys.executable).parent
START, END = "<!-- bench:start -->", "<!-- bench:end -->"


def mmm(values: list[float]) -> tuple[float, float, float]:
    return min(values), statistics.median(values), max(values)


def fresh(log: Path | str) -> None:
    """Remove a log file and its -wal and -shm (a database URL is made new by its caller)."""
    if isinstance(log, Path):
        for stale in log.parent.glob(log.name + "*"):
            stale.unlink()


def postgres_campaign(campaign: Path, url: str) -> Path:
    """The same campaign beside it, its delivery log in the PostgreSQL database ``url``."""
    text = campaign.read_text(encoding="utf-8")
    other = campaign.with_name("campaign-postgresql.toml")
    other.write_text(f'log = "{url}"\n{text}', encoding="utf-8")
    return other


def distrib_cli(campaign: Path, log: Path | str, output: Path) -> tuple[float, measure.Measured]:
    """Run ``distrib send CAMPAIGN --yes`` on a fresh log; return (messages/s, measurement)."""
    fresh(log)
    got = measure.run([str(BIN / "distrib"), "send", str(campaign), "--yes"], log=output)
    if got.returncode != 0:
        raise SystemExit(f"bench: distrib send failed ({got.returncode}); see {output}")
    sent, total = measure.sent_in_latest_run(log)
    if sent != total:
        raise SystemExit(f"bench: distrib sent {sent} of {total}; see {output}")
    return sent / got.seconds, got


def in_process(mode: str, campaign: Path, log: Path | str) -> dict[str, Any]:
    fresh(log)
    out = subprocess.run(
        [sys.executable, "-m", "bench.e2e", mode, str(campaign)],
        cwd=REPO, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if out.returncode != 0:
        raise SystemExit(f"bench: bench.e2e {mode} failed:\n{out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def round_(index: int, ctx: dict[str, Any]) -> dict[str, Any]:
    n, campaign, log, work = ctx["n"], ctx["campaign"], ctx["log"], ctx["work"]
    tools.say(f"round {index}: distrib send --yes ({n} recipients)")
    output = work / f"distrib-send-{index}.txt"
    cli_rate, cli = distrib_cli(campaign, log, output)
    # The command's own report: "Elapsed 12.3 s over 16 connection(s)." (the send alone).
    found = re.search(r"Elapsed ([0-9.]+) s over", output.read_text())
    send_seconds = float(found.group(1)) if found else float("nan")
    tools.say(f"  {cli_rate:,.0f} messages/s ({cli.seconds:.1f} s, {cli.main_mb:.0f} MB)")
    tools.say(f"round {index}: engine on messages rendered beforehand")
    pre = in_process("prerendered", campaign, log)
    ctx["size"] = round(pre["size"])
    tools.say(f"round {index}: smtp-source ceiling ({ctx['size']} bytes)")
    ceiling = tools.ceiling(ctx["source"], ctx["port"], n, ctx["size"])
    if "mailmerge_ready" not in ctx:
        reached = peer.prepare(ctx["mailmerge"], work / "mailmerge", n, ctx["port"], ctx["size"])
        ctx["mailmerge_ready"] = reached
    tools.say(f"round {index}: mailmerge ({n} messages of {ctx['mailmerge_ready']} bytes)")
    mm_seconds = peer.run(ctx["mailmerge"], work / "mailmerge", n)
    row = {
        "distrib": cli_rate,
        "distrib_seconds": cli.seconds,
        "distrib_mb": cli.main_mb,
        "distrib_workers_mb": cli.children_mb,
        "plan_seconds": cli.seconds - send_seconds,
        "send_seconds": send_seconds,
        "prerendered": pre["messages"] / pre["seconds"],
        "changes_per_commit": 2 * pre["messages"] / max(1, pre["log_commits"]),
        "ceiling": ceiling.rate,
        "ceiling_sessions": ceiling.sessions,
        "mailmerge": n / mm_seconds,
        "size": ctx["size"],
        "mailmerge_size": ctx["mailmerge_ready"],
    }
    row["vs_mailmerge"] = row["distrib"] / row["mailmerge"]
    row["vs_ceiling"] = row["distrib"] / row["ceiling"]
    row["prerendered_vs_mailmerge"] = row["prerendered"] / row["mailmerge"]
    row["prerendered_vs_ceiling"] = row["prerendered"] / row["ceiling"]
    if ctx.get("cluster") is not None:
        row.update(postgres_round(index, ctx))
        row["pg_vs_sqlite"] = row["distrib_pg"] / row["distrib"]
    tools.say("  " + ", ".join(f"{k} {v:,.2f}" for k, v in row.items()))
    return row


def postgres_round(index: int, ctx: dict[str, Any]) -> dict[str, Any]:
    """The same two measurements with the delivery log on PostgreSQL (new databases)."""
    cluster: pg.PostgresCluster = ctx["cluster"]
    url = cluster.new_database()
    tools.say(f"round {index}: distrib send --yes, delivery log on PostgreSQL")
    output = ctx["work"] / f"distrib-send-pg-{index}.txt"
    rate, got = distrib_cli(postgres_campaign(ctx["campaign"], url), url, output)
    found = re.search(r"Elapsed ([0-9.]+) s over", output.read_text())
    tools.say(f"  {rate:,.0f} messages/s ({got.seconds:.1f} s, {got.main_mb:.0f} MB)")
    tools.say(f"round {index}: engine on messages rendered beforehand, PostgreSQL log")
    url = cluster.new_database()
    pre = in_process("prerendered", postgres_campaign(ctx["campaign"], url), url)
    return {
        "distrib_pg": rate,
        "distrib_pg_seconds": got.seconds,
        "send_pg_seconds": float(found.group(1)) if found else float("nan"),
        "prerendered_pg": pre["messages"] / pre["seconds"],
        "pg_changes_per_commit": 2 * pre["messages"] / max(1, pre["log_commits"]),
    }


def memory(sizes: list[int], ctx: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for n in sizes:
        folder = ctx["work"] / f"memory-{n}"
        campaign = write_campaign(folder, n, port=ctx["port"])
        tools.say(f"memory: distrib send --yes, {n} recipients")
        rate, got = distrib_cli(campaign, folder / "distrib-log.sqlite", folder / "send.txt")
        found.append({"recipients": n, "main_mb": got.main_mb, "workers_mb": got.children_mb,
                      "tree_mb": got.tree_mb, "seconds": got.seconds, "rate": rate})  # fmt: skip
        tools.say(f"  main {got.main_mb:.0f} MB, render workers {got.children_mb:.0f} MB")
    return found


def rate_accuracy(rate: float, burst: int, seconds: float, runs: int, ctx: dict[str, Any]) -> list[
    dict[str, Any]
]:  # fmt: skip
    found = []
    n = int(rate * seconds) + burst
    folder = ctx["work"] / "rate"
    campaign = write_campaign(folder, n, port=ctx["port"], rate=rate, burst=burst)
    for run in range(runs):
        tools.say(f"rate accuracy {run + 1}/{runs}: rate = {rate:g}/s, burst = {burst}, {n} msgs")
        distrib_cli(campaign, folder / "distrib-log.sqlite", folder / f"send-{run}.txt")
        got = ratelimit.accuracy(folder / "distrib-log.sqlite", burst)
        error = got.achieved / rate - 1
        found.append({**asdict(got), "rate": rate, "burst": burst, "error": error})
        tools.say(f"  achieved {got.achieved:.3f}/s, worst 1-s window {got.worst_second}")
    return found


def machine() -> dict[str, Any]:
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "load": os.getloadavg(),
    }


def fmt(values: list[float], spec: str = ",.0f", unit: str = "") -> str:
    lo, mid, hi = mmm(values)
    return f"{lo:{spec}}{unit} / **{mid:{spec}}{unit}** / {hi:{spec}}{unit}"


def markdown(results: dict[str, Any]) -> str:
    rounds = results["rounds"]
    col = {k: [r[k] for r in rounds] for k in rounds[0]} if rounds else {}
    m = results["machine"]
    lines = [
        f"Measured {results['date']} with `{results['command']}` on {m['cores']} cores"
        f" ({m['cpu'] or 'unknown CPU'}), Python {m['python']}, Linux {m['kernel']}; load"
        f" average {results['load_before'][0]:.1f} before and {m['load'][0]:.1f} after (the"
        " machine is shared: compare the ratios, measured within each round).",
        f"{results['n']:,} recipients, messages of {rounds[0]['size']:,} bytes on average"
        f" (mailmerge's: {rounds[0]['mailmerge_size']:,}); {len(rounds)} rounds; figures are"
        " min / **median** / max."
        if rounds
        else "",
        "",
    ]
    if rounds:
        e2e, vs_mm, vs_c = col["distrib"], col["vs_mailmerge"], col["vs_ceiling"]
        pre = col["prerendered"]
        lines += [
            "| Target | Goal | Measured | Met? |",
            "|---|---|---|---|",
            f"| End-to-end `distrib send --yes` (merge → render → MIME → SMTP → log committed)"
            f" | ≥ 1,500 msg/s | {fmt(e2e)} msg/s | {_met(min(e2e) >= 1500)} |",
            f"| … ÷ mailmerge (same round) | ≥ 6× | {fmt(vs_mm, '.1f', '×')}"
            f" | {_met(min(vs_mm) >= 6)} |",
            f"| … ÷ C ceiling (same round) | ≥ 40 % | {fmt([v * 100 for v in vs_c], '.0f', ' %')}"
            f" | {_met(min(vs_c) >= 0.4)} |",
            f"| Send path alone (rendering excluded) | (its ceiling) | {fmt(pre)} msg/s"
            f" = {fmt([v * 100 for v in col['prerendered_vs_ceiling']], '.0f', ' %')} of C,"
            f" {fmt(col['prerendered_vs_mailmerge'], '.1f', '×')} mailmerge | |",
        ]
        if "distrib_pg" in col:
            lines += [
                f"| End-to-end `distrib send --yes`, delivery log on PostgreSQL (same rounds) |"
                f" (issue 11: measured) | {fmt(col['distrib_pg'])} msg/s ="
                f" {fmt([v * 100 for v in col['pg_vs_sqlite']], '.0f', ' %')} of SQLite's | |",
                f"| Send path alone, PostgreSQL log | (its ceiling) |"
                f" {fmt(col['prerendered_pg'])} msg/s | |",
            ]
    if results.get("memory"):
        big = max(results["memory"], key=lambda r: r["recipients"])
        small = min(results["memory"], key=lambda r: r["recipients"])
        flat = big["main_mb"] <= small["main_mb"] * 1.5
        extra = max(1, big["recipients"] - small["recipients"])
        growth = (big["main_mb"] - small["main_mb"]) * 1024 / extra  # KB a recipient
        lines.append(
            f"| Peak memory, {big['recipients']:,} recipients | ≤ 400 MB; grows < 2 KB a"
            f" recipient (issue 11); flat (issue 7) | {big['main_mb']:.0f} MB (render workers"
            f" {big['workers_mb']:.0f} MB each); {small['main_mb']:.0f} MB at"
            f" {small['recipients']:,}: {growth:.1f} KB a recipient |"
            f" ≤ 400 MB {_met(big['main_mb'] <= 400)}; < 2 KB {_met(growth < 2)};"
            f" flat {_met(flat)} |"
        )
    if results.get("rate"):
        errors = [abs(r["error"]) for r in results["rate"]]
        worst = max(r["worst_second"] for r in results["rate"])
        r0 = results["rate"][0]
        lines.append(
            f"| Rate accuracy, `rate = {r0['rate']:g}`, `burst = {r0['burst']}`, over"
            f" {r0['span']:.0f} s | within ±1 %; no 1-s window > {r0['rate'] + r0['burst']:g} |"
            f" error {fmt([e * 100 for e in errors], '.2f', ' %')}; worst 1-s window {worst} |"
            f" {_met(max(errors) <= 0.01 and worst <= r0['rate'] + r0['burst'])} |"
        )
    if results.get("preview"):
        rows = results["preview"]
        small, big = rows[0], rows[-1]
        lines.append(
            f"| `distrib preview`, {small['recipients']:,} → {big['recipients']:,} recipients |"
            f" linear: user CPU a message within 25 % | {small['user_ms_per_message']:.3f} →"
            f" {big['user_ms_per_message']:.3f} ms; {big['recipients']:,} in"
            f" {big['seconds']:.1f} s | {_met(preview_bench.linear(rows))} |"
        )
    if results.get("web_preview"):
        w = results["web_preview"]
        page_ok, message_ok = web_preview.met(w)
        lines.append(
            f"| `distrib ui` preview, {w['recipients']:,} recipients: first page (cold) |"
            f" < 1 s | {w['first_page_seconds'] * 1000:.0f} ms | {_met(page_ok)} |"
        )
        lines.append(
            f"| … one message opened (page + frame), median during / after the background"
            f" check | < 100 ms | {w['during_median_ms']:.0f} / {w['after_median_ms']:.0f} ms"
            f" (max {w['during_max_ms']:.0f} / {w['after_max_ms']:.0f}); check"
            f" {w['check_seconds']:.0f} s | {_met(message_ok)} |"
        )
    if results.get("delaylink"):
        ratios = [r["vs_no_pipelining"] for r in results["delaylink"]["rounds"]]
        lines.append(
            f"| Delayed link ({results['delaylink']['delay_ms']:g} ms each way), one connection:"
            f" PIPELINING ÷ without | ≥ 1.5× (to keep distrib's own SMTP client) |"
            f" {fmt(ratios, '.2f', '×')} | {_met(min(ratios) >= 1.5)} |"
        )
    if results.get("help"):
        lo, mid, hi = startup.summary(results["help"]["times"])
        lines.append(
            f"| `distrib --help` start-up ({results['help']['tool']}) | ≤ 300 ms |"
            f" {lo * 1000:.0f} / **{mid * 1000:.0f}** / {hi * 1000:.0f} ms | {_met(mid <= 0.3)} |"
        )
    if rounds:
        lines += [
            "",
            "Each round (messages per second unless said otherwise):",
            "",
            "| Round | distrib send | ÷ mailmerge | ÷ C | load + plan s | send s | send alone"
            " (render excluded) | C ceiling (sessions) | mailmerge |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for i, r in enumerate(rounds, 1):
            lines.append(
                f"| {i} | {r['distrib']:,.0f} | {r['vs_mailmerge']:.1f}× |"
                f" {r['vs_ceiling'] * 100:.0f} % | {r['plan_seconds']:.1f} |"
                f" {r['send_seconds']:.1f} | {r['prerendered']:,.0f} |"
                f" {r['ceiling']:,.0f} ({r['ceiling_sessions']}) | {r['mailmerge']:,.0f} |"
            )
        lines += [
            "",
            f"Delivery-log changes per commit (group commit, send alone):"
            f" {fmt(col['changes_per_commit'], '.1f')}.",
        ]
        if "distrib_pg" in col:
            lines += [
                "",
                "The same rounds with the delivery log on PostgreSQL (a local cluster the bench"
                " starts, durable defaults: fsync and synchronous commits on):",
                "",
                "| Round | distrib send | ÷ SQLite | load + plan s | send s | send alone"
                " (render excluded) | changes per commit |",
                "|---|---|---|---|---|---|---|",
            ]
            for i, r in enumerate(rounds, 1):
                lines.append(
                    f"| {i} | {r['distrib_pg']:,.0f} | {r['pg_vs_sqlite'] * 100:.0f} % |"
                    f" {r['distrib_pg_seconds'] - r['send_pg_seconds']:.1f} |"
                    f" {r['send_pg_seconds']:.1f} | {r['prerendered_pg']:,.0f} |"
                    f" {r['pg_changes_per_commit']:.1f} |"
                )
    if results.get("memory"):
        lines += [
            "",
            "Peak resident memory of `distrib send --yes` (VmHWM, sampled every 20 ms):",
            "",
            "| Recipients | main process | each render worker | seconds | msg/s |",
            "|---|---|---|---|---|",
        ]
        for r in results["memory"]:
            lines.append(
                f"| {r['recipients']:,} | {r['main_mb']:.0f} MB | {r['workers_mb']:.0f} MB |"
                f" {r['seconds']:.0f} | {r['rate']:,.0f} |"
            )
    if results.get("preview"):
        lines += [
            "",
            "`distrib preview CAMPAIGN --out DIR` (every message's `.eml` and `.html`, and the"
            " index), one run per size; user and kernel CPU from `wait4`:",
            "",
            *preview_bench.markdown(results["preview"]),
        ]
    if results.get("rate"):
        lines += [
            "",
            "Rate-limit runs (the log's `attempts.started_at`, milliseconds):",
            "",
            "| Run | messages | span | achieved | error | worst 1-s window |",
            "|---|---|---|---|---|---|",
        ]
        for i, r in enumerate(results["rate"], 1):
            lines.append(
                f"| {i} | {r['messages']:,} | {r['span']:.2f} s | {r['achieved']:.3f}/s |"
                f" {r['error'] * 100:+.2f} % | {r['worst_second']} |"
            )
    if results.get("profile"):
        lines += [
            "",
            f"Where the time goes: py-spy, `bench.e2e pipeline`, {results['n']:,} recipients"
            " (seconds of samples; the threads of a process are added up):",
            "",
            "| Process | Area | seconds | share |",
            "|---|---|---|---|",
        ]
        for kind, areas in (("sending", results["profile"]["main"]),
                            ("render workers", results["profile"]["workers"])):  # fmt: skip
            for a in areas:
                lines.append(f"| {kind} | {a['name']} | {a['seconds']:.1f} | {a['share']:.0%} |")
    return "\n".join(lines) + "\n"


def _met(ok: bool) -> str:
    return "yes" if ok else "**no**"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--memory",
        default="20000,50000,100000",
        help="recipients of the memory runs, comma-separated ('' to skip)",
    )
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--burst", type=int, default=5)
    parser.add_argument("--rate-seconds", type=float, default=60.0)
    parser.add_argument("--rate-runs", type=int, default=3)
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument(
        "--link-messages",
        type=int,
        default=50,
        help="messages per connection of the delayed-link comparison (0 skips it)",
    )
    parser.add_argument("--link-delay-ms", type=float, default=30.0)
    parser.add_argument(
        "--preview",
        default="5000,10000,20000",
        help="recipients of the `distrib preview` runs, comma-separated ('' to skip)",
    )
    parser.add_argument(
        "--web-preview",
        type=int,
        default=20000,
        help="recipients of the `distrib ui` preview measurement (0 skips it)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="2,000 recipients, 2 rounds, 20-s rate runs, small memory runs",
    )
    parser.add_argument(
        "--write-docs",
        action="store_true",
        help=f"replace the tables between the markers in {DOCS.name}",
    )
    parser.add_argument(
        "--republish",
        action="store_true",
        help="measure nothing: lay out bench/out/results.json again (profile re-summarised)",
    )
    args = parser.parse_args()  # fmt: skip
    if args.republish:
        republish(args.write_docs)
        return
    if args.quick:
        args.recipients, args.rounds, args.memory = 2000, 2, "2000,5000"
        args.rate_seconds, args.rate_runs = 20.0, 1
        args.link_messages = min(args.link_messages, 20)
        args.preview = "1000,2000"
        args.web_preview = min(args.web_preview, 2000)
    command = "make bench" if len(sys.argv) == 1 else "python -m bench " + " ".join(sys.argv[1:])
    started = time.strftime("%Y-%m-%d %H:%M")
    load_before = os.getloadavg()
    OUT.mkdir(parents=True, exist_ok=True)
    work = OUT / "work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    sink, source = tools.postfix_tools()
    ctx: dict[str, Any] = {"n": args.recipients, "work": work, "source": source,
                           "mailmerge": tools.mailmerge()}  # fmt: skip
    results: dict[str, Any] = {"date": started, "command": command, "n": args.recipients,
                               "load_before": load_before}  # fmt: skip
    bindir = pg.find_bindir()
    if bindir is None:
        tools.say(f"bench: no PostgreSQL rounds: {pg.SKIP_REASON}")
    ctx["cluster"] = pg.PostgresCluster.start(bindir, durable=True) if bindir else None
    try:
        with tools.smtp_sink(sink) as port:
            ctx["port"] = port
            measure_all(args, ctx, results)
    finally:
        if ctx["cluster"] is not None:
            ctx["cluster"].stop()
    if args.link_messages:
        tools.say(f"delayed link: {args.link_delay_ms:g} ms each way, one connection")
        results["delaylink"] = delaylink.measure(
            args.link_messages, args.rounds, args.link_delay_ms
        )
    results["machine"] = machine()
    publish(results, write_docs=args.write_docs)


def measure_all(args: argparse.Namespace, ctx: dict[str, Any], results: dict[str, Any]) -> None:
    """Every measurement, the sink running on ``ctx["port"]``."""
    folder = ctx["work"] / "campaign"
    ctx["campaign"] = write_campaign(folder, args.recipients, port=ctx["port"])
    ctx["log"] = folder / "distrib-log.sqlite"
    results["rounds"] = [round_(i, ctx) for i in range(1, args.rounds + 1)]
    sizes = [int(s) for s in args.memory.split(",") if s.strip()]
    results["memory"] = memory(sizes, ctx) if sizes else []
    if args.rate_runs:
        results["rate"] = rate_accuracy(
            args.rate, args.burst, args.rate_seconds, args.rate_runs, ctx
        )
    previews = [int(s) for s in args.preview.split(",") if s.strip()]
    results["preview"] = preview_bench.run(previews, ctx["work"]) if previews else []
    if args.web_preview:
        messages = 50 if args.web_preview >= 20000 else 20
        results["web_preview"] = web_preview.measure(args.web_preview, messages, ctx["work"])
    times, tool = startup.help_times(BIN / "distrib", tools.hyperfine())
    results["help"] = {"times": times, "tool": tool}
    spy = None if args.no_profile else tools.py_spy()
    if spy is not None:
        tools.say("profile: py-spy on the in-process pipeline")
        fresh(ctx["log"])
        raw = OUT / "profile.txt"
        profiling.record(
            spy, [sys.executable, "-m", "bench.e2e", "pipeline", str(ctx["campaign"])], raw
        )
        main_areas, worker_areas = profiling.summarise(raw)
        results["profile"] = {"main": [asdict(a) for a in main_areas],
                              "workers": [asdict(a) for a in worker_areas]}  # fmt: skip


def publish(results: dict[str, Any], *, write_docs: bool) -> None:
    """Write results.json and results.md; with ``write_docs``, the tables in the docs too."""
    (OUT / "results.json").write_text(json.dumps(results, indent=2, default=str))
    text = markdown(results)
    link = results.get("delaylink")
    link_text = delaylink.markdown(link, results["command"]) if link else ""
    (OUT / "results.md").write_text(text + ("\n" + link_text if link_text else ""))
    print(text)
    print(link_text)
    if write_docs and link_text:
        delaylink.write_docs(link_text)
    if write_docs:
        docs = DOCS.read_text(encoding="utf-8")
        if START in docs and END in docs:
            head, _, rest = docs.partition(START)
            _, _, tail = rest.partition(END)
            DOCS.write_text(f"{head}{START}\n{text}{END}{tail}", encoding="utf-8")
        else:
            tools.say(f"bench: no markers in {DOCS}; tables left in {OUT / 'results.md'}")


def republish(write_docs: bool) -> None:
    """Lay out the last run's results again (e.g. after changing the profile's areas): the
    same measurements, re-summarised from ``bench/out/profile.txt``; nothing is measured."""
    results = json.loads((OUT / "results.json").read_text())
    raw = OUT / "profile.txt"
    if results.get("profile") and raw.exists():
        main_areas, worker_areas = profiling.summarise(raw)
        results["profile"] = {"main": [asdict(a) for a in main_areas],
                              "workers": [asdict(a) for a in worker_areas]}  # fmt: skip
    publish(results, write_docs=write_docs)


if __name__ == "__main__":
    main()
