"""The preview of `distrib ui` at 20,000 recipients, measured over HTTP against the real server.

    .venv/bin/python -m bench.web_preview [--recipients 20000] [--messages 50] [--quick]

The benchmark campaign (`bench.campaigns`) is written and turned into a workspace with
``distrib migrate``; then ``distrib ui WORKSPACE --no-browser`` is started as a process of its
own (uvicorn on 127.0.0.1, a free port), the address it prints (with its access key) is opened
with httpx, and three things are measured from outside, on the wall clock:

1. **first page** (cold): the first ``GET /releases/SLUG/preview`` after the server started:
   reading the lists, merging them and choosing each recipient's language, then the page of
   the first 100 recipients (no message is rendered for it);
2. **one message on demand**: ``GET /releases/SLUG/preview/N`` and the sandboxed frame it
   points to (what the browser loads when a message is opened), for ``--messages`` recipients
   spread over the list; once while the background check is running (the server's other
   thread renders every message at the same time: what an officer meets in the first minute),
   once after it ended; median and max;
3. **the background check**: from the first page's request (it starts the check) to the check's
   ``end`` event on its SSE stream (``/releases/SLUG/preview/check``), every message rendered
   once.

Targets (issue 16): first page < 1 s, each message < 100 ms.  Nothing here is asserted in the
tests: speed is only measured here.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from bench import tools
from bench.campaigns import write_campaign

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "out"
BIN = Path(sys.executable).parent
_ADDRESS = re.compile(r"(http://\S+)/\?token=(\S+)")


def _workspace(folder: Path, recipients: int) -> tuple[Path, str]:
    """The benchmark campaign as a workspace; (its distrib.toml, the release's slug)."""
    campaign = write_campaign(folder, recipients, port=2525)
    for stale in (folder / "distrib.toml", folder / "releases"):
        if stale.exists():
            raise SystemExit(f"bench: {stale} exists; remove {folder} first")
    command = [str(BIN / "distrib"), "migrate", str(campaign)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"bench: distrib migrate failed:\n{done.stdout}{done.stderr}")
    (slug,) = [p.name for p in (folder / "releases").iterdir() if p.is_dir()]
    return folder / "distrib.toml", slug


def _start_ui(workspace: Path, log: Path) -> tuple[subprocess.Popen[str], str, str, float]:
    """Start ``distrib ui``; return (process, base address, access key, seconds to start)."""
    env = {**os.environ, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "PYTHONUNBUFFERED": "1"}
    started = time.perf_counter()
    process = subprocess.Popen(
        [str(BIN / "distrib"), "ui", str(workspace), "--no-browser"],
        stdout=subprocess.PIPE, stderr=log.open("w"), text=True, env=env,
    )  # fmt: skip
    assert process.stdout is not None
    for line in process.stdout:
        found = _ADDRESS.search(line)
        if found:
            return process, found.group(1), found.group(2), time.perf_counter() - started
    process.wait()
    raise SystemExit(f"bench: distrib ui printed no address; see {log}")


def _cpu_seconds(pid: int) -> float:
    """User and kernel CPU of process ``pid`` and of the children it reaped (``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def _timed_get(client: httpx.Client, path: str) -> tuple[float, httpx.Response]:
    started = time.perf_counter()
    answer = client.get(path)
    seconds = time.perf_counter() - started
    if answer.status_code != 200:
        raise SystemExit(f"bench: GET {path} answered {answer.status_code}:\n{answer.text[:2000]}")
    return seconds, answer


def _open_message(client: httpx.Client, slug: str, number: int) -> float:
    """Open message ``number`` as a browser does: its page, then its frame; seconds."""
    seconds, page = _timed_get(client, f"/releases/{slug}/preview/{number}")
    frame = re.search(r'src="(/frame/[^"]+)"', page.text)
    if frame is None:
        raise SystemExit(f"bench: message {number} has no HTML frame:\n{page.text[:2000]}")
    more, _ = _timed_get(client, frame.group(1))
    return seconds + more


def _follow_check(client: httpx.Client, slug: str, ended: dict[str, Any]) -> None:
    """Read the check's SSE stream until its ``end`` event; note when it came."""
    with client.stream("GET", f"/releases/{slug}/preview/check", timeout=None) as answer:
        event = ""
        for line in answer.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "end":
                ended["at"] = time.perf_counter()
                ended["state"] = json.loads(line[6:])
                return


def measure(recipients: int, messages: int, work: Path) -> dict[str, Any]:
    """One cold start of `distrib ui` on a ``recipients`` workspace; the figures."""
    folder = work / f"web-preview-{recipients}"
    if folder.exists():
        import shutil

        shutil.rmtree(folder)
    tools.say(f"web preview: workspace of {recipients} recipients")
    workspace, slug = _workspace(folder, recipients)
    load_before = os.getloadavg()[0]
    process, base, token, start_seconds = _start_ui(workspace, folder / "ui-stderr.txt")
    try:
        client = httpx.Client(base_url=base, timeout=600)
        signed = client.get(f"/?token={token}")
        if signed.status_code != 303:
            raise SystemExit(f"bench: signing in answered {signed.status_code}")
        tools.say("web preview: first page (cold)")
        cpu_before = _cpu_seconds(process.pid)
        asked = time.perf_counter()
        first_page, page = _timed_get(client, f"/releases/{slug}/preview")
        first_page_cpu = _cpu_seconds(process.pid) - cpu_before
        total = int(re.findall(r"/releases/[^/]+/preview/(\d+)", page.text)[-1])
        ended: dict[str, Any] = {}
        watcher = threading.Thread(target=_follow_check, args=(client, slug, ended))
        watcher.start()
        listed = _count(client, slug)
        spread = sorted({1 + i * (listed - 1) // max(1, messages - 1) for i in range(messages)})
        tools.say(f"web preview: {len(spread)} messages while the check runs")
        during = [_open_message(client, slug, n) for n in spread]
        done_during = "at" not in ended
        watcher.join()
        check_seconds = ended["at"] - asked
        tools.say(f"web preview: {len(spread)} messages after the check")
        after = [_open_message(client, slug, n) for n in spread]
        client.close()
    finally:
        process.terminate()
        process.wait(timeout=60)
    row = {
        "recipients": recipients,
        "listed": listed,
        "first_listed": total,
        "start_seconds": start_seconds,
        "first_page_seconds": first_page,
        "first_page_cpu_seconds": first_page_cpu,
        "messages": len(spread),
        "during_median_ms": statistics.median(during) * 1000,
        "during_max_ms": max(during) * 1000,
        "during_all_before_end": done_during,
        "during_ms": [round(t * 1000, 1) for t in during],
        "after_median_ms": statistics.median(after) * 1000,
        "after_max_ms": max(after) * 1000,
        "check_seconds": check_seconds,
        "check_problems": ended["state"].get("problems"),
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
    }
    tools.say(
        f"  first page {first_page * 1000:.0f} ms; a message {row['during_median_ms']:.0f} ms"
        f" (max {row['during_max_ms']:.0f}) during the check, {row['after_median_ms']:.0f} ms"
        f" (max {row['after_max_ms']:.0f}) after; check {check_seconds:.1f} s"
    )
    return row


def _count(client: httpx.Client, slug: str) -> int:
    """How many recipients the preview lists (the number of the last page's last entry)."""
    _, page = _timed_get(client, f"/releases/{slug}/preview?page=100000")
    return int(re.findall(r"/releases/[^/]+/preview/(\d+)", page.text)[-1])


def met(row: dict[str, Any]) -> tuple[bool, bool]:
    """(first page < 1 s, each message < 100 ms at the median during and after the check)."""
    page = row["first_page_seconds"] < 1.0
    message = row["during_median_ms"] < 100 and row["after_median_ms"] < 100
    return page, message


def markdown(row: dict[str, Any], command: str) -> list[str]:
    """The section's table."""
    return [
        f"Measured with `{command}`; load average {row['load_before']:.1f} before and"
        f" {row['load_after']:.1f} after (a shared 2-core machine).",
        "",
        "| Recipients | server start | first page (cold) | its CPU in the server |"
        " a message during the check (median / max) | a message after it (median / max) |"
        " background check |",
        "|---|---|---|---|---|---|---|",
        f"| {row['recipients']:,} ({row['listed']:,} listed) | {row['start_seconds']:.2f} s |"
        f" {row['first_page_seconds'] * 1000:.0f} ms |"
        f" {row.get('first_page_cpu_seconds', float('nan')) * 1000:.0f} ms |"
        f" {row['during_median_ms']:.0f} /"
        f" {row['during_max_ms']:.0f} ms | {row['after_median_ms']:.0f} /"
        f" {row['after_max_ms']:.0f} ms | {row['check_seconds']:.1f} s |",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=20000)
    parser.add_argument("--messages", type=int, default=50)
    parser.add_argument("--quick", action="store_true", help="2,000 recipients, 20 messages")
    args = parser.parse_args()
    if args.quick:
        args.recipients, args.messages = 2000, 20
    work = OUT / "work"
    work.mkdir(parents=True, exist_ok=True)
    row = measure(args.recipients, args.messages, work)
    (OUT / "web_preview.json").write_text(json.dumps(row, indent=2))
    command = "python -m bench.web_preview " + " ".join(sys.argv[1:])
    print("\n".join(markdown(row, command.strip())))
    page, message = met(row)
    print(f"first page < 1 s: {page}; each message < 100 ms: {message}")


if __name__ == "__main__":
    main()
