"""Relay presets: each provider's submission host, port, security, sign-in and documented limits.

``relay = "microsoft365"`` fills what the provider documents; every value can still be set
explicitly, and the explicit value wins (`merge`).  Each limit carries where it comes from and
when the project last reviewed it, because providers change them: every figure reads "as
documented by the provider, last reviewed <date> — verify for your plan" (`Figure.describe`,
shown by ``distrib relay check`` and in docs/relays.md).  The review was of the figures the
providers' documentation gives as quoted in the project's issue 15, not a fresh visit to the
providers' pages: nothing here claims a check that was not made.  A limit that is an *account
setting* (Amazon SES quotas, Mailgun and Postmark plans) has no value here: the officer reads it
in the provider's console and sets it.

This module is data and one pure function; it reads no file and imports nothing heavy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal

from distrib.relay.errors import PresetError

__all__ = [
    "PRESETS",
    "Figure",
    "Preset",
    "RelaySettings",
    "merge",
    "preset",
    "quotas",
]

Security = Literal["starttls", "tls", "none"]
PresetName = Literal[
    "microsoft365", "google-workspace", "amazon-ses", "mailgun", "postmark", "custom"
]
#: When the project last reviewed the figures below (see the module's docstring).
REVIEWED = "2026-12-03"


@dataclass(frozen=True, slots=True)
class Figure:
    """One documented figure: its value (None: an account setting), its source and date."""

    value: int | None
    source: str
    reviewed: str = REVIEWED
    note: str = ""

    def describe(self) -> str:
        """ "30 (as documented by the provider, last reviewed 2026-12-03 — verify for your plan;
        …)" or "an account setting (…)"."""
        shown = f"{self.value:,}" if self.value is not None else "an account setting"
        note = f"; {self.note}" if self.note else ""
        return (
            f"{shown} (as documented by the provider, last reviewed {self.reviewed} — verify for"
            f" your plan; {self.source}{note})"
        )


@dataclass(frozen=True, slots=True)
class Preset:
    """What one provider documents for message submission."""

    name: str
    label: str
    host: str | None
    port: int
    security: Security
    auth: tuple[str, ...]  # SASL mechanisms to use, in order of preference
    oauth: Literal["microsoft365", "google-workspace"] | None = None
    per_minute: Figure | None = None
    per_hour: Figure | None = None
    per_day: Figure | None = None  # messages a day
    recipients_per_day: Figure | None = None
    max_message_mb: Figure | None = None
    imap_host: str | None = None
    regions: tuple[str, ...] = ()  # hosts with a {region} part: the known regions
    notes: tuple[str, ...] = ()


_M365 = "Exchange Online limits, learn.microsoft.com/office365/servicedescriptions/exchange-online-service-description/exchange-online-limits"  # noqa: E501
_GOOGLE = "Google Workspace Admin Help, 'Gmail sending limits in Google Workspace' (support.google.com/a/answer/166852)"  # noqa: E501
_GOOGLE_SIZE = "Gmail Help, attachment size limit (support.google.com/mail/answer/6584)"
_SES = (
    "Amazon SES Developer Guide, 'Service quotas' (docs.aws.amazon.com/ses/latest/dg/quotas.html)"
)
_MAILGUN = "Mailgun documentation, 'Sending limits' and SMTP (documentation.mailgun.com)"
_POSTMARK = "Postmark developer documentation, SMTP (postmarkapp.com/developer/user-guide/send-email-with-smtp)"  # noqa: E501

