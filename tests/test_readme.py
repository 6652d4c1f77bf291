"""The README stays true: every command, option and campaign-file key is documented in it, and
its quick start and CI agree on the commands."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import typer
from pydantic import BaseModel

from distrib.cli import app
from distrib.config import Campaign
from distrib.workspace import ReleaseSettings

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    start = README.index(f"## {title}")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else None]


def leaf_commands() -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []

    def walk(prefix: str, command: Any) -> None:
        subs = getattr(command, "commands", {})
        if not subs and prefix:
            found.append((prefix, command))
        for name, sub in subs.items():
            walk(f"{prefix} {name}".strip(), sub)

    walk("", typer.main.get_command(app))
    return found


@pytest.mark.parametrize(("name", "command"), leaf_commands(), ids=str)
def test_every_command_and_option_is_in_the_command_reference(name: str, command: Any) -> None:
    reference = section("Command reference")
    rows = [line for line in reference.splitlines() if f"| `distrib {name}" in line]
    assert rows, f"`distrib {name}` is missing from the README's command reference"
    # --log and --campaign are described once, above the table, for every audit command.
    shared = reference.split("\n|", 1)[0]
    for param in command.params:
        if param.param_type_name != "option" or param.name == "help":
            continue
        longest = max(param.opts, key=len)
        where = "\n".join(rows) + (shared if longest in ("--log", "--campaign") else "")
        assert re.search(rf"{re.escape(longest)}\b", where), (
            f"`distrib {name}` option {longest} is missing from its row of the command reference"
        )


def campaign_keys(model: type[BaseModel], prefix: str = "") -> list[tuple[str, str]]:
    """(table, key) for every key of the campaign file, e.g. ("[smtp]", "port")."""
    keys: list[tuple[str, str]] = []
    for name, field in model.model_fields.items():
        if model is Campaign and name in ("file", "workspace", "drop_embargo"):
            continue  # set by the loader or by `send --drop-embargo`, not a key of the file
        annotation = field.annotation
        args = getattr(annotation, "__args__", (annotation,))
        nested = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
        if nested and model is Campaign and name != "sources":
            table = f"[{name}.NAME]" if getattr(annotation, "__origin__", None) is dict else name
            keys += campaign_keys(nested[0], table if table.startswith("[") else f"[{name}]")
        else:
            keys.append((prefix, name))
    return keys


@pytest.mark.parametrize(("table", "key"), campaign_keys(Campaign), ids=str)
def test_every_campaign_key_is_in_the_campaign_file_reference(table: str, key: str) -> None:
    """Every key of the workspace file (and of a campaign file, which takes the same keys and
    a few of its own) is in the README's workspace section."""
    reference = section("The workspace")
    rows = [line for line in reference.splitlines() if line.startswith("|")]
    matching = [row for row in rows if re.search(rf"`(sources\[\]\.)?{re.escape(key)}`", row)]
    if table:
        matching = [row for row in matching if f"`{table}`" in row]
    assert matching, f"campaign key {table} {key} is missing from the README's reference table"


@pytest.mark.parametrize("key", list(ReleaseSettings.model_fields))
def test_every_release_toml_key_is_in_the_release_folders_reference(key: str) -> None:
    reference = README[README.index("### Release folders") : README.index("### Audiences")]
    rows = [line for line in reference.splitlines() if line.startswith("|")]
    table = f"`[{key}]`" if key in ("sender", "press", "audience") else f"`{key}`"
    assert any(table in row for row in rows), f"release.toml key {key} is not documented"


def test_every_source_key_is_documented() -> None:
    from distrib.config import SourceConfig

    reference = section("The workspace")
    for key in SourceConfig.model_fields:
        assert f"`sources[].{key}`" in reference, f"sources[].{key} is missing from the README"


def test_quick_start_commands_are_the_ones_ci_and_make_run() -> None:
    quick = section("Quick start")
    assert "make demo" in quick and "make test" in quick
    assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^demo:", makefile, re.M) and re.search(r"^test:", makefile, re.M)


def test_every_delivery_log_state_is_explained() -> None:
    from distrib.deliverylog import State

    log_section = section("The delivery log")
    for state in State:
        if state in {State.SUPPRESSED, State.REJECTED}:
            assert "`suppressed`, `rejected`" in log_section
        else:
            assert f"| `{state}` |" in log_section, f"state {state} is missing from the README"


def test_every_exit_code_is_explained() -> None:
    from distrib.cli._common import Exit

    codes = section("Command reference")
    for code in Exit:
        assert f"| {int(code)} |" in codes, f"exit code {int(code)} is missing from the README"
