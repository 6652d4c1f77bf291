"""The import stage's errors: a file that cannot be imported, an edited file in the way."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from distrib.errors import Problem, ReleaseImportError
from distrib.errors import ReleaseOverwriteError as _Overwrite

__all__ = ["Conflict", "ReleaseImportError", "ReleaseOverwriteError"]


@dataclass(frozen=True, slots=True)
class Conflict:
    """A file of the release folder that was edited since distrib wrote it (or never written by it).

    ``front_matter_diff`` is a unified diff of the front matter (old → imported); empty when
    only the body differs.  ``body_changed`` tells whether the body differs too.
    """

    path: Path
    front_matter_diff: str
    body_changed: bool


class ReleaseOverwriteError(_Overwrite):
    """Importing would replace files that were edited; ``conflicts`` holds what would change."""

    def __init__(self, problems: Iterable[Problem], conflicts: Sequence[Conflict]) -> None:
        super().__init__(problems, conflicts)
