"""Test sends: the officer's own copy of what journalists will get, before the real send.

``distrib send CAMPAIGN --test-to ME@agapc.example`` renders one message per language the
audience needs (the first French, English and bilingual contact's), or the message of one
contact with ``--as``, and sends it to the officer's address through the campaign's relay,
exactly as the real send would (same headers, same DKIM signature, same relay) except that
To and the envelope recipient are the officer's address and the subject starts with
``[TEST]``.

In the delivery log a test send is a run of its own (its note says "test send", its settings
hold ``test_to``) whose delivered messages end in the ``test`` state, keyed
``test:<language>:<contact>``: they are never counted as sent to the contact, so the real send
still goes to everyone.  The embargo does not apply (the officer is
not the press).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from distrib.app.relay import relay_tokens
from distrib.config import display_path, smtp_password
from distrib.deliverylog import NewMessage, State, new_run_token
from distrib.errors import Location, Problem, RenderError, TestSendError
from distrib.render import RenderedMessage, Renderer, make_message_id

if TYPE_CHECKING:
    from distrib.app.audience import Selection
    from distrib.config import Campaign
    from distrib.contacts.model import Contact
    from distrib.deliverylog import DeliveryLog, MessageRow, Run
    from distrib.send import Progress, SendReport

__all__ = ["TestSendError", "TestSendOutcome", "choose_contacts", "render_tests", "send_tests"]

_ORDER = ("fr", "en", "both")


@dataclass(frozen=True, slots=True)
class TestSendOutcome:
    """The test run, the rows it recorded and what the engine reported."""

    __test__ = False

    run: Run
    rows: tuple[MessageRow, ...]
    report: SendReport


def _check_address(address: str) -> str:
    from email_validator import EmailNotValidError, validate_email

    from distrib.headers import find_forbidden

    reason = find_forbidden(address)
    if reason is None:
        try:
            return str(validate_email(address, check_deliverability=False).normalized)
        except EmailNotValidError as exc:
            reason = str(exc)
    raise TestSendError([Problem(f"--test-to {address!r}: not a usable address ({reason})")])


def choose_contacts(
    contacts: Sequence[Contact], renderer: Renderer, as_contact: str | None = None
) -> list[Contact]:
    """Return the contact ``as_contact`` names, or the first contact of each message language."""
    if as_contact is not None:
        wanted = as_contact.strip().lower()
        for contact in contacts:
            if wanted in (contact.key, contact.email.lower(), contact.address.lower()):
                return [contact]
        message = (
            f"--as {as_contact!r}: no contact with this address in the release's audience"
            " (the lists, less suppressions and audience rules)"
        )
        raise TestSendError([Problem(message)])
    first: dict[str, Contact] = {}
    for contact in contacts:
        try:
            lang, _fallback = renderer.message_language(contact)
        except RenderError:
            continue
        first.setdefault(lang, contact)
    if not first:
        raise TestSendError([Problem("no contact's message can be rendered: nothing to test")])
    return [first[lang] for lang in _ORDER if lang in first]


def render_tests(
    renderer: Renderer, contacts: Sequence[Contact], to: str, token: str
) -> list[RenderedMessage]:
    """Render each contact's message for ``to``; raise `RenderError` listing every problem."""
    address = _check_address(to)
    domain = renderer.campaign.sender.domain
    messages: list[RenderedMessage] = []
    problems: list[Problem] = []
    for contact in contacts:
        message_id = make_message_id(token, f"test:{contact.key}", domain)
        try:
            messages.append(renderer.render(contact, message_id=message_id, test_to=address))
        except RenderError as exc:
            problems.extend(exc.problems)
    if problems:
        raise RenderError(problems, "the test message(s) cannot be rendered")
    return messages


def send_tests(
    campaign: Campaign,
    log: DeliveryLog,
    to: str,
    *,
    as_contact: str | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    selection: Selection | None = None,
) -> TestSendOutcome:
    """Render and send the test message(s) to ``to``, recording them as a ``test`` run.

    The contacts shown are those of the release's audience (``selection``: the command's
    ``--only``/``--exclude``), less the log's opt-outs and hard bounces, as for the send.
    """
    from distrib.app.audience import load_audience
    from distrib.release import load_release
    from distrib.send import Outgoing, send_messages

    book = load_audience(campaign, selection, log=log)
    renderer = Renderer(campaign, load_release(campaign))
    token = new_run_token()
    rendered = render_tests(
        renderer, choose_contacts(book.contacts, renderer, as_contact), to, token
    )
    run = log.create_run(
        campaign.name,
        display_path(campaign.file),
        settings={
            "test_to": rendered[0].recipient,
            "relay": f"{campaign.smtp.host}:{campaign.smtp.port}",
        },
        token=token,
    )
    log.add_messages(run.id, [_row(m) for m in rendered])
    rows = log.pending(run.id)
    by_id = {m.message_id: m for m in rendered}
    outgoing = [
        Outgoing(
            message=row.id,
            envelope_from=by_id[str(row.message_id)].envelope_from,
            recipient=row.address,
            data=by_id[str(row.message_id)].data,
            message_id=str(row.message_id),
        )
        for row in rows
    ]
    log.set_run_status(run.id, "sending")
    try:
        report = asyncio.run(
            send_messages(
                outgoing,
                log=log,
                smtp=campaign.smtp,
                # A refused test address is the officer's typo, not a journalist to suppress.
                limits=campaign.limits.model_copy(update={"suppress_codes": ()}),
                password=smtp_password(campaign.smtp),
                tokens=relay_tokens(campaign.smtp),
                total=len(outgoing),
                on_progress=on_progress,
            )
        )
    except BaseException as exc:
        log.set_run_status(run.id, "aborted", note=str(exc) or type(exc).__name__)
        raise
    log.mark_test(run.id)  # sent to the officer: never counted as sent to a contact
    log.set_run_status(run.id, "finished", note="test send")
    return TestSendOutcome(log.get_run(run.id), tuple(log.messages(run.id)), report)


def _row(message: RenderedMessage) -> NewMessage:
    contact = message.contact
    where = contact.sources[0] if contact.sources else Location("?")
    return NewMessage(
        key=f"test:{message.language}:{contact.key}",
        recipient=message.recipient,
        address=message.recipient,
        status=State.READY,
        name=contact.name,
        outlet=contact.outlet,
        language=message.language,
        provenance=f"test send as {contact.email} ({where})",
        subject=message.subject,
        message_id=message.message_id,
        content_hash=message.content_hash,
        note=f"test send to the officer, as {contact.email}",
    )
