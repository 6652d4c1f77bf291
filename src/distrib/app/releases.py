"""Releases: importing one from Word, a web page or plain text into ``fr.md`` / ``en.md``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from distrib.errors import InvalidRequestError

if TYPE_CHECKING:
    from distrib.importing import ImportReport

__all__ = ["STDIN", "import_release"]

#: The file name that means "the text given on standard input".
STDIN = "-"


def import_release(
    files: Sequence[str | Path],
    *,
    release: Path | None = None,
    lang: str | None = None,
    tz: str = "America/Toronto",
    force: bool = False,
    dateline: str | None = None,
    embargo: str | None = None,
    stdin: bytes | None = None,
) -> ImportReport:
    """Turn each file into the release's ``fr.md`` / ``en.md`` (front matter + Markdown), its
    images and attachments; return what was understood, dropped and written.

    ``release``: the release folder (default: the one ``./campaign.toml`` names).  ``"-"`` in
    ``files`` is ``stdin``'s text.  ``tz``: the zone of an embargo line that names none.
    Nothing is written when a file has a problem (`ReleaseImportError`); an edited file is never
    replaced without ``force`` (`ReleaseOverwriteError` holds the front-matter diffs).
    """
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from distrib.importing import InputFile, campaign_release_folder
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
    target = release
    if target is None:
        campaign = Path("campaign.toml")
        target = campaign_release_folder(campaign) if campaign.is_file() else None
        if target is None:
            raise InvalidRequestError(
                "no release folder: give --release DIR (or run beside a campaign.toml)"
            )
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
