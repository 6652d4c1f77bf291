"""Editing a workspace from the browser: its settings, its media lists, a release's text and
audience.  Every change is checked with the same models as loading before anything is written,
and is written in place (comments and order of the TOML files kept, with tomlkit).

The verbs:

* settings: `EDITABLE_SETTINGS`, `update_workspace_settings`, `relay_presets`;
* media lists: `add_media_list`, `list_columns`, `map_list_columns`;
* releases: `list_releases`, `read_release_text`, `save_release_text`, `markdown_html`,
  `attach_to_release`;
* audience: `audience_options`, `count_audience`, `save_audience`.
"""

from __future__ import annotations

import os
import tempfile
import tomllib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from distrib.errors import ConfigError, InvalidRequestError, Location, Problem, ReleaseError

if TYPE_CHECKING:
    from distrib.config import Campaign, Settings
    from distrib.contacts.model import AudienceSummary

__all__ = [
    "EDITABLE_SETTINGS",
    "LIST_FIELDS",
    "AudienceChoice",
    "AudienceOptions",
    "ListColumns",
    "RelayPreset",
    "ReleaseListing",
    "ReleaseText",
    "WorkspaceIdentity",
    "add_media_list",
    "attach_to_release",
    "audience_options",
    "count_audience",
    "list_columns",
    "list_names",
    "list_releases",
    "map_list_columns",
    "markdown_html",
    "new_workspace_text",
    "read_release_text",
    "relay_presets",
    "release_path",
    "save_audience",
    "save_release_text",
    "update_workspace_settings",
]

#: The workspace keys the settings page edits, and the type of each.  Passwords are not among
#: them: they stay in the environment or the keyring.
EDITABLE_SETTINGS: dict[str, type] = {
    "sender.organisation": str,
    "sender.name": str,
    "sender.address": str,
    "sender.reply_to": str,
    "sender.postal_address": str,
    "sender.contact": str,
    "sender.website": str,
    "sender.unsubscribe_url": str,
    "timezone": str,
    "press.time_zone": str,
    "press.logo": str,
    "press.logo_alt": str,
    "press.logo_width": int,
    "smtp.host": str,
    "smtp.port": int,
    "smtp.security": str,
    "smtp.username": str,
    "limits.rate": float,
    "limits.connections": int,
    "limits.per_minute": int,
    "limits.per_hour": int,
}
#: Keys that may be left blank (removed from the file, so their default applies).
_OPTIONAL = frozenset(
    {
        "sender.reply_to",
        "sender.contact",
        "sender.website",
        "sender.unsubscribe_url",
        "timezone",
        "press.time_zone",
        "press.logo",
        "press.logo_alt",
        "press.logo_width",
        "smtp.username",
        "limits.per_minute",
        "limits.per_hour",
    }
)
#: The fields a list's column can feed, offered when mapping a column.
LIST_FIELDS = (
    "email", "first_name", "last_name", "full_name", "outlet", "language", "title", "beat",
    "region", "outlet_type", "tags", "phone", "city",
)  # fmt: skip
_FRONT_KEYS = ("title", "subject", "dateline", "summary", "embargo", "hold_until")


def _workspace_of(file: Path) -> Path:
    from distrib.workspace import WORKSPACE_FILE

    if file.name != WORKSPACE_FILE:
        raise InvalidRequestError(
            f"{file.name}: this page edits a workspace (distrib.toml); `distrib migrate` turns a"
            " campaign file into one"
        )
    return file


