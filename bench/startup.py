"""How long ``distrib --help`` takes to start: hyperfine when available, else repeated runs."""

from __future__ import annotations

import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path


def help_times(distrib: Path, hyperfine: Path | None, runs: int = 30) -> tuple[list[float], str]:
    """Return the seconds of each run and the tool that measured them."""
    command = f"{distrib} --help"
    if hyperfine is not None:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "help.json"
            subprocess.run(
                [str(hyperfine), "--warmup", "3", "--runs", str(runs), "--export-json",
                 str(out), "--style", "none", command],
                check=True, stdout=subprocess.DEVNULL,
            )  # fmt: skip
            result = json.loads(out.read_text())["results"][0]
            return [float(t) for t in result["times"]], "hyperfine"
    for _ in range(3):
        subprocess.run([str(distrib), "--help"], stdout=subprocess.DEVNULL, check=True)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([str(distrib), "--help"], stdout=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - started)
    return times, "repeated subprocess runs"


def summary(times: list[float]) -> tuple[float, float, float]:
    return min(times), statistics.median(times), max(times)
