"""A workspace at a glance, for the browser interface's home page (`distrib ui`).

Which file is the workspace, what it sends (campaign, sender, media lists), what its delivery
log holds (runs and their counts, the latest opt-outs), and where uploads go.  Nothing here
decides anything an officer does; it gathers what the other verbs already offer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from distrib.errors import InvalidRequestError

if TYPE_CHECKING:
    from distrib.audit import RunSummary
    from distrib.config import Campaign
    from distrib.deliverylog.records import Suppressed

__all__ = [
    "WorkspaceOverview",
    "release_named",
    "uploads_folder",
    "workspace_file",
    "workspace_overview",
]

#: The workspace file found in a folder: a workspace's, else a standalone campaign file.
WORKSPACE_NAMES = ("distrib.toml", "campaign.toml")
#: Where uploaded files are kept, inside the workspace's folder.
UPLOADS = "uploads"


@dataclass(frozen=True, slots=True)
class WorkspaceOverview:
    """What the home page shows."""

    campaign: Campaign
    log: str
    runs: tuple[RunSummary, ...]
    suppressions: tuple[Suppressed, ...]  # the latest first
    suppressed: int  # how many entries the list has in all


def workspace_file(workspace: Path | None) -> Path:
    """The workspace's file: ``workspace`` itself, the one in that folder, or in this folder."""
    candidate = Path.cwd() if workspace is None else workspace
    if candidate.is_dir():
        for name in WORKSPACE_NAMES:
            if (candidate / name).is_file():
                return candidate / name
        raise InvalidRequestError(
            f"{candidate}: no {' or '.join(WORKSPACE_NAMES)} in this folder"
            " (`distrib init DIR` makes a starter)"
        )
    if not candidate.is_file():
        raise InvalidRequestError(f"{candidate}: no such file")
    return candidate


def workspace_to_create(workspace: Path | None) -> Path | None:
    """The folder where `distrib ui` may offer to create a workspace: ``workspace`` (default:
    this folder) when it is a folder without a workspace file, or does not exist and is not
    named like a ``.toml`` file; None when there is a workspace to open (or a mistake to
    report: `workspace_file` names it)."""
    candidate = Path.cwd() if workspace is None else workspace
    if candidate.is_dir():
        if any((candidate / name).is_file() for name in WORKSPACE_NAMES):
            return None
        return candidate
    if candidate.exists() or candidate.suffix.lower() == ".toml":
        return None
    return candidate


def uploads_folder(campaign: Campaign) -> Path:
    """The folder inside the workspace where files sent from a browser are stored."""
    return campaign.folder / UPLOADS


def workspace_overview(file: Path, *, latest: int = 20) -> WorkspaceOverview:
    """Read the workspace ``file`` and its delivery log (read-only; a log not made yet is an
    empty one)."""
    from distrib.app.logs import load_campaign
    from distrib.audit import run_summaries
    from distrib.config import display_path
    from distrib.deliverylog import describe, is_url, open_log
    from distrib.errors import NoLogError

    campaign = load_campaign(file)
    location = campaign.log_target
    runs: list[RunSummary] = []
    suppressions: list[Suppressed] = []
    try:
        with open_log(location, read_only=True) as log:
            runs = run_summaries(log)
            suppressions = log.suppressions()
    except NoLogError:
        pass  # nothing sent yet: an empty log
    return WorkspaceOverview(
        campaign=campaign,
        log=describe(location) if is_url(location) else display_path(Path(location)),
        runs=tuple(runs),
        suppressions=tuple(reversed(suppressions[-latest:])),
        suppressed=len(suppressions),
    )


def release_named(workspace: Path, slug: str) -> Campaign:
    """The `Campaign` that sends release ``slug`` of ``workspace`` (a workspace's release
    folder; for a standalone campaign file, its only release, named by the campaign's name);
    `ConfigError` when there is no such release."""
    from distrib.app.logs import load_campaign
    from distrib.app.workspace import locate_target, open_release
    from distrib.errors import ConfigError, Problem

    found = locate_target(workspace)
    if found.campaign is not None:
        campaign = load_campaign(found.campaign)
        if slug != campaign.name:
            raise ConfigError([Problem(f"no release {slug!r} here", None, "target")])
        return campaign
    return open_release(workspace, slug)