def _write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` (a reader sees the old file or the new one, never half)."""
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        if path.exists():
            Path(temporary).chmod(path.stat().st_mode & 0o777)
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _check_workspace_text(file: Path, text: str) -> None:
    """Validate a workspace file's new text as `distrib.workspace.load_workspace` would."""
    from pydantic import ValidationError

    from distrib.config import Settings, config_problems

    raw = tomllib.loads(text)
    try:
        Settings.model_validate(raw, context={"base": file.parent})
    except ValidationError as exc:
        raise ConfigError(config_problems(file, exc)) from None


def _edit_toml(path: Path, edit: Any, check: Any) -> None:
    """Parse ``path`` with tomlkit, apply ``edit(document)``, ``check(path, text)``, write."""
    import tomlkit

    text = path.read_text(encoding="utf-8-sig") if path.is_file() else ""
    document = tomlkit.parse(text)
    edit(document)
    new = tomlkit.dumps(document)
    check(path, new)
    _write_atomically(path, new)


# -- settings ---------------------------------------------------------------------------------


def _typed(key: str, value: str, kind: type) -> Any:
    if kind is str:
        return value
    try:
        return kind(value)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise ConfigError(
            [Problem(f"{key}: {value!r} is not {what}", None, "config")], "invalid settings"
        ) from None


def _typed_changes(changes: Mapping[str, str], kinds: Mapping[str, type]) -> dict[str, Any]:
    """``changes`` as TOML values (None: remove the key); `ConfigError` naming every field."""
    unknown = sorted(set(changes) - set(kinds))
    if unknown:
        raise InvalidRequestError(f"not a setting this page edits: {', '.join(unknown)}")
    problems: list[Problem] = []
    typed: dict[str, Any] = {}
    for key, text in changes.items():
        value = text.strip()
        if not value:
            if key not in _OPTIONAL:
                problems.append(Problem(f"{key}: must not be blank", None, "config"))
            typed[key] = None
            continue
        try:
            typed[key] = _typed(key, value, kinds[key])
        except ConfigError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ConfigError(problems, "the settings were not saved")
    return typed


def _set_keys(document: Any, typed: Mapping[str, Any]) -> None:
    """Write dotted keys into a tomlkit ``document`` (None removes the key)."""
    import tomlkit

    for key, value in typed.items():
        *tables, name = key.split(".")
        container = document
        for table in tables:
            if table not in container:
                if value is None:
                    break
                container[table] = tomlkit.table()
            container = container[table]
        else:
            if value is None:
                container.pop(name, None)
            else:
                container[name] = value


def update_workspace_settings(file: Path, changes: Mapping[str, str]) -> None:
    """Write ``changes`` (`EDITABLE_SETTINGS` keys → the text typed; blank removes an optional
    key) into the workspace file, comments and order kept.  `ConfigError` names every field
    that is not valid; nothing is written then."""
    _workspace_of(file)
    typed = _typed_changes(changes, EDITABLE_SETTINGS)
    _edit_toml(file, lambda document: _set_keys(document, typed), _check_workspace_text)


@dataclass(frozen=True, slots=True)
class WorkspaceIdentity:
    """Who a new workspace speaks for (`start_workspace`): the organisation, the sender's name
    and address, the office's time zone, and the language of contacts that name none."""

    organisation: str
    name: str
    address: str
    time_zone: str
    language: str = "fr"


def new_workspace_text(folder: Path, identity: WorkspaceIdentity) -> str:
    """The starter ``distrib.toml`` with ``identity`` written in (its comments kept), checked
    as loading would; `ConfigError` names every field that is not valid."""
    import tomlkit

    from distrib.starter import starter_settings

    changes = {
        "sender.organisation": identity.organisation,
        "sender.name": identity.name,
        "sender.address": identity.address,
        "sender.reply_to": "",  # the starter's example address is nobody's
        "timezone": identity.time_zone,
        "default_language": identity.language,
    }
    blank = [key for key, value in changes.items() if not value.strip() and key not in _OPTIONAL]
    typed = {key: value.strip() or None for key, value in changes.items() if key not in blank}
    document = tomlkit.parse(starter_settings())
    _set_keys(document, typed)
    text = tomlkit.dumps(document)
    problems = [Problem(f"{key}: must not be blank", None, "config") for key in blank]
    try:
        _check_workspace_text(folder / "distrib.toml", text)
    except ConfigError as exc:
        problems.extend(exc.problems)
    if problems:  # every field at once
        raise ConfigError(problems, "the workspace was not created")
    return text


@dataclass(frozen=True, slots=True)
class RelayPreset:
    """A known relay, for the settings page's drop-down."""

    name: str
    label: str
    host: str
    port: int
    security: str


def relay_presets() -> tuple[RelayPreset, ...]:
    """The relays distrib knows (`distrib.relay.presets`); a host with a ``{region}`` part is
    given as written, for the officer to complete."""
    from distrib.relay.presets import PRESETS

    return tuple(
        RelayPreset(p.name, p.label, p.host or "", p.port, p.security) for p in PRESETS.values()
    )


# -- media lists ------------------------------------------------------------------------------


def add_media_list(file: Path, path: Path, name: str) -> None:
    """Add the contact file ``path`` (inside the workspace's folder) to the workspace's lists,
    last in priority, named ``name`` (the name the officer knows it by, for audience rules)."""
    import tomlkit

    from distrib.headers import find_forbidden

    _workspace_of(file)
    relative = path.resolve().relative_to(file.parent.resolve()).as_posix()
    shown = name if name and not find_forbidden(name) else path.name

    def edit(document: Any) -> None:
        entry = tomlkit.table()
        entry["path"] = relative
        entry["name"] = shown
        sources = document.get("sources")
        if sources is None:
            document["sources"] = tomlkit.aot()
            sources = document["sources"]
        sources.append(entry)

    _edit_toml(file, edit, _check_workspace_text)


@dataclass(frozen=True, slots=True)
class ListColumns:
    """One media list's columns and the field each feeds (``mapped``: set by the officer)."""

    index: int
    name: str
    headers: tuple[str, ...]
    fields: tuple[str, ...]
    mapped: frozenset[int]
    problem: str | None = None  # why the columns could not be read


def _raw_headers(source: Any) -> tuple[str, ...]:
    from distrib.contacts.read import read_tables

    sheet = source.sheet if isinstance(source.sheet, str) else None
    tables = read_tables(
        source.path, encoding=source.encoding, delimiter=source.delimiter, sheet=sheet
    )
    for row in tables[0].frame.itertuples(index=False):
        cells = tuple(str(cell).strip() for cell in row)
        if any(cells):
            return cells
    return ()


def list_names(campaign: Campaign) -> dict[str, str]:
    """Each media list's name as the officer gave it (``name``, else the file's name), by the
    path the contacts stage shows for it: what a page shows instead of the stored file's path
    (an uploaded list is kept as ``uploads/<hash>.csv``)."""
    from distrib.config import display_path

    return {display_path(source.path): source.list_name for source in campaign.sources}


def list_columns(campaign: Campaign) -> list[ListColumns]:
    """Every media list's columns, as the lists are read (the header row found, else the first
    row that is not blank: a list without an address column needs one mapped)."""
    from distrib.contacts.columns import map_columns
    from distrib.contacts.read import read_source
    from distrib.errors import ContactsError

    found: list[ListColumns] = []
    for index, source in enumerate(campaign.sources):
        problem = None
        try:
            headers = tuple(read_source(source).headers)
        except ContactsError as exc:
            problem = "; ".join(p.message for p in exc.problems)
            try:
                headers = _raw_headers(source)
            except ContactsError:
                headers = ()
        columns = map_columns(headers, source.columns)
        fields = tuple(columns.fields[i] for i in range(len(headers)))
        found.append(
            ListColumns(index, source.list_name, headers, fields, columns.overridden, problem)
        )
    return found


def map_list_columns(file: Path, index: int, mapping: Mapping[str, str]) -> None:
    """Set list ``index``'s ``columns`` (header as written → field; a blank field removes the
    header's mapping, so distrib recognises it again)."""
    import tomlkit

    _workspace_of(file)
    bad = sorted(f for f in mapping.values() if f and f not in LIST_FIELDS)
    if bad:
        raise InvalidRequestError(f"not a field a column can feed: {', '.join(bad)}")

    def edit(document: Any) -> None:
        sources = document.get("sources")
        if sources is None or not 0 <= index < len(sources):
            raise InvalidRequestError(f"no media list number {index + 1}")
        entry = sources[index]
        columns = {str(k): str(v) for k, v in entry.get("columns", {}).items()}
        for header, target in mapping.items():
            if target:
                columns[header] = target
            else:
                columns.pop(header, None)
        if columns:
            table = tomlkit.inline_table()
            table.update(columns)
            entry["columns"] = table
        else:
            entry.pop("columns", None)

    _edit_toml(file, edit, _check_workspace_text)


# -- releases ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReleaseListing:
    """A release of the workspace: its folder name and the title of each language found."""

    slug: str
    titles: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class ReleaseText:
    """One language of a release as the form edits it.

    ``embargo`` and ``hold_until`` are wall-clock times in ``zone`` (``2027-11-04T09:00``, as a
    date-time picker gives them), '' for none.  ``attachments``: file names of the folder.
    """

    lang: str
    title: str = ""
    subject: str = ""
    dateline: str = ""
    summary: str = ""
    embargo: str = ""
    hold_until: str = ""
    body: str = ""
    zone: str = "America/Toronto"
    attachments: tuple[str, ...] = ()
    exists: bool = True
    others: Mapping[str, Any] = field(default_factory=dict)  # front matter keys not edited here


def _release_folder(file: Path, slug: str) -> Path:
    from distrib.workspace import check_slug, load_workspace

    reason = check_slug(slug)
    if reason is not None:
        raise InvalidRequestError(reason)
    folder = load_workspace(_workspace_of(file)).releases_folder / slug
    if not folder.is_dir():
        raise InvalidRequestError(f"no release {slug!r} in this workspace")
    return folder


def release_path(file: Path, slug: str) -> Path:
    """The folder of release ``slug`` of the workspace (`InvalidRequestError` if none)."""
    return _release_folder(file, slug)


def _zone(file: Path, slug: str) -> str:
    return _release_settings(file, slug).press.time_zone


def _release_settings(file: Path, slug: str) -> Settings:
    """The settings a send of release ``slug`` uses (the workspace's when the release's own
    cannot be read yet)."""
    from distrib.workspace import load_workspace, release_campaign

    workspace = load_workspace(file)
    try:
        return release_campaign(workspace, slug)
    except ConfigError:
        return workspace.settings


def list_releases(file: Path) -> list[ReleaseListing]:
    """The workspace's releases, newest name last, with their titles."""
    from distrib.workspace import load_workspace

    workspace = load_workspace(_workspace_of(file))
    listed = []
    for slug in workspace.releases():
        titles = {}
        for lang in ("fr", "en"):
            front, _ = _read_front(workspace.releases_folder / slug / f"{lang}.md")
            if front is not None:
                titles[lang] = str(front.get("title", ""))
        listed.append(ReleaseListing(slug, titles))
    return listed


def _read_front(path: Path) -> tuple[dict[str, Any] | None, str]:
    """(front matter, body) of a release document; (None, "") when there is no such file;
    ({}, whole text) when its front matter cannot be read."""
    import yaml

    from distrib.importing.write import split_document

    if not path.is_file():
        return None, ""
    text = path.read_text(encoding="utf-8-sig", errors="replace")
    front, body = split_document(text)
    try:
        loaded = yaml.load(front, Loader=yaml.BaseLoader) if front else {}  # noqa: S506
    except yaml.YAMLError:
        return {}, text
    return (loaded if isinstance(loaded, dict) else {}), body


def _local(value: str, zone: str) -> str:
    from zoneinfo import ZoneInfo

    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return ""
    if moment.tzinfo is None:
        return moment.strftime("%Y-%m-%dT%H:%M")
    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%dT%H:%M")


def read_release_text(file: Path, slug: str, lang: str) -> ReleaseText:
    """The ``lang`` document of release ``slug`` as the edit form shows it."""
    if lang not in ("fr", "en"):
        raise InvalidRequestError(f"{lang!r}: use fr or en")
    folder = _release_folder(file, slug)
    zone = _zone(file, slug)
    front, body = _read_front(folder / f"{lang}.md")
    if front is None:
        return ReleaseText(lang, zone=zone, exists=False)
    attachments = front.get("attachments", [])
    return ReleaseText(
        lang,
        title=str(front.get("title", "")),
        subject=str(front.get("subject", "")),
        dateline=str(front.get("dateline", "")),
        summary=str(front.get("summary", "")),
        embargo=_local(str(front.get("embargo", "")), zone),
        hold_until=_local(str(front.get("hold_until", "")), zone),
        body=body.strip("\n"),
        zone=zone,
        attachments=tuple(str(a) for a in attachments) if isinstance(attachments, list) else (),
        others={k: v for k, v in front.items() if k not in (*_FRONT_KEYS, "attachments")},
    )


def _moment(key: str, value: str, zone: str, shown: str) -> str | None:
    """A date-time picker's value in ``zone`` as an ISO moment with its offset."""
    from zoneinfo import ZoneInfo

    if not value.strip():
        return None
    try:
        local = datetime.fromisoformat(value.strip())
    except ValueError:
        message = f"{key}: {value!r} is not a date and time (e.g. 2027-11-04T09:00)"
        raise ReleaseError([Problem(message, Location(shown), "front-matter")]) from None
    if local.tzinfo is None:
        local = local.replace(tzinfo=ZoneInfo(zone))
    return local.isoformat(timespec="minutes")


def save_release_text(file: Path, slug: str, text: ReleaseText) -> Path:
    """Write ``text`` as the release's ``fr.md`` / ``en.md`` (front matter + Markdown body),
    keeping the front matter keys the form does not edit.  The document is read back as a send
    would read it; on a problem (`ReleaseError`, each ``file:line: key: reason``) the previous
    file is put back."""
    from distrib.config import display_path
    from distrib.importing.write import render_document
    from distrib.release import check_document

    if text.lang not in ("fr", "en"):
        raise InvalidRequestError(f"{text.lang!r}: use fr or en")
    folder = _release_folder(file, slug)
    path = folder / f"{text.lang}.md"
    shown = display_path(path)
    zone = _zone(file, slug)
    front: dict[str, Any] = {}
    for key in ("title", "subject", "dateline", "summary"):
        value = " ".join(str(getattr(text, key)).split())
        if value:
            front[key] = value
    for key in ("embargo", "hold_until"):
        moment = _moment(key, getattr(text, key), zone, shown)
        if moment is not None:
            front[key] = moment
    if text.attachments:
        front["attachments"] = list(text.attachments)
    front.update(text.others)
    old = path.read_bytes() if path.is_file() else None
    _write_atomically(path, render_document(front, text.body.replace("\r\n", "\n")))
    settings = _release_settings(file, slug)
    problems = check_document(
        text.lang,  # type: ignore[arg-type]
        path,
        max_attachments_mb=settings.max_attachments_mb,
        press=settings.press,
        domain=settings.sender.domain,
    )
    if problems:
        if old is None:
            path.unlink()
        else:
            _write_atomically(path, old.decode("utf-8", "replace"))
        raise ReleaseError(problems, f"{shown} was not saved")
    return path


def markdown_html(markdown: str) -> str:
    """A release body's HTML, as messages show it (raw HTML in the Markdown is not kept)."""
    from distrib.release import markdown_html as render

    return str(render(markdown))


def attach_to_release(file: Path, slug: str, lang: str, stored: Path) -> ReleaseText:
    """Add ``stored`` (a file already written in the release's folder) to the ``lang``
    document's attachments and save it."""
    from dataclasses import replace

    folder = _release_folder(file, slug)
    if stored.resolve().parent != folder.resolve():
        raise InvalidRequestError(f"{stored.name}: not a file of release {slug!r}")
    current = read_release_text(file, slug, lang)
    if not current.exists:
        raise InvalidRequestError(f"release {slug!r} has no {lang}.md yet: write its text first")
    updated = replace(current, attachments=(*current.attachments, stored.name))
    save_release_text(file, slug, updated)
    return updated


# -- audience ---------------------------------------------------------------------------------

#: The columns the audience page offers, and where a contact's value is.
AUDIENCE_COLUMNS = ("beat", "outlet", "region", "language")


@dataclass(frozen=True, slots=True)
class AudienceChoice:
    """What the audience page picks: per column, the values to include / exclude; segments."""

    include: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    exclude: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    segments: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AudienceOptions:
    """The values each audience column holds in the lists, the saved segments, and the
    release's current choice."""

    values: Mapping[str, tuple[str, ...]]
    segments: tuple[str, ...]
    current: AudienceChoice
    received: str | None
    not_received: str | None


def _release_campaign(file: Path, slug: str) -> Campaign:
    from distrib.workspace import load_workspace, release_campaign

    _release_folder(file, slug)
    return release_campaign(load_workspace(file), slug)


def _one_per_fold(found: Counter[str]) -> tuple[str, ...]:
    """One spelling per value as rules compare them (the most common; then the first in
    order), sorted without case."""
    from distrib.contacts.audience import fold

    best: dict[str, str] = {}
    for value in sorted(filter(None, found), key=lambda v: (-found[v], v)):
        best.setdefault(fold(value), value)
    return tuple(sorted(best.values(), key=str.casefold))


def audience_options(file: Path, slug: str) -> AudienceOptions:
    """What the audience page of release ``slug`` offers (the lists are read, not the log)."""
    from distrib.contacts import load_contacts
    from distrib.contacts.audience import fold

    campaign = _release_campaign(file, slug)
    book = load_contacts(campaign)
    # Rules compare values without case, accents or extra spaces (`contacts.audience.fold`):
    # "CULTURE" and "Culture" are one box, shown as most contacts write it.
    values: dict[str, Counter[str]] = {column: Counter() for column in AUDIENCE_COLUMNS}
    for contact in book.contacts:
        values["outlet"][contact.outlet] += 1
        values["language"][contact.language] += 1
        for column in ("beat", "region"):
            values[column][contact.fields.get(column, "")] += 1
    shown = {column: _one_per_fold(found) for column, found in values.items()}

    def as_shown(column: str, chosen: Any) -> tuple[str, ...]:
        spelling = {fold(value): value for value in shown.get(column, ())}
        return tuple(dict.fromkeys(spelling.get(fold(v), v) for v in chosen))

    audience = campaign.audience
    current = AudienceChoice(
        {k: as_shown(k, v) for k, v in audience.include.items()},
        {k: as_shown(k, v) for k, v in audience.exclude.items()},
        tuple(audience.segment),
    )
    return AudienceOptions(
        shown,
        tuple(sorted(campaign.segments)),
        current,
        audience.received,
        audience.not_received,
    )


def _audience_table(choice: AudienceChoice, keep: Mapping[str, Any]) -> dict[str, Any]:
    table: dict[str, Any] = {k: v for k, v in keep.items() if k in ("received", "not_received")}
    if choice.segments:
        table["segment"] = list(choice.segments)
    include = {k: list(v) for k, v in choice.include.items() if v}
    exclude = {k: list(v) for k, v in choice.exclude.items() if v}
    if include:
        table["include"] = include
    if exclude:
        table["exclude"] = exclude
    return table


def count_audience(file: Path, slug: str, choice: AudienceChoice) -> AudienceSummary:
    """Who ``choice`` keeps of the merged lists (after opt-outs and bounces), and how many each
    rule leaves out: the same rules `distrib send` applies."""
    from distrib.app.audience import load_audience
    from distrib.config import AudienceConfig
    from distrib.contacts.model import AudienceSummary

    campaign = _release_campaign(file, slug)
    kept = {"received": campaign.audience.received, "not_received": campaign.audience.not_received}
    table = _audience_table(choice, {k: v for k, v in kept.items() if v is not None})
    try:
        audience = AudienceConfig.model_validate(table)
    except ValueError as exc:
        raise InvalidRequestError(f"audience: {exc}") from None
    book = load_audience(campaign.model_copy(update={"audience": audience}))
    if book.audience is None:
        return AudienceSummary((), len(book.contacts), len(book.contacts), {})
    return book.audience


def save_audience(file: Path, slug: str, choice: AudienceChoice) -> Path:
    """Write ``choice`` as the release's ``[audience]`` in its ``release.toml`` (its other
    settings and comments kept; ``received``/``not_received`` kept as they are)."""
    import tomlkit

    from distrib.workspace import RELEASE_FILE, load_workspace, release_campaign

    folder = _release_folder(file, slug)
    path = folder / RELEASE_FILE

    def edit(document: Any) -> None:
        old = document.get("audience", {})
        table = tomlkit.table()
        for key, value in _audience_table(choice, dict(old)).items():
            if isinstance(value, dict):
                inline = tomlkit.inline_table()
                inline.update(value)
                table[key] = inline
            else:
                table[key] = value
        document["audience"] = table

    def check(target: Path, text: str) -> None:
        # The release must still load with its new audience (segments known, values valid).
        old = target.read_bytes() if target.is_file() else None
        _write_atomically(target, text)
        try:
            release_campaign(load_workspace(file), slug)
        except ConfigError:
            if old is None:
                target.unlink()
            else:
                _write_atomically(target, old.decode("utf-8"))
            raise

    _edit_toml(path, edit, check)
    return path
