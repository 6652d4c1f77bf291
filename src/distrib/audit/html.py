"""The HTML run report: one self-contained file (inline CSS and SVG, no script, nothing fetched).

An officer attaches it to an email to their director, so it must open anywhere, offline, on a
phone, and print well, and name the release (its title and subject in each language), not only
the campaign; it lists who received it (a table that opens on a click, no script).  It is
written in French or in English (`distrib.i18n`: ``distrib --lang fr report --html …``).
Everything from the log (names, outlets, SMTP replies, bounce texts) is untrusted and goes
through Jinja2 with autoescaping on; the chart is plain SVG whose geometry is computed here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from importlib import resources
from typing import Any

from jinja2 import Environment, StrictUndefined

from distrib import __version__
from distrib.audit.report import OUTCOMES, Report, Timeline, resolve_commands
from distrib.audit.times import format_time
from distrib.deliverylog import LogEntry
from distrib.i18n import Translator, translator

__all__ = ["Bar", "Chart", "chart", "render_html"]

WIDTH, HEIGHT = 920, 280
LEFT, RIGHT, TOP, BOTTOM = 56, 36, 18, 42

_TICK_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 43200)

#: States that were never handed to the relay.
NOT_SENT = ("skipped", "suppressed", "rejected")

#: What the recipients table shows of each message (with the relay's reply).
_RECIPIENT_COLUMNS = ("recipient", "name", "outlet", "language", "status")


def N_(message: str) -> str:  # gettext's name for "mark for translation"
    """Mark ``message`` for the catalogue; it is translated where it is shown."""
    return message


#: The states as a director reads them (the badges keep the log's own word as a class).
STATE_NAMES = {
    "sent": N_("sent"), "bounced": N_("bounced"), "failed": N_("failed"),
    "deferred": N_("deferred"), "unknown": N_("unknown"), "ready": N_("ready"),
    "sending": N_("sending"), "data": N_("data"), "skipped": N_("skipped"),
    "suppressed": N_("suppressed"), "rejected": N_("rejected"), "test": N_("test"),
}  # fmt: skip

#: Run statuses, likewise.
RUN_STATUSES = {
    "planned": N_("planned"), "sending": N_("sending"), "finished": N_("finished"),
    "stopped": N_("stopped"), "paused": N_("paused"), "aborted": N_("aborted"),
}  # fmt: skip

#: How the relay connection was protected.
SECURITY_NAMES = {
    "none": N_("not encrypted"),
    "starttls": N_("STARTTLS, required"),
    "tls": N_("TLS"),
}

_ENGLISH = translator("en")


@dataclass(frozen=True, slots=True)
class Bar:
    """One stacked segment of the timeline: an outcome's messages in one time bin."""

    x: float
    y: float
    width: float
    height: float
    outcome: str
    label: str


@dataclass(frozen=True, slots=True)
class Chart:
    """SVG geometry of a timeline, in user units of a ``WIDTH`` x ``HEIGHT`` viewBox."""

    bars: tuple[Bar, ...]
    rate_y: float | None
    y_ticks: tuple[tuple[float, str], ...]
    x_ticks: tuple[tuple[float, str], ...]
    summary: str

    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    top: int = TOP
    plot_width: int = WIDTH - LEFT - RIGHT
    plot_height: int = HEIGHT - TOP - BOTTOM

    @property
    def baseline(self) -> int:
        """The y of the time axis."""
        return self.top + self.plot_height


def _nice(value: float) -> float:
    """Round ``value`` up to 1, 2 or 5 times a power of ten."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return float(next(m * power for m in (1, 2, 5, 10) if m * power >= value))


def _number(value: float) -> str:
    return f"{value:g}" if value >= 1 or value == 0 else f"{value:.2g}"


def chart(line: Timeline, zone: tzinfo | None, t: Translator = _ENGLISH) -> Chart:
    """Lay out ``line`` as stacked bars with the rate limit as a horizontal line."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top_value = max(line.peak, line.rate or 0.0) * 1.1
    step = _nice(top_value / 5)
    y_max = step * max(1, math.ceil(top_value / step))

    def y_of(value: float) -> float:
        return TOP + plot_h * (1 - value / y_max)

    bars: list[Bar] = []
    count = len(line.bins)
    slot = plot_w / count if count else plot_w
    gap = 1.0 if slot > 4 else 0.0
    for index, counts in enumerate(line.bins):
        base = 0.0
        when = _clock(line, index, zone)
        for outcome in OUTCOMES:
            n = counts.get(outcome, 0)
            if not n:
                continue
            value = n / line.bin_seconds
            top = y_of(base + value)
            bars.append(
                Bar(
                    x=round(LEFT + index * slot + gap / 2, 2),
                    y=round(top, 2),
                    width=round(max(slot - gap, 0.6), 2),
                    height=round(y_of(base) - top, 2),
                    outcome=outcome,
                    label=f"{when}: {n} {t.gettext(STATE_NAMES[outcome])} ({_number(value)}/s)",
                )
            )
            base += value
    ticks = range(round(y_max / step) + 1)
    y_ticks = tuple((round(y_of(i * step), 2), _number(i * step)) for i in ticks)
    return Chart(
        bars=tuple(bars),
        rate_y=round(y_of(line.rate), 2) if line.rate else None,
        y_ticks=y_ticks,
        x_ticks=_x_ticks(line, zone, plot_w),
        summary=_summary(line, zone, t),
    )


def _clock(line: Timeline, index: int, zone: tzinfo | None) -> str:
    if line.start is None:
        return ""
    moment = (line.start + timedelta(seconds=index * line.bin_seconds)).astimezone(zone)
    return f"{moment:%H:%M:%S}"


