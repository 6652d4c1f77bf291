"""Checking the relay: `distrib relay check`, and the same check before every send (before
its run is recorded).  The steps themselves are `distrib.relay.preflight`'s; this module adds
what the release says about its messages (the largest one, non-ASCII addresses) and the
settings (password, OAuth2 tokens, DNS servers)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from distrib.app.relay import relay_tokens
from distrib.relay.preflight import Preflight, RelayCheckError, Step

if TYPE_CHECKING:
    from distrib.app.pipeline import Plan
    from distrib.config import Campaign

__all__ = ["Preflight", "RelayCheckError", "Step", "check_before_send", "relay_check"]


def _message_facts(plan: Plan) -> tuple[int | None, bool]:
    """The size of the largest message of ``plan`` (the one with the most content, rendered and
    signed as it will leave) and whether an envelope address is not ASCII."""
    from distrib.errors import DistribError

    sender = plan.campaign.sender.address
    needs_utf8 = not sender.isascii() or any(not m.contact.email.isascii() for m in plan.messages)
    if not plan.messages:
        return None, needs_utf8
    biggest = max(plan.messages, key=lambda m: m.size)
    try:
        rendered = plan.renderer.render(biggest.contact, message_id=biggest.message_id)
    except DistribError:
        return None, needs_utf8  # the plan lists the problem; the send will not start
    return len(rendered.data), needs_utf8 or not rendered.envelope_from.isascii()


def _check(
    campaign: Campaign,
    plan: Plan | None,
    *,
    dns: bool,
    nameservers: tuple[str, ...] = (),
    dns_port: int = 53,
    dns_timeout: float = 5.0,
) -> Preflight:
    import asyncio

    from distrib.config import smtp_password
    from distrib.relay.preflight import check_relay

    largest, needs_utf8 = _message_facts(plan) if plan is not None else (None, False)
    resolver = None
    if dns and nameservers:
        from distrib.relay.dns import resolver_for

        resolver = resolver_for(nameservers, port=dns_port, timeout=dns_timeout)
    elif dns:
        from distrib.relay.dns import resolver_for

        resolver = resolver_for(timeout=dns_timeout)
    return asyncio.run(
        check_relay(
            campaign.smtp,
            password=smtp_password(campaign.smtp),
            tokens=relay_tokens(campaign.smtp),
            largest=largest,
            needs_utf8=needs_utf8,
            sender_domain=campaign.sender.domain if dns else None,
            dkim_selector=campaign.dkim.selector if campaign.dkim is not None else None,
            resolver=resolver,
        )
    )


def relay_check(
    campaign: Campaign,
    *,
    dns: bool = True,
    nameservers: tuple[str, ...] = (),
    dns_port: int = 53,
    dns_timeout: float = 5.0,
    messages: bool = True,
) -> Preflight:
    """`distrib relay check`: one session with the relay as a send opens it (connect,
    STARTTLS, AUTH with the password or an OAuth2 token), what it offers against the release's
    messages (SIZE against the largest, SMTPUTF8 when an address needs it, PIPELINING), and,
    with ``dns``, the sender domain's SPF, DKIM and DMARC (warnings only; "could not check"
    when DNS cannot be asked).  ``nameservers``/``dns_port``: ask those servers instead of the
    system's.  ``messages=False`` checks the relay alone, without a release's messages (no
    SIZE or SMTPUTF8 comparison): the settings page's "Test the connection", where there may
    be no release yet.  Never raises for what the relay answers: every conclusion is a `Step`."""
    from distrib.app.pipeline import make_plan

    plan = make_plan(campaign, workers=0) if messages else None
    return _check(campaign, plan, dns=dns, nameservers=nameservers, dns_port=dns_port,
                  dns_timeout=dns_timeout)  # fmt: skip


def check_before_send(plan: Plan) -> Preflight:
    """The relay check a send runs before its run is recorded (without DNS: those only warn;
    `relay_check` shows them).  Raises `RelayCheckError` when a step failed."""
    found = _check(plan.campaign, plan, dns=False)
    if not found.ok:
        raise RelayCheckError(found)
    return found
