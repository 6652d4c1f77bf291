"""Read-only views over the delivery log: runs, filtered message lists and run reports."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from distrib.deliverylog import DeliveryLog, MessageRow, Run, State
from distrib.errors import RunNotFoundError

__all__ = [
    "LOG_COLUMNS",
    "Report",
    "RunSummary",
    "message_dicts",
    "report",
    "resolve_run",
    "run_summaries",
]

#: Columns of `distrib log` exports, in order.
LOG_COLUMNS = (
    "run",
    "recipient",
    "name",
    "outlet",
    "language",
    "status",
    "reply_code",
    "reply_text",
    "attempts",
    "subject",
    "message_id",
    "provenance",
    "updated_at",
    "sent_at",
)

#: The order states are shown in.
STATE_ORDER = tuple(str(s) for s in State)


@dataclass(frozen=True, slots=True)
class RunSummary:
    """One run with its message counts per state."""

    run: Run
    counts: dict[str, int]

    @property
    def total(self) -> int:
        """All message rows of the run."""
        return sum(self.counts.values())


@dataclass(frozen=True, slots=True)
class Report:
    """What happened in one run, counted by state, language and outlet."""

    run: Run
    by_state: dict[str, int]
    by_language: dict[str, dict[str, int]]
    by_outlet: dict[str, dict[str, int]]
    failures: list[MessageRow] = field(default_factory=list)
    unknown: list[MessageRow] = field(default_factory=list)
    deferred: list[MessageRow] = field(default_factory=list)

    @property
    def total(self) -> int:
        """All message rows of the run."""
        return sum(self.by_state.values())


def resolve_run(log: DeliveryLog, run: str | int | None) -> Run:
    """Return the run named by an id, or the latest run for ``None`` / ``"latest"``."""
    if run is None or run == "latest":
        runs = log.runs()
        if not runs:
            raise RunNotFoundError(f"{log.path}: no runs yet")
        return runs[-1]
    try:
        run_id = int(run)
    except ValueError:
        raise RunNotFoundError(f"not a run id: {run!r} (a number, or 'latest')") from None
    return log.get_run(run_id)


def run_summaries(log: DeliveryLog) -> list[RunSummary]:
    """Return every run with its counts per state, oldest first."""
    return [RunSummary(run, log.counts(run.id)) for run in log.runs()]


def message_dicts(
    log: DeliveryLog, run_id: int, *, states: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """Return a run's messages as plain dicts with the `LOG_COLUMNS` keys."""
    return [
        {
            "run": m.run_id,
            "recipient": m.recipient,
            "name": m.name,
            "outlet": m.outlet,
            "language": m.language,
            "status": m.status,
            "reply_code": m.reply_code,
            "reply_text": m.reply_text,
            "attempts": m.attempts,
            "subject": m.subject,
            "message_id": m.message_id,
            "provenance": m.provenance,
            "updated_at": m.updated_at,
            "sent_at": m.sent_at,
        }
        for m in log.messages(run_id, states=states)
    ]


def report(log: DeliveryLog, run: Run) -> Report:
    """Count a run's messages by state, by language and by outlet."""
    rows = log.messages(run.id)
    by_state = Counter(m.status for m in rows)
    by_language: dict[str, Counter[str]] = defaultdict(Counter)
    by_outlet: dict[str, Counter[str]] = defaultdict(Counter)
    for m in rows:
        by_language[m.language or "?"][m.status] += 1
        by_outlet[m.outlet or "(no outlet)"][m.status] += 1
    return Report(
        run=run,
        by_state=_ordered(by_state),
        by_language={k: _ordered(v) for k, v in sorted(by_language.items())},
        by_outlet={k: _ordered(v) for k, v in sorted(by_outlet.items(), key=_outlet_order)},
        failures=[m for m in rows if m.status == State.FAILED],
        unknown=[m for m in rows if m.status == State.UNKNOWN],
        deferred=[m for m in rows if m.status == State.DEFERRED],
    )


def _ordered(counts: Counter[str]) -> dict[str, int]:
    return {s: counts[s] for s in sorted(counts, key=_state_rank)}


def _state_rank(state: str) -> int:
    return STATE_ORDER.index(state) if state in STATE_ORDER else len(STATE_ORDER)


def _outlet_order(item: tuple[str, Counter[str]]) -> tuple[int, str]:
    return (-sum(item[1].values()), item[0].casefold())
