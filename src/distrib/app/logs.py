"""Finding and opening the delivery log an officer means.

A command names the log with ``--log FILE`` (or ``--log postgresql://…``), or names the
campaign whose log it is; without either, a ``campaign.toml`` in the current folder is the
campaign, else ``distrib-log.sqlite`` in the current folder is the log.  Commands that only read
open it read-only: nothing is written, even on a read-only medium, and a newer distrib's log is
read with a warning.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from distrib.config import Campaign
    from distrib.deliverylog import DeliveryLog

__all__ = ["DEFAULT_CAMPAIGN", "DEFAULT_LOG", "load_campaign", "locate_log", "log_name", "open_log"]

DEFAULT_CAMPAIGN = Path("campaign.toml")
DEFAULT_LOG = Path("distrib-log.sqlite")


def load_campaign(path: str | Path) -> Campaign:
    """Read and validate a campaign file (`ConfigError` lists every problem)."""
    from distrib.config import load_campaign as load

    return load(path)


def locate_log(campaign: Path | None = None, log: Path | str | None = None) -> Path | str:
    """Return the log named by ``log``, by ``campaign``'s file, or found in this folder."""
    if log is not None:
        return log
    if campaign is None and DEFAULT_CAMPAIGN.is_file():
        campaign = DEFAULT_CAMPAIGN
    return load_campaign(campaign).log_target if campaign is not None else DEFAULT_LOG


def open_log(
    campaign: Path | None = None,
    log: Path | str | None = None,
    *,
    create: bool = False,
    read_only: bool = False,
) -> DeliveryLog:
    """Open the log `locate_log` finds; ``read_only`` for commands that only read (its
    ``warnings`` say what the interface should show, e.g. a log written by a newer distrib)."""
    from distrib.deliverylog import open_log as open_delivery_log

    return open_delivery_log(locate_log(campaign, log), read_only=read_only, create=create)


def log_name(log: DeliveryLog) -> str:
    """The log for people: its file, relative to here when it can be, or its URL (never with
    a password)."""
    from distrib.config import display_path
    from distrib.deliverylog import is_url

    where = log.where
    return where if is_url(where) else display_path(Path(where).resolve())
