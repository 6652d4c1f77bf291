"""Finding and opening the delivery log an officer means.

A command names the log with ``--log FILE`` (or ``--log postgresql://…``), or names the
workspace, release or campaign file whose log it is; without either, the workspace or
``campaign.toml`` of the current folder (or the workspace it is in) is asked, else
``distrib-log.sqlite`` in the current folder is the log.  Commands that only read open it
read-only: nothing is written, even on a read-only medium, and a newer distrib's log is read
with a warning.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from distrib.config import Campaign
    from distrib.deliverylog import DeliveryLog

__all__ = [
    "DEFAULT_CAMPAIGN",
    "DEFAULT_LOG",
    "interface_language",
    "load_campaign",
    "locate_log",
    "log_name",
    "open_log",
]

DEFAULT_CAMPAIGN = Path("campaign.toml")
DEFAULT_LOG = Path("distrib-log.sqlite")


def load_campaign(path: str | Path) -> Campaign:
    """Read and validate a campaign file, or a workspace file (its settings, for what every
    release shares: the sender, the lists, the log; `distrib.app.workspace.workspace_settings`);
    `ConfigError` lists every problem."""
    from distrib.workspace import WORKSPACE_FILE

    if Path(path).name == WORKSPACE_FILE:
        from distrib.app.workspace import workspace_settings

        return workspace_settings(Path(path))
    from distrib.config import load_campaign as load

    return load(path)


def locate_log(campaign: Path | None = None, log: Path | str | None = None) -> Path | str:
    """Return the log named by ``log``, by ``campaign`` (a workspace, a release folder or a
    campaign file), or found from this folder."""
    from distrib.app.workspace import locate_target
    from distrib.errors import ConfigError
    from distrib.workspace import load_workspace

    if log is not None:
        return log
    try:
        found = locate_target(campaign)
    except ConfigError:
        if campaign is not None:
            raise
        return DEFAULT_LOG  # nothing here: the log of this folder, if any
    if found.workspace is not None:
        return load_workspace(found.workspace).log_target
    assert found.campaign is not None
    return load_campaign(found.campaign).log_target


def interface_language(campaign: Path | None = None) -> str | None:
    """The ``interface_language`` of the workspace (or campaign file) ``campaign`` names or
    this folder holds; None when it sets none or there is none to read."""
    from distrib.app.workspace import locate_target
    from distrib.errors import ConfigError
    from distrib.workspace import load_workspace

    try:
        found = locate_target(campaign)
        if found.workspace is not None:
            return load_workspace(found.workspace).settings.interface_language
        return None if found.campaign is None else load_campaign(found.campaign).interface_language
    except ConfigError:
        return None  # the command itself says what is wrong with the file


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
