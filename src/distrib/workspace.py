"""The workspace: one press office's settings, shared by every release it sends.

::

    distrib.toml                 the workspace file: sender, relay and limits, media lists,
                                 suppression lists, templates, the delivery log, segments
    distrib-log.sqlite           one log for every run of every release
    releases/
      2027-11-hiver-en-vitrine/  a release: fr.md, en.md, attachments,
        release.toml             and optional overrides (audience, templates, sender, press, name)
      2027-12-marche-des-cedres/

A release folder and the workspace file resolve to a `Campaign` (`release_campaign`) whose
``name`` is the folder's name (the release's key in the log: "already sent" and the lease are
per release) and whose log is the workspace's, so opt-outs, bounces and history carry over from
one release to the next.  A standalone ``campaign.toml`` is a one-release workspace
(`distrib.config.load_campaign`); `migrate_campaign` turns one into a workspace.

Problems are collected and reported as ``file: key: reason``, naming the file that holds the key.
"""

from __future__ import annotations

import re
import shutil
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError, field_validator

from distrib.config import (
    AudienceConfig,
    Campaign,
    Language,
    PressConfig,
    SenderConfig,
    Settings,
    _Frozen,
    _resolve,
    config_problems,
    display_path,
    missing_paths,
    read_toml,
    unknown_segments,
)
from distrib.errors import ConfigError, Location, Problem
from distrib.headers import find_forbidden

__all__ = [
    "CAMPAIGN_FILE",
    "RELEASES",
    "RELEASE_FILE",
    "WORKSPACE_FILE",
    "Migrated",
    "ReleaseSettings",
    "Workspace",
    "check_slug",
    "find_workspace",
    "load_workspace",
    "migrate_campaign",
    "release_campaign",
]

WORKSPACE_FILE = "distrib.toml"
RELEASES = "releases"
RELEASE_FILE = "release.toml"
CAMPAIGN_FILE = "campaign.toml"

_SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")

#: Keys of a campaign file that a workspace file does not take, and where they go instead.
_RELEASE_KEYS = {
    "name": "a release is named by its folder (or `name` in its release.toml)",
    "release": "releases are the folders of releases/",
    "audience": "each release chooses its audience in its release.toml ([audience])",
}


def check_slug(slug: str) -> str | None:
    """Return why ``slug`` cannot name a release folder, or None."""
    if not _SLUG.fullmatch(slug) or slug.endswith("."):
        return (
            f"{slug!r} is not a release name: letters, digits, '-', '_' and '.', starting with"
            " a letter or digit (e.g. 2027-11-hiver-en-vitrine)"
        )
    return None


class SenderOverride(SenderConfig):
    """A release's ``[sender]``: any key of the workspace's ``[sender]``, replacing it."""

    name: str | None = None  # type: ignore[assignment]
    address: str | None = None  # type: ignore[assignment]
    organisation: str | None = None  # type: ignore[assignment]
    postal_address: str | None = None  # type: ignore[assignment]
    unsubscribe_secret_env: str | None = None  # type: ignore[assignment]


class PressOverride(PressConfig):
    """A release's ``[press]``: any key of the workspace's ``[press]``, replacing it."""

    time_zone: str | None = None  # type: ignore[assignment]
    embargo_in_subject: bool | None = None  # type: ignore[assignment]
    immediate_release: bool | None = None  # type: ignore[assignment]


class ReleaseSettings(_Frozen):
    """A release's optional ``release.toml``: what this release does differently."""

    name: str | None = None  # the release's key in the log (default: its folder's name)
    templates: Path | None = None
    fallback_language: Language | None = None
    sender: SenderOverride | None = None
    press: PressOverride | None = None
    audience: AudienceConfig = AudienceConfig()

    _resolve_templates = field_validator("templates", mode="before")(_resolve)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and (not value or find_forbidden(value)):
            raise ValueError("must be a non-empty single line")
        return value


@dataclass(frozen=True, slots=True)
class Workspace:
    """A workspace file, read and validated (``raw``: its keys as written)."""

    file: Path
    settings: Settings
    raw: Mapping[str, Any]

    @property
    def root(self) -> Path:
        """The folder holding the workspace file."""
        return self.file.parent

    @property
    def releases_folder(self) -> Path:
        """``releases/``: one folder per release."""
        return self.root / RELEASES

    @property
    def log_target(self) -> Path | str:
        """The workspace's delivery log: a file (default: ``distrib-log.sqlite`` beside the
        workspace file) or a ``postgresql://`` URL."""
        log = self.settings.log
        return log if log is not None else self.root / "distrib-log.sqlite"

    def releases(self) -> list[str]:
        """The releases, by folder name (sorted: dated names sort by date)."""
        if not self.releases_folder.is_dir():
            return []
        return sorted(
            p.name
            for p in self.releases_folder.iterdir()
            if p.is_dir() and not p.name.startswith((".", "_")) and check_slug(p.name) is None
        )


