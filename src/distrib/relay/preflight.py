"""Checking the relay before a run (`distrib relay check`, and before every send): one real
session, then, when asked, the sender domain's DNS records.

The session is the one a send opens (`distrib.send.transport.Connection`): connect, STARTTLS
(required when ``security = "starttls"``), EHLO, AUTH with the password or an OAuth2 token.
Then what EHLO advertised is read against the messages about to leave: SIZE against the largest
one, SMTPUTF8 when an address is not ASCII, PIPELINING (slower without it, not a failure).
Each conclusion is a `Step`; a ``failed`` step means a send would stop, so it stops before its
run is recorded.  The DNS checks (`distrib.relay.dns`: SPF, DKIM selector, DMARC) only ever
warn; when DNS cannot be asked they say "could not check".

Nothing here prints; a step's ``detail`` is English text for the interface to show (server
replies in it went through the connection's scrubber: no password or token).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from distrib.config import SMTPConfig
from distrib.errors import (
    DistribError,
    SMTPConfigError,
    SMTPConnectionError,
    SMTPSecurityError,
)
from distrib.relay.errors import RelayError

if TYPE_CHECKING:
    import dns.resolver

    from distrib.send.auth import Tokens

__all__ = [
    "Preflight",
    "RelayCheckError",
    "Status",
    "Step",
    "StepName",
    "check_dns",
    "check_relay",
    "check_session",
]

StepName = Literal[
    "connect", "tls", "auth", "size", "pipelining", "smtputf8", "spf", "dkim", "dmarc", "dns"
]
Status = Literal["ok", "note", "warning", "failed", "skipped"]


@dataclass(frozen=True, slots=True)
class Step:
    """One check and its conclusion."""

    name: StepName
    status: Status
    detail: str


@dataclass(frozen=True, slots=True)
class Preflight:
    """Every step of one check of the relay."""

    relay: str  # host:port
    steps: tuple[Step, ...]

    @property
    def failed(self) -> tuple[Step, ...]:
        """The steps that stop a send."""
        return tuple(s for s in self.steps if s.status == "failed")

    @property
    def warnings(self) -> tuple[Step, ...]:
        """The steps worth a look, which do not stop a send."""
        return tuple(s for s in self.steps if s.status == "warning")

    @property
    def ok(self) -> bool:
        """Tell whether nothing failed (warnings allowed)."""
        return not self.failed


class RelayCheckError(RelayError):
    """The relay check before a run failed: the run was not recorded and nothing was sent.
    ``check`` holds every step."""

    def __init__(self, check: Preflight) -> None:
        failed = "; ".join(f"{s.name}: {s.detail}" for s in check.failed)
        super().__init__(f"the relay {check.relay} failed its check before the run: {failed}")
        self.check = check


async def check_session(
    smtp: SMTPConfig,
    *,
    password: str | None,
    tokens: Tokens | None = None,
    largest: int | None = None,
    needs_utf8: bool = False,
) -> list[Step]:
    """Open one session as a send would, read what the relay offers, and close it.

    ``largest``: the size in bytes of the largest message about to leave (None: not known);
    ``needs_utf8``: an envelope address is not ASCII.
    """
    from distrib.send.transport import ConnectFailed, Connection, build_tls_context

    try:
        tls = build_tls_context(smtp)
    except SMTPSecurityError as exc:
        return [Step("tls", "failed", str(exc))]
    if smtp.username and password is None and tokens is None:
        return [Step("auth", "failed", f"smtp.username is set but the environment variable"
                                       f" {smtp.password_env} is empty or unset")]  # fmt: skip
    conn = Connection(smtp, password=password, tls=tls, tokens=tokens)
    try:
        await conn.open()
    except (ConnectFailed, SMTPConnectionError, SMTPConfigError) as exc:
        return [Step("connect", "failed", str(exc))]
    except SMTPSecurityError as exc:
        return [*_opened(smtp, "connect"), Step("tls", "failed", str(exc))]
    except DistribError as exc:  # AUTH refused; no token (nobody signed in, service refused)
        return [*_opened(smtp, "tls"), Step("auth", "failed", str(exc))]
    try:
        steps = _opened(smtp, "auth")
        steps.append(_size_step(conn.size_limit, largest))
        steps.append(
            Step("pipelining", "ok", "offered")
            if conn.pipelining
            else Step("pipelining", "note", "not offered: each command waits for its reply")
        )
        steps.append(_utf8_step(conn.supports("smtputf8"), needs_utf8))
    finally:
        await conn.close()
    return steps


def _opened(smtp: SMTPConfig, upto: StepName) -> list[Step]:
    """The steps that went well, up to ``upto`` (connect, tls, auth)."""
    steps = [Step("connect", "ok", f"{smtp.host}:{smtp.port}")]
    if upto == "connect":
        return steps
    if smtp.security == "none":
        steps.append(Step("tls", "note", 'not encrypted (security = "none")'))
    else:
        said = "STARTTLS (required)" if smtp.security == "starttls" else "implicit TLS"
        steps.append(Step("tls", "ok", said))
    if upto == "tls":
        return steps
    if smtp.username:
        how = "OAuth2" if smtp.auth == "oauth2" else "password"
        steps.append(Step("auth", "ok", f"signed in as {smtp.username} ({how})"))
    else:
        steps.append(Step("auth", "skipped", "no smtp.username: no AUTH"))
    return steps


def _utf8_step(offered: bool, needed: bool) -> Step:
    if needed and not offered:
        said = "an address is not ASCII, but the relay does not offer SMTPUTF8 (RFC 6531)"
        return Step("smtputf8", "failed", said)
    if needed:
        return Step("smtputf8", "ok", "offered (an address is not ASCII)")
    if offered:
        return Step("smtputf8", "ok", "offered")
    return Step("smtputf8", "note", "not offered; every address is ASCII")


def _size_step(limit: int | None, largest: int | None) -> Step:
    if largest is None:
        shown = "no SIZE announced" if limit is None else f"SIZE {limit:,}" if limit else "SIZE"
        return Step("size", "skipped", f"{shown}; no message to compare")
    if limit is None or limit == 0:
        return Step("size", "ok", f"no size limit announced; largest message {largest:,} bytes")
    if largest > limit:
        return Step("size", "failed", f"the largest message is {largest:,} bytes; the relay"
                                      f" accepts at most {limit:,} (SIZE)")  # fmt: skip
    return Step("size", "ok", f"largest message {largest:,} bytes, the relay accepts {limit:,}")


def check_dns(
    domain: str,
    *,
    provider: str | None = None,
    dkim_selector: str | None = None,
    envelope_domain: str | None = None,
    relay_ips: Sequence[str] = (),
    resolver: dns.resolver.Resolver | None = None,
) -> list[Step]:
    """The sender domain's SPF, DKIM and DMARC (`distrib.relay.dns`), as steps that warn at
    most; a DNS that cannot be asked gives one ``skipped`` step saying "could not check"."""
    from distrib.relay.dns import check_sender_domain

    report = check_sender_domain(
        domain, provider=provider, dkim_selector=dkim_selector, relay_ips=relay_ips,
        envelope_domain=envelope_domain, resolver=resolver,
    )  # fmt: skip
    steps: list[Step] = []
    for finding in report.findings:
        if finding.check == "dns":
            steps.append(Step("dns", "skipped", f"could not check: {finding.message}"))
            continue
        status: Status = {"ok": "ok", "info": "note"}.get(finding.level, "warning")  # type: ignore[assignment]
        steps.append(Step(finding.check, status, finding.message))
    return steps


async def check_relay(
    smtp: SMTPConfig,
    *,
    password: str | None,
    tokens: Tokens | None = None,
    largest: int | None = None,
    needs_utf8: bool = False,
    sender_domain: str | None = None,
    dkim_selector: str | None = None,
    envelope_domain: str | None = None,
    resolver: dns.resolver.Resolver | None = None,
) -> Preflight:
    """`check_session`, then (with ``sender_domain``) `check_dns` in a worker thread (the
    relay's host counts as its address for SPF when it is an IP address)."""
    import ipaddress

    try:
        relay_ips: tuple[str, ...] = (str(ipaddress.ip_address(smtp.host)),)
    except ValueError:
        relay_ips = ()
    steps: Sequence[Step] = await check_session(
        smtp, password=password, tokens=tokens, largest=largest, needs_utf8=needs_utf8
    )
    if sender_domain is not None:
        steps = [*steps, *await asyncio.to_thread(
            check_dns, sender_domain, provider=smtp.preset, dkim_selector=dkim_selector,
            envelope_domain=envelope_domain, relay_ips=relay_ips, resolver=resolver,
        )]  # fmt: skip
    return Preflight(f"{smtp.host}:{smtp.port}", tuple(steps))