PRESETS: dict[str, Preset] = {
    "microsoft365": Preset(
        name="microsoft365",
        label="Microsoft 365 (Exchange Online)",
        host="smtp.office365.com",
        port=587,
        security="starttls",
        auth=("XOAUTH2",),
        oauth="microsoft365",
        per_minute=Figure(30, _M365, note="message rate limit of SMTP AUTH client submission"),
        recipients_per_day=Figure(10_000, _M365, note="recipient rate limit"),
        max_message_mb=Figure(35, _M365, note="default send size; a tenant can change it"),
        imap_host="outlook.office365.com",
        notes=(
            "Basic authentication for SMTP AUTH is disabled by default for existing tenants at"
            " the end of December 2026 (reply 550 5.7.30): use OAuth2.",
            "SMTP AUTH must be enabled for the mailbox (Exchange admin center, or"
            " Set-CASMailbox -SmtpClientAuthenticationDisabled $false).",
        ),
    ),
    "google-workspace": Preset(
        name="google-workspace",
        label="Google Workspace (Gmail)",
        host="smtp.gmail.com",
        port=587,
        security="starttls",
        auth=("XOAUTH2", "OAUTHBEARER"),
        oauth="google-workspace",
        per_day=Figure(2_000, _GOOGLE, note="per user; consumer Gmail: 500"),
        recipients_per_day=Figure(10_000, _GOOGLE, note="total recipients per user"),
        max_message_mb=Figure(25, _GOOGLE_SIZE),
        imap_host="imap.gmail.com",
        notes=("An app password (2-Step Verification on) also works, with AUTH PLAIN.",),
    ),
    "amazon-ses": Preset(
        name="amazon-ses",
        label="Amazon SES",
        host="email-smtp.{region}.amazonaws.com",
        port=587,
        security="starttls",
        auth=("PLAIN", "LOGIN"),
        per_day=Figure(None, _SES, note="the account's 24-hour sending quota (sandbox: 200)"),
        max_message_mb=Figure(40, _SES, note="after encoding, attachments included"),
        regions=(
            "us-east-1",
            "us-east-2",
            "us-west-1",
            "us-west-2",
            "ca-central-1",
            "eu-west-1",
            "eu-west-2",
            "eu-west-3",
            "eu-central-1",
            "eu-north-1",
            "eu-south-1",
            "ap-south-1",
            "ap-northeast-1",
            "ap-northeast-2",
            "ap-northeast-3",
            "ap-southeast-1",
            "ap-southeast-2",
            "sa-east-1",
            "me-south-1",
            "af-south-1",
        ),
        notes=(
            "The per-second rate is an account setting too (sandbox: 1 message a second);"
            " set [limits] rate from the SES console.",
            "SMTP credentials are not the IAM access keys: create them in the SES console.",
        ),
    ),
    "mailgun": Preset(
        name="mailgun",
        label="Mailgun",
        host="smtp.mailgun.org",
        port=587,
        security="starttls",
        auth=("PLAIN", "LOGIN"),
        per_hour=Figure(None, _MAILGUN, note="depends on the plan and the domain's warm-up"),
        max_message_mb=Figure(25, _MAILGUN),
        notes=("EU domains use smtp.eu.mailgun.org: set host.",),
    ),
    "postmark": Preset(
        name="postmark",
        label="Postmark",
        host="smtp.postmarkapp.com",
        port=587,
        security="starttls",
        auth=("PLAIN", "LOGIN"),
        per_hour=Figure(None, _POSTMARK, note="depends on the account"),
        max_message_mb=Figure(10, _POSTMARK, note="the whole message, attachments included"),
        notes=(
            "Use a Broadcast message stream for press releases (the stream's SMTP token as"
            " user name and password).",
        ),
    ),
    "custom": Preset(
        name="custom",
        label="Your own relay",
        host=None,
        port=587,
        security="starttls",
        auth=("PLAIN", "LOGIN"),
    ),
}


def preset(name: str) -> Preset:
    """The preset called ``name``; `PresetError` lists the known ones."""
    found = PRESETS.get(name)
    if found is None:
        known = ", ".join(f'"{n}"' for n in PRESETS)
        raise PresetError(f"relay: unknown preset {name!r}; use one of {known}")
    return found


