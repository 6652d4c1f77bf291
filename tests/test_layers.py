"""The layers hold: interfaces → application → stages → port, and nothing reaches up.

Read from the source's own imports (every ``import`` statement, at module level, inside
functions and under ``TYPE_CHECKING``), so a lazy import cannot slip past.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "distrib"

#: Interfaces: they parse, call `distrib.app`, and show.
INTERFACES = ("distrib.cli", "distrib.web")
#: What an interface may import from distrib.
INTERFACE_MAY_USE = ("distrib.app", "distrib.errors", *INTERFACES, "distrib")
#: The toolkits only interfaces use.
INTERFACE_TOOLKITS = ("typer", "rich", "click")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(SRC.rglob("*.py")):
        yield module_name(path), path


@functools.cache
def parsed(path: Path) -> tuple[ast.AST, ...]:
    """Every node of ``path``'s syntax tree (parsed once per test process)."""
    return tuple(ast.walk(ast.parse(path.read_text(encoding="utf-8"))))


def imports(path: Path) -> Iterator[str]:
    """Every module ``path`` imports (``from a import b`` yields ``a`` and ``a.b``)."""
    package = module_name(path)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    for node in parsed(path):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def test_interfaces_call_only_the_application_layer() -> None:
    wrong = []
    for name, path in modules():
        if not within(name, INTERFACES):
            continue
        for imported in set(imports(path)):
            if not imported.startswith("distrib"):
                continue
            if imported == "distrib" or imported == "distrib.__version__":
                continue
            if not within(imported, INTERFACE_MAY_USE[:-1]):
                wrong.append(f"{name} imports {imported}")
    assert wrong == []


def test_the_library_never_imports_an_interface_toolkit() -> None:
    wrong = [
        f"{name} imports {imported}"
        for name, path in modules()
        if not within(name, INTERFACES)
        for imported in set(imports(path))
        if within(imported, INTERFACE_TOOLKITS)
    ]
    assert wrong == []


@pytest.mark.parametrize(
    ("layer", "never"),
    [
        # The application layer never reaches up into an interface.
        (("distrib.app",), INTERFACES),
        # Stages and the port never reach up into the application layer or an interface.
        (
            (
                "distrib.contacts", "distrib.release", "distrib.render", "distrib.send",
                "distrib.audit", "distrib.deliverylog", "distrib.preview", "distrib.bounces",
                "distrib.optout", "distrib.inbox", "distrib.replies", "distrib.resolve",
                "distrib.schedule",
                "distrib.renderpool", "distrib.config", "distrib.export", "distrib.workspace",
                "distrib.starter",
            ),
            ("distrib.app", *INTERFACES),
        ),
        # The port never reaches into a stage.
        (
            ("distrib.deliverylog",),
            ("distrib.contacts", "distrib.render", "distrib.send", "distrib.audit"),
        ),
    ],
)  # fmt: skip
def test_no_layer_reaches_up(layer: tuple[str, ...], never: tuple[str, ...]) -> None:
    wrong = [
        f"{name} imports {imported}"
        for name, path in modules()
        if within(name, layer)
        for imported in set(imports(path))
        if within(imported, never)
    ]
    assert wrong == []


def test_no_import_cycle_between_modules() -> None:
    """Modules (not packages' faces) that import each other, directly or in a loop."""
    known = dict(modules())
    graph: dict[str, set[str]] = {}
    for name, path in known.items():
        targets = set()
        for imported in imports(path):
            # `from distrib.x import y` names module distrib.x.y if there is one, else distrib.x.
            if imported in known and imported != name:
                targets.add(imported)
        graph[name] = {t for t in targets if known[t].name != "__init__.py"}
    cycles = _cycles(graph)
    assert cycles == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components of more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_every_name_the_application_layer_offers_exists() -> None:
    import distrib.app as app

    for name in app.__all__:
        assert getattr(app, name) is not None, name


# -- the delivery log's adapters ----------------------------------------------------------------


def every_import(path: Path) -> Iterator[str]:
    """`imports`, and the modules named to ``__import__`` or ``importlib.import_module``."""
    if path.is_relative_to(SRC):
        yield from imports(path)  # relative imports too
    for node in parsed(path):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.module
        elif (
            isinstance(node, ast.Call)
            and (getattr(node.func, "id", "") == "__import__"
                 or getattr(node.func, "attr", "") == "import_module")
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):  # fmt: skip
            yield str(node.args[0].value)


def importers(package: str, allowed: str) -> list[str]:
    """The modules outside ``allowed`` (a package) that import ``package``."""
    return [
        name
        for name, path in modules()
        if not within(name, (allowed,))
        and any(within(imported, (package,)) for imported in every_import(path))
    ]


def test_nothing_outside_the_sqlite_adapter_imports_sqlite3() -> None:
    assert importers("sqlite3", "distrib.deliverylog.sqlite") == []


def test_nothing_outside_the_delivery_log_imports_psycopg() -> None:
    assert importers("psycopg", "distrib.deliverylog") == []


def test_the_adapter_scan_sees_every_form_of_import(tmp_path: Path) -> None:
    # The two rules above would pass on an empty tree: the scan sees every way in.
    source = tmp_path / "m.py"
    source.write_text(
        "import sqlite3 as db\nfrom psycopg.rows import tuple_row\n"
        "def f():\n    import sqlite3.dbapi2\n    return __import__('psycopg')\n"
        "def g():\n    import importlib\n    return importlib.import_module('sqlite3')\n",
        encoding="utf-8",
    )
    found = set(every_import(source))
    assert {"sqlite3", "psycopg.rows", "sqlite3.dbapi2", "psycopg"} <= found
    assert "distrib.deliverylog.sqlite.connection" in [
        name for name, path in modules() if "sqlite3" in set(every_import(path))
    ]
