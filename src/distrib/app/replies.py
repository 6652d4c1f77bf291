"""`distrib replies`: record who answered which release, from the workspace's mailbox or the
mailboxes and files named."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from distrib.errors import ConfigError, InvalidRequestError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from distrib.deliverylog import DeliveryLog
    from distrib.relay.imap import ImapSettings
    from distrib.replies import ReplyOutcome

__all__ = ["RepliesScope", "read_replies", "replies_scope"]


@dataclass(frozen=True, slots=True)
class RepliesScope:
    """What `distrib replies` reads and for which release: ``release`` None means every
    release of the log; ``mailboxes`` (shown as they were named) with ``imap`` to log in."""

    release: str | None
    mailboxes: tuple[str, ...]
    locations: tuple[str | Path, ...]
    imap: ImapSettings


def replies_scope(
    target: Path | None,
    release: str | None,
    mailboxes: Sequence[str],
    *,
    password_env: str | None = None,
    ca_file: Path | None = None,
) -> RepliesScope:
    """Which release (a release folder, a campaign file, or ``--release``: that one; a
    workspace: every release) and which mailboxes (those named, else the settings'
    ``[mailbox]``)."""
    from distrib.app.logs import load_campaign
    from distrib.app.relay import (
        IMAP_PASSWORD_ENV,
        imap_settings,
        mailbox_location,
        settings_mailbox,
    )
    from distrib.app.workspace import locate_target, open_release

    try:
        found = locate_target(target)
    except ConfigError:
        if target is not None or not mailboxes:
            raise
        found = None  # mailboxes named, no workspace here: every release of the log
    name: str | None = None if found is not None else release
    settings = None
    if found is not None:
        if found.campaign is not None or found.release is not None or release is not None:
            campaign = open_release(target, release)
            name, settings = campaign.name, campaign
        else:
            assert found.workspace is not None
            settings = load_campaign(found.workspace)
    if mailboxes:
        imap = imap_settings(password_env or IMAP_PASSWORD_ENV, ca_file)
        return RepliesScope(
            name, tuple(mailboxes), tuple(mailbox_location(m) for m in mailboxes), imap
        )
    if settings is None:
        raise InvalidRequestError("name the mailbox with --mailbox, or set [mailbox]")
    url, imap = settings_mailbox(settings, password_env=password_env, ca_file=ca_file)
    return RepliesScope(name, (url,), (url,), imap)


def read_replies(log: DeliveryLog, scope: RepliesScope, *, dry_run: bool = False) -> ReplyOutcome:
    """Record the replies the scope's mailboxes hold, matched to the messages of the log (of
    the scope's release, if it names one); on IMAP the recorded ones are flagged."""
    from distrib.replies import read_replies as read

    return read(scope.locations, log, release=scope.release, dry_run=dry_run, imap=scope.imap)