@dataclass(frozen=True, slots=True)
class RelaySettings:
    """A preset merged with explicit settings; ``origin`` says where each value came from."""

    preset: str
    host: str
    port: int
    security: Security
    auth: tuple[str, ...]
    oauth: str | None = None
    per_minute: int | None = None
    per_hour: int | None = None
    per_day: int | None = None
    recipients_per_day: int | None = None
    max_message_mb: int | None = None
    imap_host: str | None = None
    origin: Mapping[str, str] = field(default_factory=dict)


_OVERRIDABLE = frozenset(
    f.name for f in fields(RelaySettings) if f.name not in ("preset", "origin")
) | {"region"}


def merge(name: str, overrides: Mapping[str, Any] | None = None) -> RelaySettings:
    """The preset ``name`` with ``overrides`` applied (a value of None means "not set").

    ``region`` fills a host with a ``{region}`` part (Amazon SES).  Limits of 0 mean "none" as
    in the campaign file's ``[limits]``.  Raises `PresetError` for an unknown preset or key, a
    missing host or region, and for ``security = "none"`` on a provider's relay.
    """
    base = preset(name)
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    unknown = sorted(set(given) - _OVERRIDABLE)
    if unknown:
        raise PresetError(f"relay: unknown setting(s) {', '.join(unknown)} for preset {name!r}")
    origin: dict[str, str] = {}

    def pick(key: str, preset_value: Any) -> Any:
        if key in given:
            origin[key] = "set explicitly"
            return given[key]
        if isinstance(preset_value, Figure):
            if preset_value.value is None:
                origin[key] = f"not set: {preset_value.describe()}"
                return None
            origin[key] = f"preset {name}: {preset_value.describe()}"
            return preset_value.value
        if preset_value is not None:
            origin[key] = f"preset {name}"
        return preset_value

    host = pick("host", base.host)
    if isinstance(host, str) and "{region}" in host:
        region = given.get("region")
        if not region:
            raise PresetError(
                f'relay: preset {name!r} needs region (e.g. "{base.regions[0]}")'
                if base.regions
                else f"relay: preset {name!r} needs region"
            )
        if base.regions and region not in base.regions:
            raise PresetError(
                f"relay: unknown region {region!r} for {name!r}; one of {', '.join(base.regions)}"
            )
        host = host.format(region=region)
    if not host:
        raise PresetError(f"relay: preset {name!r} needs host (your relay's name)")
    security = pick("security", base.security)
    if security == "none" and name != "custom":
        raise PresetError(f'relay: {base.label} requires TLS; security = "none" is refused')
    settings = RelaySettings(
        preset=name,
        host=str(host),
        port=int(pick("port", base.port)),
        security=security,
        auth=tuple(pick("auth", base.auth)),
        oauth=pick("oauth", base.oauth),
        per_minute=pick("per_minute", base.per_minute),
        per_hour=pick("per_hour", base.per_hour),
        per_day=pick("per_day", base.per_day),
        recipients_per_day=pick("recipients_per_day", base.recipients_per_day),
        max_message_mb=pick("max_message_mb", base.max_message_mb),
        imap_host=pick("imap_host", base.imap_host),
    )
    return replace(settings, origin=origin)


def quotas(name: str) -> dict[str, int]:
    """The ``[limits]`` a preset fills: ``per_minute``, ``per_hour`` and ``per_day`` (messages;
    distrib sends one recipient per message, so a daily *recipient* limit is a daily message
    limit too), only those the provider documents a number for.  Unknown preset: nothing."""
    found = PRESETS.get(name)
    if found is None:
        return {}
    limits: dict[str, int] = {}
    for key, figure in (("per_minute", found.per_minute), ("per_hour", found.per_hour)):
        if figure is not None and figure.value is not None:
            limits[key] = figure.value
    daily = [
        f.value for f in (found.per_day, found.recipients_per_day) if f is not None and f.value
    ]
    if daily:
        limits["per_day"] = min(daily)
    return limits
