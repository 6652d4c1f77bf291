"""One end-to-end send of a benchmark campaign, measured in this process; prints one JSON line.

    .venv/bin/python -m bench.e2e pipeline CAMPAIGN [--render-workers N] [--plan-workers N]
    .venv/bin/python -m bench.e2e prerendered CAMPAIGN

``pipeline`` does what ``distrib send CAMPAIGN --yes`` does (load the campaign, plan: merge and
render every message once, record the run, send: render again in worker processes, SMTP, log
committed), timed from loading the campaign to the last commit.  ``prerendered`` plans and
records the run the same way, renders every message first (not timed), then times the sending
engine alone: SMTP and the delivery log, the send path's own ceiling without rendering.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import resource
import time
from pathlib import Path

from distrib.app.pipeline import make_plan, send_run, start_run
from distrib.config import load_campaign
from distrib.deliverylog import open_log
from distrib.send import Outgoing, send_messages


def _rss_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # Linux: KB


def pipeline(campaign_file: Path, render_workers: int | None, plan_workers: int | None) -> dict:
    started = time.perf_counter()
    campaign = load_campaign(campaign_file)
    with open_log(campaign.log_target) as log:
        plan = make_plan(campaign, log=log, workers=plan_workers)
        planned = time.perf_counter()
        assert not plan.problems, plan.problems[:3]
        run = start_run(plan, log)
        recorded = time.perf_counter()
        outcome = send_run(plan, log, run, handle_signals=False, render_workers=render_workers)
        finished = time.perf_counter()
        counts = log.counts(run.id)
    report = outcome.report
    assert counts.get("sent") == len(plan.messages), counts
    return {
        "messages": report.sent,
        "seconds": finished - started,
        "plan_seconds": planned - started,
        "record_seconds": recorded - planned,
        "send_seconds": finished - recorded,
        "log_commits": report.log_commits,
        "rss_mb": _rss_mb(resource.RUSAGE_SELF),
        "children_rss_mb": _rss_mb(resource.RUSAGE_CHILDREN),
        "size": sum(m.size for m in plan.messages) / max(1, len(plan.messages)),
    }


def prerendered(campaign_file: Path) -> dict:
    from distrib.renderpool import Job, RenderPool

    campaign = load_campaign(campaign_file)
    with open_log(campaign.log_target) as log:
        plan = make_plan(campaign, log=log)
        run = start_run(plan, log)
        contacts = [m.contact for m in plan.messages]
        index = {c.key: i for i, c in enumerate(contacts)}
        jobs = [Job(index[r.key], r.id, r.message_id or "") for r in log.to_send(run.id)]

        async def render_all() -> list[Outgoing]:
            return [
                Outgoing(r.row, r.envelope_from, r.recipient, r.data, r.message_id)
                async for r in pool.stream(jobs)
            ]

        with RenderPool(plan.renderer, contacts) as pool:
            outgoing = asyncio.run(render_all())
        log.set_run_status(run.id, "sending")
        gc.collect()
        gc.freeze()  # as `send_run` does
        started = time.perf_counter()
        report = asyncio.run(
            send_messages(
                outgoing, log=log, smtp=campaign.smtp, limits=campaign.limits, password=None,
                total=len(outgoing),
            )
        )  # fmt: skip
        finished = time.perf_counter()
        assert log.counts(run.id).get("sent") == len(outgoing)
    return {
        "messages": report.sent,
        "seconds": finished - started,
        "log_commits": report.log_commits,
        "rss_mb": _rss_mb(resource.RUSAGE_SELF),
        "size": sum(len(o.data) for o in outgoing) / max(1, len(outgoing)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["pipeline", "prerendered"])
    parser.add_argument("campaign", type=Path)
    parser.add_argument("--render-workers", type=int, default=None)
    parser.add_argument("--plan-workers", type=int, default=None)
    args = parser.parse_args()
    if args.mode == "pipeline":
        result = pipeline(args.campaign, args.render_workers, args.plan_workers)
    else:
        result = prerendered(args.campaign)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
