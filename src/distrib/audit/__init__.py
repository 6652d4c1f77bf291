"""Read-only views over the delivery log: runs, filtered message lists, histories and reports.

::

    queries   runs, messages with their last attempt and worst bounce, attempts, one person
    report    counts by state, language and outlet; problems; the timeline of a run
    html      the self-contained HTML report (inline CSS and SVG, autoescaped)
    times     stored UTC <-> the zone the officer names; filters refuse times without a zone
"""

from distrib.audit.queries import (
    ATTEMPT_COLUMNS,
    LOG_COLUMNS,
    RESOLUTION_COLUMNS,
    AttemptEntry,
    History,
    LogEntry,
    LogFilter,
    RunSummary,
    attempt_entries,
    history,
    log_columns,
    log_entries,
    message_entries,
    resolve_run,
    rows,
    run_summaries,
)
from distrib.audit.report import (
    STATE_ORDER,
    Report,
    Timeline,
    report,
    resolve_commands,
    timeline,
)
from distrib.audit.times import format_time, in_zone, parse_instant, parse_zone

__all__ = [
    "ATTEMPT_COLUMNS",
    "LOG_COLUMNS",
    "RESOLUTION_COLUMNS",
    "STATE_ORDER",
    "AttemptEntry",
    "History",
    "LogEntry",
    "LogFilter",
    "Report",
    "RunSummary",
    "Timeline",
    "attempt_entries",
    "format_time",
    "history",
    "in_zone",
    "log_columns",
    "log_entries",
    "message_entries",
    "parse_instant",
    "parse_zone",
    "report",
    "resolve_commands",
    "resolve_run",
    "rows",
    "run_summaries",
    "timeline",
]
