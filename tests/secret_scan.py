"""Looking for secrets (tokens, client secrets, passwords, their base64 forms) everywhere distrib
writes: what a command printed, every row of every table of a SQLite delivery log, and every
file of a folder (inside XLSX workbooks too: their cells are compressed, invisible to a plain
byte search).  Each finding says where, so a failing test names the place, not only the secret.

tests/test_relay_secrets.py proves the scanner sees a secret planted in each of those places.
"""

from __future__ import annotations

import sqlite3
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class SecretScan:
    """The places where any of ``secrets`` was found (``findings``); empty when none."""

    secrets: list[str]
    findings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        assert self.secrets and all(len(s) >= 8 for s in self.secrets), "no secrets to look for"

    def _look(self, where: str, text: str) -> None:
        # Also with white space taken out: a terminal or a report may wrap a long word.
        unwrapped = "".join(text.split())
        for number, secret in enumerate(self.secrets):
            if secret in text or secret in unwrapped:
                self.findings.append(f"{where}: secret #{number}")

    def output(self, where: str, text: str) -> SecretScan:
        """What a command printed."""
        self._look(f"output of {where}", text)
        return self

    def outputs(self, texts: Iterable[tuple[str, str]]) -> SecretScan:
        for where, text in texts:
            self.output(where, text)
        return self

    def log(self, path: Path) -> SecretScan:
        """Every row of every table of a SQLite delivery log (the tables are listed, not
        assumed: a new table is scanned too)."""
        with sqlite3.connect(path) as db:
            tables = [t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
            assert tables, path
            for table in tables:
                for row in db.execute(f'SELECT * FROM "{table}"'):
                    self._look(f"log table {table}", "\x00".join(repr(v) for v in row))
        return self

    def folder(self, root: Path, *, skip: Iterable[Path] = ()) -> SecretScan:
        """Every file under ``root`` (bytes, as text, and each member of an XLSX)."""
        skipped = {p.resolve() for p in skip}
        files = [p for p in sorted(root.rglob("*")) if p.is_file() and p.resolve() not in skipped]
        assert files, root
        for path in files:
            where = f"file {path.relative_to(root)}"
            self._look(where, path.read_bytes().decode("utf-8", "replace"))
            if zipfile.is_zipfile(path):
                with zipfile.ZipFile(path) as book:
                    for name in book.namelist():
                        member = book.read(name).decode("utf-8", "replace")
                        self._look(f"{where}, inside {name}", member)
        return self
