"""Releases: importing one from Word, a web page or plain text into ``fr.md`` / ``en.md``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from distrib.errors import InvalidRequestError

if TYPE_CHECKING:
    from distrib.importing import ImportReport

__all__ = ["STDIN", "import_release", "release_folder"]

#: The file name that means "the text given on standard input".
STDIN = "-"


def import_release(
    files: Sequence[str | Path],
    *,
    release: Path | str | None = None,
    lang: str | None = None,
    tz: str = "America/Toronto",
    force: bool = False,
    dateline: str | None = None,
    embargo: str | None = None,
    stdin: bytes | None = None,
) -> ImportReport:
    """Turn each file into the release's ``fr.md`` / ``en.md`` (front matter + Markdown), its
    images and attachments; return what was understood, dropped and written.

    ``release``: the release folder, or the name of a release of the workspace the current
    folder is in (`release_folder`).  ``"-"`` in
    ``files`` is ``stdin``'s text.  ``tz``: the zone of an embargo line that names none.
    Nothing is written when a file has a problem (`ReleaseImportError`); an edited file is never
    replaced without ``force`` (`ReleaseOverwriteError` holds the front-matter diffs).
    """
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from distrib.importing import InputFile
    from distrib.importing import import_release as run_import
    from distrib.importing.parts import parse_embargo

    if lang is not None and lang not in ("fr", "en"):
        raise InvalidRequestError(f"--lang {lang!r}: use fr or en")
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidRequestError(f"--tz {tz!r}: not a time zone (e.g. America/Toronto)") from None
    moment = None
    if embargo is not None:
        moment = parse_embargo(embargo, zone).moment
        if moment is None:
            raise InvalidRequestError(
                f"--embargo {embargo!r}: give a date and a time, e.g. 2027-11-04 09:00"
            )
    target = release_folder(release)
    sources: list[Path | InputFile] = []
    for name in files:
        if str(name) == STDIN:
            sources.append(InputFile("<stdin>", stdin or b"", "text"))
        else:
            sources.append(Path(name))
    return run_import(
        sources,
        target=target,
        timezone=zone,
        lang=lang,  # type: ignore[arg-type]
        force=force,
        dateline=dateline,
        embargo=moment,
    )


def release_folder(release: Path | str | None) -> Path:
    """The folder a release import writes to.

    ``release``: an existing folder; or, in a workspace (the current folder or one above it),
    a release's name (``releases/NAME``, made if new); or any other folder path.  None: the
    release folder the current folder is in, else the one ``./campaign.toml`` names.
    """
    from distrib.importing import campaign_release_folder
    from distrib.workspace import RELEASES, check_slug, find_workspace

    if release is not None:
        path = Path(release)
        workspace = find_workspace(Path.cwd())
        if path.is_dir() or workspace is None or len(path.parts) != 1:
            return path
        reason = check_slug(str(release))
        if reason is not None:
            raise InvalidRequestError(f"--release: {reason}")
        return workspace.parent / RELEASES / str(release)
    from distrib.app.workspace import locate_target
    from distrib.errors import ConfigError

    try:
        found = locate_target(None)
    except ConfigError:
        found = None
    if found is not None and found.workspace is not None and found.release is not None:
        return found.workspace.parent / RELEASES / found.release
    if found is not None and found.campaign is not None:
        target = campaign_release_folder(found.campaign)
        if target is not None:
            return target
    raise InvalidRequestError(
        "no release folder: give --release NAME (a release of the workspace) or --release DIR,"
        " or run in a release folder (or beside a campaign.toml)"
    )
