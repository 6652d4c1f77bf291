"""Layering rules of the delivery log, checked on the source (ast): only the SQLite adapter
imports sqlite3, and only the delivery log package imports psycopg."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "distrib"


def imported_modules(path: Path) -> Iterator[str]:
    """Every module ``path`` imports, at any depth (also inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "id", "") == "__import__"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            yield str(node.args[0].value)


def importers(package: str, allowed: Path) -> list[str]:
    """The source files outside ``allowed`` that import ``package`` (or a submodule)."""
    found = []
    for path in sorted(SRC.rglob("*.py")):
        if path.is_relative_to(allowed):
            continue
        if any(m == package or m.startswith(package + ".") for m in imported_modules(path)):
            found.append(str(path.relative_to(SRC)))
    return found


def test_nothing_outside_the_sqlite_adapter_imports_sqlite3() -> None:
    assert importers("sqlite3", SRC / "deliverylog" / "sqlite") == []


def test_nothing_outside_the_delivery_log_imports_psycopg() -> None:
    assert importers("psycopg", SRC / "deliverylog") == []


def test_the_scan_finds_what_it_looks_for(tmp_path: Path) -> None:
    # The rules above would pass on an empty tree: show the scan sees every form of import.
    source = tmp_path / "m.py"
    source.write_text(
        "import sqlite3 as db\nfrom psycopg.rows import tuple_row\n"
        "def f():\n    import sqlite3.dbapi2\n    return __import__('psycopg')\n",
        encoding="utf-8",
    )
    assert list(imported_modules(source)) == [
        "sqlite3",
        "psycopg.rows",
        "sqlite3.dbapi2",
        "psycopg",
    ]
    assert "deliverylog/sqlite/connection.py" in [
        str(p.relative_to(SRC)) for p in SRC.rglob("*.py")
        if "sqlite3" in imported_modules(p)
    ]  # fmt: skip
