"""The contacts a release goes to: the merged lists, minus every suppression the delivery log
holds, narrowed to the release's audience — the same for check, preview, test send and send.

A release's audience is the AND of its rules, from, in this order:

- its settings (``[audience]`` of ``release.toml``, or of a campaign file): ``segment`` (saved
  rules of the workspace file's ``[segments.NAME]``), ``include``, ``exclude``, ``received`` /
  ``not_received`` (the people another release of the same log went to, or did not);
- the command line (`Selection`): ``--only COLUMN=VALUE[,VALUE…]`` and ``--exclude …``, where
  COLUMN may also be ``segment`` or ``received``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from distrib.errors import AudienceError, InvalidRequestError, Location, Problem

if TYPE_CHECKING:
    from distrib.config import AudienceRules, Campaign
    from distrib.contacts.audience import KeyRule, Rule
    from distrib.contacts.model import ContactBook
    from distrib.deliverylog import DeliveryLog

__all__ = ["Selection", "audience_rules", "load_audience"]


@dataclass(frozen=True, slots=True)
class Selection:
    """Audience rules given with a command: ``--only`` and ``--exclude`` as typed
    (``beat=Culture``, ``region=Montréal,Laval``, ``segment=culture``, ``received=SLUG``)."""

    only: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.only or self.exclude)

    @classmethod
    def of(cls, only: Sequence[str] | None, exclude: Sequence[str] | None) -> Selection:
        """Build one from the options an interface received (None: not given)."""
        return cls(tuple(only or ()), tuple(exclude or ()))


def _rules_file(campaign: Campaign) -> Path:
    """The file holding the release's ``[audience]``."""
    if campaign.workspace is None:
        return campaign.file
    from distrib.workspace import RELEASE_FILE

    return campaign.release / RELEASE_FILE


def _where(path: Path) -> Location:
    from distrib.config import display_path

    return Location(display_path(path))


def _field_rules(rules: AudienceRules, prefix: str, where: Location | None) -> list[Rule]:
    from distrib.contacts.audience import Rule

    found: list[Rule] = []
    for exclude, table in ((False, rules.include), (True, rules.exclude)):
        kind = "exclude" if exclude else "include"
        for column, values in table.items():
            label = f"{prefix}{kind} {column}={','.join(values)}"
            found.append(Rule(label, column, tuple(values), exclude=exclude, where=where))
    return found


def _segment_rules(campaign: Campaign, name: str, label: str) -> list[Rule]:
    segment = campaign.segments.get(name)
    if segment is None:
        known = ", ".join(sorted(campaign.segments)) or "none: add [segments.NAME]"
        message = f"{label}: no segment {name!r} (segments: {known})"
        raise AudienceError([Problem(message, _where(campaign.file), "audience-segment")])
    return _field_rules(segment, f"segment {name}: ", _where(campaign.file))


def _log_name(campaign: Campaign, release: str) -> str:
    """The log's key for release ``release`` of the campaign's workspace (its ``name``)."""
    if campaign.workspace is None:
        return release
    from distrib.workspace import RELEASE_FILE, RELEASES, check_slug

    settings = campaign.workspace.parent / RELEASES / release / RELEASE_FILE
    if check_slug(release) is not None or not settings.is_file():
        return release
    from distrib.config import read_toml

    name = read_toml(settings, "release file").get("name")
    return name if isinstance(name, str) and name else release


def _received_rule(
    campaign: Campaign, release: str, *, exclude: bool, label: str, log: DeliveryLog | None
) -> KeyRule:
    """The people a release was sent to (``exclude``: everyone but them)."""
    from distrib.contacts.audience import KeyRule

    name = _log_name(campaign, release)
    if log is None:
        from distrib.deliverylog import is_url, open_log

        target = campaign.log_target
        if not is_url(target) and (not Path(target).is_file() or Path(target).stat().st_size == 0):
            message = f"{label}: nothing was sent yet (no delivery log at {target})"
            raise AudienceError([Problem(message, None, "audience-received")])
        with open_log(target, read_only=True) as reading:
            return _received_rule(campaign, release, exclude=exclude, label=label, log=reading)
    keys = log.earlier_outcomes(name).sent
    if not keys:
        sent = sorted({run.campaign for run in log.runs()} - {campaign.name})
        known = ", ".join(sent) or "none"
        message = f"{label}: release {release!r} was sent to nobody in this log (releases: {known})"
        raise AudienceError([Problem(message, None, "audience-received")])
    return KeyRule(label, frozenset(keys), exclude=exclude)


