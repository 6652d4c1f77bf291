"""Write imported documents into a release folder, never replacing an edited file silently.

The front matter is written with ``yaml.safe_dump`` (Unicode kept, quoted when YAML needs it,
so ``Hiver en vitrine : 485 000 $`` reads back as written; multi-line values as ``|`` blocks).

distrib remembers what it wrote in ``.distrib-import.json`` in the release folder (a SHA-256 per
file).  A file that is still exactly what the last import wrote is replaced by a new import; a
file that was edited since (or that distrib never wrote) is replaced only with ``force``;
otherwise `ReleaseOverwriteError` lists each one with a diff of its front matter, and nothing
at all is written.  Each file is written to a temporary name and renamed into place.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from distrib.errors import Location, Problem
from distrib.importing.errors import Conflict, ReleaseOverwriteError
from distrib.importing.model import ImportedDocument, WrittenFile

__all__ = [
    "STATE_FILE",
    "front_matter_text",
    "render_document",
    "split_document",
    "write_documents",
]

STATE_FILE = ".distrib-import.json"


class _Dumper(yaml.SafeDumper):
    """safe_dump, with multi-line strings as literal ``|`` blocks."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def front_matter_text(front: Mapping[str, Any]) -> str:
    """The YAML of the front matter (without the ``---`` lines)."""
    plain = {
        key: list(value) if isinstance(value, tuple) else value for key, value in front.items()
    }
    return yaml.dump(
        plain,
        Dumper=_Dumper,
        allow_unicode=True,
        sort_keys=False,
        default_flow_style=False,
        width=10_000,
    )


def render_document(front: Mapping[str, Any], body: str) -> str:
    """The whole ``fr.md``/``en.md``: front matter between ``---`` lines, then the body."""
    return f"---\n{front_matter_text(front)}---\n{body.strip(chr(10))}\n"


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read_state(folder: Path) -> dict[str, str]:
    try:
        state = json.loads((folder / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    files = state.get("files") if isinstance(state, dict) else None
    if not isinstance(files, dict):
        return {}
    return {str(k): str(v) for k, v in files.items()}


def split_document(text: str) -> tuple[str, str]:
    """(front matter, body) of a release document; ("", text) when it has none."""
    lines = text.split("\n")
    if lines and lines[0].rstrip() == "---":
        for index in range(1, len(lines)):
            if lines[index].rstrip() == "---":
                return "\n".join(lines[1:index]) + "\n", "\n".join(lines[index + 1 :])
    return "", text


def _conflict(path: Path, old: bytes, new: bytes) -> Conflict:
    if path.suffix != ".md":
        return Conflict(path, "", body_changed=True)
    old_front, old_body = split_document(old.decode("utf-8", "replace"))
    new_front, new_body = split_document(new.decode("utf-8", "replace"))
    diff = "".join(
        difflib.unified_diff(
            old_front.splitlines(keepends=True),
            new_front.splitlines(keepends=True),
            fromfile=f"{path.name} (in the folder)",
            tofile=f"{path.name} (imported)",
        )
    )
    return Conflict(path, diff, old_body.strip() != new_body.strip())


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def planned_files(documents: Sequence[ImportedDocument]) -> dict[str, bytes]:
    """Every file an import writes, by path relative to the release folder."""
    files: dict[str, bytes] = {}
    for document in documents:
        files[document.filename] = document.text.encode("utf-8")
        for image in document.images:
            files[image.name] = image.data
    return files


def write_documents(
    folder: Path, documents: Sequence[ImportedDocument], *, force: bool = False
) -> tuple[WrittenFile, ...]:
    """Write the documents and their images in ``folder``; refuse edited files unless ``force``."""
    files = planned_files(documents)
    state = _read_state(folder)
    conflicts: list[Conflict] = []
    actions: dict[str, str] = {}
    for name, data in files.items():
        path = folder / name
        if not path.exists():
            actions[name] = "created"
            continue
        old = path.read_bytes() if path.is_file() else b""
        if old == data:
            actions[name] = "unchanged"
        elif force or (path.is_file() and state.get(name) == _digest(old)):
            actions[name] = "replaced"
        else:
            conflicts.append(_conflict(path, old, data))
    if conflicts:
        problems = [
            Problem(
                "edited since distrib wrote it (or not written by distrib import)",
                Location(str(c.path)),
                "edited",
            )
            for c in conflicts
        ]
        raise ReleaseOverwriteError(problems, conflicts)
    folder.mkdir(parents=True, exist_ok=True)
    written: list[WrittenFile] = []
    for name, data in files.items():
        if actions[name] != "unchanged":
            _atomic_write(folder / name, data)
        state[name] = _digest(data)
        written.append(WrittenFile(folder / name, actions[name]))  # type: ignore[arg-type]
    payload = json.dumps({"files": dict(sorted(state.items()))}, indent=2) + "\n"
    _atomic_write(folder / STATE_FILE, payload.encode("utf-8"))
    return tuple(written)
