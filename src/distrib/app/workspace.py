"""Which release a command means, and the workspace verbs: init, release new, templates copy,
migrate.

A command names a release by (`open_release`):

- a release folder (``releases/2027-11-hiver-en-vitrine``, or any folder or file inside it):
  its workspace is the nearest ``distrib.toml`` above it;
- a workspace (its folder or its ``distrib.toml``) with ``--release SLUG``, or without it when
  the workspace has a single release;
- a standalone campaign file (``campaign.toml``, or any other ``.toml`` file but
  ``release.toml``): a one-release workspace;
- nothing: the current folder, as above.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from distrib.errors import ConfigError, InvalidRequestError, Problem

if TYPE_CHECKING:
    from distrib.app.editing import WorkspaceIdentity
    from distrib.config import Campaign
    from distrib.workspace import Migrated, Workspace

__all__ = [
    "NewRelease",
    "Target",
    "TemplatesCopied",
    "copy_templates",
    "create_release",
    "locate_target",
    "migrate_campaign",
    "open_release",
    "open_workspace",
    "start_workspace",
    "workspace_settings",
]


@dataclass(frozen=True, slots=True)
class Target:
    """Where a command's target points: a workspace (and maybe one of its releases), or a
    campaign file."""

    workspace: Path | None = None  # its distrib.toml
    release: str | None = None  # a release of the workspace, named by the path
    campaign: Path | None = None  # a standalone campaign file


def _nothing_here(start: Path) -> ConfigError:
    from distrib.config import display_path

    message = (
        f"{display_path(start)}: no workspace (distrib.toml), release folder or campaign file"
        " here; `distrib init DIR` creates a workspace"
    )
    return ConfigError([Problem(message, None, "target")])


def locate_target(target: Path | None = None) -> Target:
    """Find what ``target`` (default: the current folder) points to; `ConfigError` if nothing."""
    from distrib.workspace import (
        CAMPAIGN_FILE,
        RELEASE_FILE,
        RELEASES,
        WORKSPACE_FILE,
        find_workspace,
    )

    start = Path.cwd() if target is None else target.expanduser()
    if not start.exists():
        raise ConfigError([Problem(f"{start}: no such file or folder", None, "target")])
    start = start.resolve()
    if start.is_file():
        if start.name == WORKSPACE_FILE:
            return Target(workspace=start)
        if start.suffix.lower() == ".toml" and start.name != RELEASE_FILE:
            return Target(campaign=start)
        start = start.parent  # release.toml, fr.md, an image…: the folder it is in
    if (start / WORKSPACE_FILE).is_file():
        return Target(workspace=start / WORKSPACE_FILE)
    if (start / CAMPAIGN_FILE).is_file():
        return Target(campaign=start / CAMPAIGN_FILE)
    found = find_workspace(start)
    if found is None:
        raise _nothing_here(start)
    releases = found.parent / RELEASES
    if start.is_relative_to(releases) and start != releases:
        return Target(workspace=found, release=start.relative_to(releases).parts[0])
    return Target(workspace=found)


def open_workspace(target: Path | None = None) -> Workspace:
    """Load the workspace ``target`` (default: the current folder) is in; `ConfigError` when
    there is none (a campaign file is not a workspace: `distrib migrate` makes one)."""
    from distrib.config import display_path
    from distrib.workspace import load_workspace

    found = locate_target(target)
    if found.workspace is None:
        assert found.campaign is not None
        message = (
            f"{display_path(found.campaign)} is a campaign file, not a workspace:"
            f" `distrib migrate {display_path(found.campaign)}` turns it into one"
        )
        raise ConfigError([Problem(message, None, "target")])
    return load_workspace(found.workspace)


def _choose(workspace: Workspace, named: str | None, asked: str | None) -> str:
    from distrib.config import display_path
    from distrib.workspace import RELEASES

    releases = workspace.releases()
    listed = ", ".join(releases) or "none yet: `distrib release new SLUG` adds one"
    root = display_path(workspace.root)
    root = "this workspace" if root == "." else f"the workspace {root}"
    if asked is not None:
        asked = asked.strip().strip("/").removeprefix(f"{RELEASES}/")
        if named is not None and asked != named:
            raise InvalidRequestError(
                f"--release {asked!r} but the folder given is release {named!r}: give one"
            )
        named = asked
    if named is not None:
        if named not in releases:
            raise ConfigError(
                [Problem(f"{root} has no release {named!r} (releases: {listed})", None, "target")]
            )
        return named
    if len(releases) == 1:
        return releases[0]
    if not releases:
        raise ConfigError([Problem(f"{root} has no release yet ({listed})", None, "target")])
    raise InvalidRequestError(
        f"{root} has {len(releases)} releases: say which one, e.g. `distrib send"
        f" {RELEASES}/{releases[-1]}` or `--release {releases[-1]}` (releases: {listed})"
    )


def open_release(target: Path | None = None, release: str | None = None) -> Campaign:
    """Resolve what a command names (see the module's docstring) to the `Campaign` that sends
    one release; `ConfigError` lists every problem of the files, `InvalidRequestError` says
    when a workspace has several releases and none was chosen."""
    from distrib.config import display_path, load_campaign
    from distrib.workspace import load_workspace, release_campaign

    found = locate_target(target)
    if found.campaign is not None:
        if release is not None:
            raise InvalidRequestError(
                f"--release {release!r}: {display_path(found.campaign)} is a campaign file with"
                " a single release (`distrib migrate` turns it into a workspace)"
            )
        return load_campaign(found.campaign)
    assert found.workspace is not None
    workspace = load_workspace(found.workspace)
    return release_campaign(workspace, _choose(workspace, found.release, release))


def workspace_settings(file: Path) -> Campaign:
    """A workspace file's settings as a `Campaign` named after the workspace's folder, with its
    releases folder in place of a release: for what every release shares (the sender, the
    lists, the log, the unsubscribe secret), e.g. the browser interface's home page."""
    from pydantic import ValidationError

    from distrib.config import Campaign, config_problems
    from distrib.workspace import load_workspace

    workspace = load_workspace(file)
    data = {
        **workspace.raw,
        "file": workspace.file,
        "workspace": workspace.file,
        "name": workspace.root.name or "distrib",
        "release": str(workspace.releases_folder),
    }
    try:
        return Campaign.model_validate(data, context={"base": workspace.root})
    except ValidationError as exc:  # load_workspace checked every key: not expected
        raise ConfigError(config_problems(workspace.file, exc)) from None


def start_workspace(folder: Path, identity: WorkspaceIdentity | None = None) -> list[Path]:
    """Write a starter workspace into ``folder`` (`distrib init`; ``identity``: the
    organisation, sender, time zone and language to write in, checked first: `ConfigError`
    names every field that is not valid, and nothing is written); return the files written.

    `FileExistsError` when a file would be overwritten (nothing is).
    """
    from distrib.app.editing import new_workspace_text
    from distrib.starter import write_workspace

    settings = None if identity is None else new_workspace_text(folder, identity)
    return write_workspace(folder, settings=settings)


@dataclass(frozen=True, slots=True)
class NewRelease:
    """A release folder `create_release` wrote."""

    workspace: Path
    folder: Path
    written: tuple[Path, ...]


def create_release(slug: str, workspace: Path | None = None) -> NewRelease:
    """Add release ``slug`` to the workspace ``workspace`` is in (default: the current folder):
    a folder of releases/ with a starter ``fr.md``, ``en.md`` and a commented ``release.toml``."""
    from distrib.starter import write_release
    from distrib.workspace import check_slug

    reason = check_slug(slug)
    if reason is not None:
        raise InvalidRequestError(reason)
    opened = open_workspace(workspace)
    folder = opened.releases_folder / slug
    if folder.exists():
        raise InvalidRequestError(f"{folder}: this release exists already")
    return NewRelease(opened.file, folder, tuple(write_release(folder)))


@dataclass(frozen=True, slots=True)
class TemplatesCopied:
    """Where `copy_templates` copied the built-in templates, and whether the workspace uses
    them yet (``setting``: the line to add to the workspace file, '' when it does)."""

    folder: Path
    written: tuple[Path, ...]
    workspace: Path | None
    setting: str


def copy_templates(folder: Path | None = None, workspace: Path | None = None) -> TemplatesCopied:
    """Copy the built-in templates into ``folder`` (default: ``templates/`` of the workspace
    ``workspace`` is in, or of the current folder) to customise them."""
    import os

    from distrib.starter import copy_templates as copy
    from distrib.workspace import find_workspace, load_workspace

    file = find_workspace(workspace or Path.cwd())
    if folder is None:
        folder = (file.parent if file is not None else Path.cwd()) / "templates"
    if folder.exists() and any(folder.iterdir()):
        raise InvalidRequestError(f"{folder}: not empty; choose another folder")
    written = tuple(copy(folder))
    setting = ""
    if file is not None:
        current = load_workspace(file).settings.templates
        if current is None or current.resolve() != folder.resolve():
            relative = Path(os.path.relpath(folder.resolve(), file.parent)).as_posix()
            setting = f'templates = "{relative}"'
    return TemplatesCopied(folder, written, file, setting)


def migrate_campaign(campaign: Path) -> Migrated:
    """Turn a standalone campaign file into a workspace beside it (`distrib.workspace.
    migrate_campaign`): same log, same name in it, so "already sent" still holds."""
    from distrib.config import display_path
    from distrib.workspace import migrate_campaign as migrate

    try:
        return migrate(campaign)
    except FileExistsError as exc:
        raise InvalidRequestError(
            f"{display_path(Path(str(exc)))}: exists already; nothing was written"
        ) from None
