"""`distrib preview` (writing every message and the index) at several list sizes, in one run.

    .venv/bin/python -m bench.preview [--sizes 5000,10000,20000]

Each size gets its own benchmark campaign (`bench.campaigns`) and one run of the real command,
``distrib preview CAMPAIGN --out DIR`` into a fresh folder under ``bench/out/work``, measured
from outside (`bench.measure`): wall time, CPU time in user mode and in the kernel, peak memory.
The preview should grow linearly: the CPU time per recipient should not rise with the list.
The kernel's share is mostly creating the files (two per recipient); on a shared virtual
machine it varies from run to run, so it is shown apart.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

from bench import measure, tools
from bench.campaigns import write_campaign

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "out"


def run(sizes: list[int], work: Path) -> list[dict[str, Any]]:
    """Write a campaign per size and time ``distrib preview`` on it; return one row per size."""
    found = []
    for n in sizes:
        folder = work / f"preview-{n}"
        campaign = write_campaign(folder, n, port=2525)
        out = folder / "preview"
        shutil.rmtree(out, ignore_errors=True)
        tools.say(f"preview: distrib preview, {n} recipients")
        got = measure.run(
            [sys.executable, "-m", "distrib", "preview", str(campaign), "--out", str(out)],
            log=folder / "preview.txt",
        )
        if got.returncode != 0:
            raise SystemExit(f"bench: distrib preview failed ({got.returncode}); see {folder}")
        written = len(list(out.glob("*.eml")))
        row = {
            "recipients": n,
            "messages": written,
            "seconds": got.seconds,
            "user": got.user,
            "system": got.system,
            "mb": got.main_mb,
            "cpu_ms_per_message": (got.user + got.system) * 1000 / written,
            "user_ms_per_message": got.user * 1000 / written,
        }
        found.append(row)
        tools.say(
            f"  {got.seconds:.1f} s (user {got.user:.1f} s, kernel {got.system:.1f} s),"
            f" {row['user_ms_per_message']:.2f} ms of user CPU a message, {got.main_mb:.0f} MB"
        )
        shutil.rmtree(out, ignore_errors=True)  # 13 KB a recipient on disk
    return found


def markdown(rows: list[dict[str, Any]]) -> list[str]:
    """The preview's table, and whether its user CPU per message stayed flat."""
    lines = [
        "| Recipients | messages written | wall s | user CPU s | kernel s | user ms / message"
        " | peak MB |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['recipients']:,} | {r['messages']:,} | {r['seconds']:.1f} | {r['user']:.1f} |"
            f" {r['system']:.1f} | {r['user_ms_per_message']:.3f} | {r['mb']:.0f} |"
        )
    return lines


def linear(rows: list[dict[str, Any]]) -> bool:
    """User CPU per message at the largest size within 25 % of the smallest size's."""
    small, big = rows[0], rows[-1]
    return big["user_ms_per_message"] <= small["user_ms_per_message"] * 1.25


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="5000,10000,20000")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    work = OUT / "work"
    work.mkdir(parents=True, exist_ok=True)
    rows = run(sizes, work)
    (OUT / "preview.json").write_text(json.dumps(rows, indent=2))
    print("\n".join(markdown(rows)))
    print(f"linear (user CPU per message within 25 %): {linear(rows)}")


if __name__ == "__main__":
    main()