def _x_ticks(line: Timeline, zone: tzinfo | None, plot_w: float) -> tuple[tuple[float, str], ...]:
    if line.start is None or not line.bins:
        return ()
    span = line.duration
    every = next((s for s in _TICK_STEPS if span / s <= 8), _TICK_STEPS[-1])
    every = max(every, line.bin_seconds)
    ticks = []
    for second in range(0, int(span) + 1, every):
        moment = (line.start + timedelta(seconds=second)).astimezone(zone)
        ticks.append((round(LEFT + plot_w * second / span, 2), f"{moment:%H:%M:%S}"))
    return tuple(ticks)


def _summary(line: Timeline, zone: tzinfo | None, t: Translator = _ENGLISH) -> str:
    if not line.bins:
        return t.gettext("No SMTP attempt finished in this run.")
    if line.bin_seconds == 1:
        unit = t.gettext("second")
    else:
        unit = t.gettext("{n} seconds").format(n=line.bin_seconds)
    peak_at = line.peak_at
    when = ""
    if peak_at is not None:
        when = t.gettext(" at {time}").format(time=f"{peak_at.astimezone(zone):%H:%M:%S}")
    if line.rate:
        limit = t.gettext("rate limit {rate}/s").format(rate=_number(line.rate))
    else:
        limit = t.gettext("no rate limit configured")
    return t.gettext(
        "{n} attempt(s) over {duration}, counted per {unit}; peak {peak}/s{when}; {limit}."
    ).format(
        n=line.total,
        duration=_duration(line.duration),
        unit=unit,
        peak=_number(line.peak),
        when=when,
        limit=limit,
    )


def _duration(seconds: float) -> str:
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


def _environment(t: Translator) -> Environment:
    env = Environment(
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_callables(t.gettext, t.ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters["when"] = format_time
    env.globals["state_name"] = lambda state: t.gettext(STATE_NAMES.get(str(state), str(state)))
    env.globals["security_name"] = lambda security: t.gettext(
        SECURITY_NAMES.get(str(security), str(security))
    )
    env.globals["run_status"] = lambda status: t.gettext(RUN_STATUSES.get(str(status), str(status)))
    return env


def render_html(
    rep: Report, *, zone: tzinfo | None = None, source: str = "", language: str = "en"
) -> str:
    """Return the report as one self-contained HTML document, in ``language`` (fr or en)."""
    t = translator(language)
    template_text = resources.files("distrib.audit").joinpath("report.html.j2").read_text("utf-8")
    template = _environment(t).from_string(template_text)
    run = rep.run
    started, finished = run.started_at, run.finished_at
    duration = None
    if started and finished:
        duration = _duration(
            (datetime.fromisoformat(finished) - datetime.fromisoformat(started)).total_seconds()
        )
    if rep.recipients is None:
        raise ValueError(
            "the HTML report lists the recipients: make it with report(..., recipients=True)"
        )
    sent = rep.by_state.get("sent", 0)
    tried = rep.total - sum(rep.by_state.get(s, 0) for s in NOT_SENT)
    context: dict[str, Any] = {
        "rep": rep,
        "run": run,
        "zone": zone,
        "zone_name": _zone_name(zone, t),
        "language": t.language,
        "duration": duration,
        "chart": chart(rep.timeline, zone, t),
        "release": _release_rows(rep),
        "recipients": [{**m.row(_RECIPIENT_COLUMNS), "reply": _reply(m)} for m in rep.recipients],
        "timeline": rep.timeline,
        "delivered": sent,
        "tried": tried,
        "delivered_pct": f"{100 * sent / tried:.1f}" if tried else None,
        "not_sent": sum(rep.by_state.get(s, 0) for s in NOT_SENT),
        "outcomes": OUTCOMES,
        "outlets": [_group_row(name, counts) for name, counts in rep.by_outlet.items()],
        "languages": [_group_row(name, counts) for name, counts in rep.by_language.items()],
        "resolve": {m.id: resolve_commands(run.id, m.address) for m in rep.unknown},
        "generated": format_time(datetime.now(UTC).isoformat(), zone),
        "version": __version__,
        "source": source,
        "rate": rep.timeline.rate,
        "rate_text": _number(rep.timeline.rate) if rep.timeline.rate else "",
    }
    return template.render(context)


def _group_row(name: str, counts: dict[str, int]) -> dict[str, Any]:
    total = sum(counts.values())
    not_sent = sum(counts.get(s, 0) for s in NOT_SENT)
    tried = total - not_sent
    sent = counts.get("sent", 0)
    bounced = counts.get("bounced", 0)
    failed = counts.get("failed", 0)
    return {
        "name": name,
        "total": total,
        "sent": sent,
        "bounced": bounced,
        "failed": failed,
        "other": tried - sent - bounced - failed,
        "not_sent": not_sent,
        "pct": f"{100 * sent / tried:.0f} %" if tried else "–",
    }


def _zone_name(zone: tzinfo | None, t: Translator = _ENGLISH) -> str:
    if zone is None:
        return t.gettext("local time ({zone})").format(zone=datetime.now().astimezone().tzname())
    return str(zone)


def _release_rows(rep: Report) -> list[dict[str, str]]:
    """The release per language (fr, en, then others), as the run recorded it."""
    return [{"language": language, **values} for language, values in rep.release.items()]


def _reply(message: LogEntry) -> str:
    """What the relay answered (or the bounce that came back), as one line."""
    parts: list[object]
    if message.bounce:
        parts = [message.bounce_status, message.bounce_reply]
    else:
        parts = [message.reply_code, message.enhanced_code, message.reply_text]
    words = [str(p) for p in parts if p]
    text = " ".join(w for i, w in enumerate(words) if not any(w in o for o in words[i + 1 :]))
    return text or "–"