def find_workspace(start: Path) -> Path | None:
    """Return the workspace file of ``start`` or of the nearest folder above it, or None."""
    folder = start.resolve()
    if folder.is_file():
        folder = folder.parent
    for candidate in (folder, *folder.parents):
        file = candidate / WORKSPACE_FILE
        if file.is_file():
            return file
    return None


def load_workspace(path: Path) -> Workspace:
    """Read and validate a workspace file; raise `ConfigError` listing every problem."""
    file = path.expanduser().resolve()
    where = Location(display_path(file))
    raw = read_toml(file, "workspace file")
    problems = [
        Problem(f"{key}: not a workspace key: {why}", where, "config")
        for key, why in _RELEASE_KEYS.items()
        if key in raw
    ]
    problems += [
        Problem(f"{key}: unknown key", where, "config")
        for key in ("file", "workspace", "drop_embargo")
        if key in raw
    ]
    if problems:
        raise ConfigError(problems)
    try:
        settings = Settings.model_validate(raw, context={"base": file.parent})
    except ValidationError as exc:
        raise ConfigError(config_problems(file, exc)) from None
    except RecursionError:
        message = "not a workspace file: arrays or tables nested hundreds of levels deep"
        raise ConfigError([Problem(message, where, "toml")]) from None
    return Workspace(file, settings, raw)


def release_campaign(workspace: Workspace, slug: str) -> Campaign:
    """Resolve release ``slug`` of ``workspace`` to the `Campaign` that sends it.

    The workspace's settings, then the release's ``release.toml`` over them (its ``[sender]``
    and ``[press]`` key by key); ``name`` is the slug unless the release renames it; the log is
    the workspace's.
    """
    folder = workspace.releases_folder / slug
    release_file = folder / RELEASE_FILE
    raw: dict[str, Any] = read_toml(release_file, "release file") if release_file.is_file() else {}
    try:
        own = ReleaseSettings.model_validate(raw, context={"base": folder})
    except ValidationError as exc:
        raise ConfigError(config_problems(release_file, exc)) from None
    data: dict[str, Any] = {**workspace.raw}
    data["sender"] = {**data.get("sender", {}), **raw.get("sender", {})}
    if "press" in raw:
        data["press"] = {**data.get("press", {}), **raw["press"]}
    if "list_id" not in data["sender"]:
        # Every release of the office is one list for the journalists' filters (RFC 2919).
        data["sender"]["list_id"] = _list_id(workspace.settings.sender.domain)
    if own.templates is not None:
        data["templates"] = str(own.templates)
    if own.fallback_language is not None:
        data["fallback_language"] = own.fallback_language
    data.update(
        file=workspace.file,
        workspace=workspace.file,
        name=own.name or slug,
        release=str(folder),
        audience=raw.get("audience", {}),
    )
    try:
        campaign = Campaign.model_validate(data, context={"base": workspace.root})
    except ValidationError as exc:  # the release's keys were valid: the mix is not
        raise ConfigError(config_problems(release_file, exc)) from None
    problems = missing_paths(campaign) + unknown_segments(campaign, release_file)
    if problems:
        raise ConfigError(problems)
    return campaign


def _list_id(domain: str) -> str | None:
    """``communiques.<sender domain>``, the List-Id every release of a workspace shares."""
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    return f"communiques.{ascii_domain}"


@dataclass(frozen=True, slots=True)
class Migrated:
    """What `migrate_campaign` wrote, and where the release now lives."""

    workspace: Path  # the new distrib.toml
    release: Path  # releases/<slug>/
    slug: str
    name: str  # the log's key for the release (the campaign's name: "already sent" holds)
    written: tuple[Path, ...]
    log: Path | str


def _top_level_span(lines: list[str]) -> int:
    """The number of lines before the first table header (where top-level keys live)."""
    for number, line in enumerate(lines):
        if re.match(r"\s*\[", line):
            return number
    return len(lines)