def _option_rules(
    campaign: Campaign, text: str, *, exclude: bool, log: DeliveryLog | None
) -> list[Rule | KeyRule]:
    from distrib.contacts.audience import Rule

    option = "--exclude" if exclude else "--only"
    column, equals, values = text.partition("=")
    column = column.strip()
    wanted = tuple(v.strip() for v in values.split(",") if v.strip())
    if not equals or not column or not wanted:
        raise InvalidRequestError(
            f"{option} {text!r}: write COLUMN=VALUE (or VALUE,VALUE), e.g. {option} beat=Culture"
        )
    label = f"{option} {column}={','.join(wanted)}"
    key = column.casefold()
    if key in ("received", "recu", "reçu"):
        return [
            _received_rule(campaign, release, exclude=exclude, label=label, log=log)
            for release in wanted
        ]
    if key == "segment":
        if exclude or len(wanted) != 1:
            raise InvalidRequestError(
                f"{option} {text!r}: name one segment with --only segment=NAME (to leave people"
                " out, use --exclude COLUMN=VALUE)"
            )
        return list(_segment_rules(campaign, wanted[0], label))
    return [Rule(label, column, wanted, exclude=exclude)]


def audience_rules(
    campaign: Campaign, selection: Selection | None = None, *, log: DeliveryLog | None = None
) -> list[Rule | KeyRule]:
    """Every rule of the release's audience, in order (see the module's docstring)."""
    audience = campaign.audience
    where = _where(_rules_file(campaign))
    rules: list[Rule | KeyRule] = []
    for name in audience.segment:
        rules += _segment_rules(campaign, name, f"audience.segment {name}")
    rules += _field_rules(audience, "audience.", where)
    for release, exclude in ((audience.received, False), (audience.not_received, True)):
        if release is not None:
            label = f"audience.{'not_received' if exclude else 'received'} {release}"
            rules.append(_received_rule(campaign, release, exclude=exclude, label=label, log=log))
    for text in selection.only if selection else ():
        rules += _option_rules(campaign, text, exclude=False, log=log)
    for text in selection.exclude if selection else ():
        rules += _option_rules(campaign, text, exclude=True, log=log)
    return rules


def load_audience(
    campaign: Campaign,
    selection: Selection | None = None,
    *,
    log: DeliveryLog | None = None,
    check_mx: bool | None = None,
    suppressed_before: str | None = None,
) -> ContactBook:
    """The release's contacts: the merged lists, minus the suppression lists and the delivery
    log's opt-outs and hard bounces, narrowed to the audience.

    ``log``: the open delivery log (a send); None reads the campaign's log, if there is one,
    without writing to it (check, preview).  ``suppressed_before`` (an ISO time, with ``log``):
    apply only the log's entries recorded until then (the audience as a run planned then saw it).
    """
    from distrib.contacts import load_contacts

    if log is not None and suppressed_before is not None:
        from distrib.deliverylog.records import suppression_entries

        limit = datetime.fromisoformat(suppressed_before)
        suppressed = suppression_entries(
            [s for s in log.suppressions() if datetime.fromisoformat(s.created_at) <= limit]
        )
    elif log is not None:
        suppressed = log.suppression_entries()
    else:
        from distrib.deliverylog import logged_suppressions

        suppressed = logged_suppressions(campaign.log_target)
    rules = audience_rules(campaign, selection, log=log)
    return load_contacts(campaign, extra_suppression=suppressed, check_mx=check_mx, audience=rules)