def _without_release_keys(text: str) -> str:
    """The campaign file's text without its top-level ``name`` and ``release`` keys and its
    ``[audience]`` tables, comments and layout kept."""
    lines = text.splitlines(keepends=True)
    top = _top_level_span(lines)
    kept = [
        line
        for number, line in enumerate(lines)
        if number >= top or not re.match(r"\s*(name|release)\s*=", line)
    ]
    out: list[str] = []
    skipping = False
    for line in kept:
        header = re.match(r"\s*\[\[?\s*([A-Za-z0-9_.\"' -]+?)\s*\]\]?", line)
        if header:
            skipping = header.group(1).split(".")[0].strip("\"' ") == "audience"
        if not skipping:
            out.append(line)
    return "".join(out)


def _toml_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _release_toml(name: str | None, audience: Mapping[str, Any], list_id: str | None) -> str:
    """A release.toml keeping the campaign's name (when the slug differs), its List-Id and its
    audience."""
    lines = ["# This release's own settings (see the README's workspace file reference).\n"]
    if name is not None:
        lines.append(f"name = {_toml_string(name)}  # its key in the delivery log\n")
    if list_id is not None:
        lines.append("\n[sender]\n")
        lines.append(f"list_id = {_toml_string(list_id)}  # as the campaign file had it\n")
    if audience:
        lines.append("\n[audience]\n")
        for key, value in audience.items():
            if isinstance(value, Mapping):
                continue
            lines.append(f"{key} = {_toml_value(value)}\n")
        for key, value in audience.items():
            if isinstance(value, Mapping):
                lines.append(f"\n[audience.{key}]\n")
                lines += [f"{_toml_string(k)} = {_toml_value(v)}\n" for k, v in value.items()]
    return "".join(lines)


def _toml_value(value: Any) -> str:
    if isinstance(value, str):
        return _toml_string(value)
    return "[" + ", ".join(_toml_string(str(v)) for v in value) + "]"


def migrate_campaign(path: Path) -> Migrated:
    """Turn a standalone campaign file into a workspace in the same folder.

    Writes ``distrib.toml`` (the campaign file's settings, comments kept, without ``name``,
    ``release`` and ``[audience]``) and ``releases/<slug>/`` (a copy of the release folder, and
    a ``release.toml`` keeping the campaign's name when the slug differs from it, its List-Id
    and its audience).  The log stays where it is and the release keeps its name in it, so "already
    sent" still holds.  Nothing is moved or deleted: the campaign file and its release folder
    still work (same log, same name) until the officer removes them.  `FileExistsError` when
    the workspace file or the release folder exists already (nothing written).
    """
    from distrib.config import load_campaign
    from distrib.contacts.normalize import slugify

    campaign = load_campaign(path)
    root = campaign.folder
    workspace_file = root / WORKSPACE_FILE
    slug = campaign.name if check_slug(campaign.name) is None else slugify(campaign.name)
    slug = slug or "release"
    release = root / RELEASES / slug
    for clash in (workspace_file, release):
        if clash.exists():
            raise FileExistsError(str(clash))
    if root.is_relative_to(campaign.release):
        where = Location(display_path(campaign.file))
        message = "release: the release folder holds the campaign file; move fr.md/en.md first"
        raise ConfigError([Problem(message, where, "config")])
    text = campaign.file.read_text(encoding="utf-8-sig")
    workspace_text = (
        f"# The workspace of {campaign.file.name}, written by `distrib migrate`.\n"
        "# Reference: the README's workspace file section.\n" + _without_release_keys(text)
    )
    raw = read_toml(campaign.file)
    expected = {k: v for k, v in raw.items() if k not in _RELEASE_KEYS}
    if tomllib.loads(workspace_text) != expected:  # a layout the line edit cannot handle
        where = Location(display_path(campaign.file))
        message = (
            "cannot convert this file automatically (write distrib.toml by hand: the same"
            " keys without name, release and [audience])"
        )
        raise ConfigError([Problem(message, where, "config")])
    written = [workspace_file]
    shutil.copytree(campaign.release, release, symlinks=True)
    written.append(release)
    audience = raw.get("audience", {})
    # The List-Id the campaign file's messages had (its default depends on the name), so that
    # messages of the release read as before (and journalists' filters keep working).
    list_id = None
    shared = _list_id(campaign.sender.domain)
    if campaign.sender.list_id is None and shared is not None:
        domain = shared.removeprefix("communiques.")
        list_id = f"{slugify(campaign.name) or 'communiques'}.{domain}"
    settings = release / RELEASE_FILE
    renamed = campaign.name if campaign.name != slug else None
    settings.write_text(_release_toml(renamed, audience, list_id), encoding="utf-8")
    written.append(settings)
    workspace_file.write_text(workspace_text, encoding="utf-8")
    return Migrated(
        workspace_file, release, slug, campaign.name, tuple(written), campaign.log_target
    )
