"""The templates folder: compiled once, checked once, one set of three templates per variant.

A variant is a message language (``fr``, ``en`` or ``both``) for an outlet.  The base set of a
language is ``<lang>/subject.txt``, ``<lang>/message.txt`` and ``<lang>/message.html``; an
outlet's folder ``outlets/<slug>/<lang>/`` may replace any of the three for the journalists of
that outlet, typically with ``{% extends "fr/message.html" %}`` and a block or two.
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, Template, TemplateError, TemplateSyntaxError, meta

from distrib.config import display_path
from distrib.errors import Location, Problem
from distrib.render.context import make_environments
from distrib.render.css import InlineProblem, unsafe_html

__all__ = [
    "MESSAGE_LANGUAGES",
    "OUTLETS_FOLDER",
    "STYLESHEET",
    "TEMPLATE_FILES",
    "TemplateSet",
    "Templates",
    "run_template",
]

# What every language folder holds: templates/<lang>/<file>.
TEMPLATE_FILES = ("subject.txt", "message.txt", "message.html")
MESSAGE_LANGUAGES = ("fr", "en", "both")
OUTLETS_FOLDER = "outlets"
STYLESHEET = "style.css"
_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


@dataclass(frozen=True, slots=True)
class Templates:
    """The three templates of one variant."""

    subject: Template
    text: Template
    html: Template


class TemplateSet:
    """Every template of a folder, compiled; the variants; the problems and warnings found."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder.resolve()
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []
        self.base: dict[str, Templates] = {}
        self.missing: dict[str, str] = {}
        self.outlets: dict[str, dict[str, Templates]] = {}
        self.css: str | None = None
        if not self.folder.is_dir():
            where = Location(display_path(self.folder))
            self.problems.append(Problem("templates folder not found", where, "template"))
            return
        self.css = css = self._stylesheet()
        self.html_env, self.text_env = make_environments(self.folder, css)
        names = self.text_env.list_templates(filter_func=lambda n: n.endswith((".html", ".txt")))
        for name in names:
            problem = self._compile(name, set(names))
            if problem is not None:
                self.problems.append(problem)
        if not self.problems:
            self._collect(set(names))

    def get(self, lang: str, slug: str) -> Templates | None:
        """Return the templates of ``lang`` for outlet ``slug`` (None if the base set lacks one)."""
        by_outlet = self.outlets.get(slug)
        if by_outlet is not None and lang in by_outlet:
            return by_outlet[lang]
        return self.base.get(lang)

    def _where(self, name: str, row: int | None = None) -> Location:
        return Location(display_path(self.folder / name), row)

    def _stylesheet(self) -> str | None:
        """Return the CSS to inline: style.css, or "" if only <style> elements need inlining."""
        path = self.folder / STYLESHEET
        if path.is_file() and path.resolve().is_relative_to(self.folder):
            try:
                return path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                message = f"{STYLESHEET}: cannot be read as UTF-8 text ({exc})"
                self.problems.append(Problem(message, self._where(STYLESHEET), "template"))
                return None
        for html in self.folder.rglob("*.html"):
            try:
                if "<style" in html.read_text(encoding="utf-8").lower():
                    return ""
            except (OSError, UnicodeDecodeError):
                continue  # reported when the template is compiled
        return None

    def _environment(self, name: str) -> Environment:
        return self.html_env if name.endswith(".html") else self.text_env

    def _compile(self, name: str, available: set[str]) -> Problem | None:
        """Compile one template and check what it references and (HTML) what it holds."""
        environment = self._environment(name)
        where = self._where(name)
        try:
            # The raw source (the text loader does not inline CSS), for the checks below.
            source = self.text_env.loader.get_source(self.text_env, name)[0]  # type: ignore[union-attr]
            environment.get_template(name)
        except UnicodeDecodeError:
            return Problem(f"template {name}: not UTF-8 text", where, "template")
        except TemplateSyntaxError as exc:
            where = Location(where.path, exc.lineno)
            return Problem(f"template {name}: {exc.message}", where, "template")
        except InlineProblem as exc:
            message = f"template {name}: cannot inline {STYLESHEET} into it: {exc}"
            return Problem(message, where, "css")
        except (OSError, TemplateError) as exc:
            return Problem(f"template {name}: {exc}", where, "template")
        return self._check_source(name, source, environment, available)

    def _check_source(
        self, name: str, source: str, environment: Environment, available: set[str]
    ) -> Problem | None:
        """Refuse scripts in HTML templates, and references to templates that do not exist."""
        where = self._where(name)
        if name.endswith(".html"):
            unsafe = unsafe_html(source)
            if unsafe is not None:
                return Problem(f"template {name}: {unsafe}", where, "unsafe-html")
        for reference in meta.find_referenced_templates(environment.parse(source)):
            if reference is not None and reference not in available:
                message = f"template {name}: refers to {reference!r}, which is not in the folder"
                return Problem(message, where, "template")
        return None

    def _load(self, names: Mapping[str, str]) -> Templates:
        subject, text, html = (
            self._environment(names[f]).get_template(names[f]) for f in TEMPLATE_FILES
        )
        return Templates(subject, text, html)

    def _collect(self, available: set[str]) -> None:
        """Keep the base set of each language, and each outlet's variants."""
        for lang in MESSAGE_LANGUAGES:
            names = {file: f"{lang}/{file}" for file in TEMPLATE_FILES}
            absent = [n for n in names.values() if n not in available]
            if absent:
                self.missing[lang] = ", ".join(absent)
            else:
                self.base[lang] = self._load(names)
        outlets = self.folder / OUTLETS_FOLDER
        if not outlets.is_dir():
            return
        for folder in sorted(p for p in outlets.iterdir() if p.is_dir()):
            if not _SLUG.fullmatch(folder.name):
                message = (
                    f"{OUTLETS_FOLDER}/{folder.name}: a folder name must be an outlet slug,"
                    " lower-case letters, digits and dashes (e.g. le-courrier-du-fleuve)"
                )
                self.problems.append(Problem(message, self._where(OUTLETS_FOLDER), "outlet"))
                continue
            self._collect_outlet(folder.name, available)

    def _collect_outlet(self, slug: str, available: set[str]) -> None:
        variants: dict[str, Templates] = {}
        prefix = f"{OUTLETS_FOLDER}/{slug}/"
        for lang in MESSAGE_LANGUAGES:
            own = {f for f in TEMPLATE_FILES if f"{prefix}{lang}/{f}" in available}
            if not own:
                continue
            names = {
                f: f"{prefix}{lang}/{f}" if f in own else f"{lang}/{f}" for f in TEMPLATE_FILES
            }
            absent = [n for n in names.values() if n not in available]
            if absent:
                message = f"{prefix}{lang}: needs {', '.join(absent)}, which is not in the folder"
                self.problems.append(Problem(message, self._where(prefix + lang), "template"))
                continue
            variants[lang] = self._load(names)
        strays = [
            n
            for n in available
            if n.startswith(prefix)
            and n.count("/") == 3
            and n.rpartition("/")[2] not in TEMPLATE_FILES
        ]
        for name in sorted(strays):
            message = f"{name}: not one of {', '.join(TEMPLATE_FILES)}, so not used as a message"
            self.warnings.append(Problem(message, self._where(name), "template"))
        if not variants:
            message = f"{prefix}: no fr/, en/ or both/ folder with message templates"
            self.warnings.append(Problem(message, self._where(prefix), "template"))
        self.outlets[slug] = variants


def run_template(
    template: Template,
    context: dict[str, Any],
    problems: list[Problem],
    where: Location | None,
    folder: Path,
) -> str:
    """Render one template; on failure append a problem naming the template and return ''.

    Nothing a template does ends in a traceback: a missing field, a filter given a bad value,
    an operation the sandbox refuses (`jinja2.exceptions.SecurityError`) are each a problem
    saying which template, and which line when Jinja2 knows it.
    """
    name = template.name
    try:
        return str(template.render(context))
    except Exception as exc:  # a template is user code: never a traceback for its mistakes
        from jinja2 import UndefinedError
        from jinja2.exceptions import SecurityError

        hint = ""
        if isinstance(exc, SecurityError):
            reason = (exc.message or "").rstrip(".")
            message = f"template {name}: not allowed in a template: {reason}"
            code, hint = "unsafe-template", _SANDBOXED
        elif isinstance(exc, UndefinedError):
            message, code = f"template {name}: {exc.message}", "undefined"
        elif isinstance(exc, TemplateError | ValueError):  # distrib's filters say what they want
            message, code = f"template {name}: {_readable(str(exc))}", "template"
        elif _UNDEFINED_TYPE.search(str(exc)):  # e.g. "Object of type _FieldUndefined is not …"
            message, code = f"template {name}: {_UNDEFINED_USED}", "undefined"
        else:
            message = f"template {name}: {type(exc).__name__}: {_readable(str(exc))}"
            code = "template"
        problems.append(Problem(message + _origin(exc, name, folder) + hint, where, code))
    return ""


_UNDEFINED_TYPE = re.compile(r"\b_?[A-Za-z]*Undefined\b")


_UNDEFINED_USED = (
    "a value used here is not defined (a misspelt field? `{% if x is defined %}` tests one,"
    ' `x | default("")` makes one optional)'
)


def _readable(text: str) -> str:
    """Never a Python class name for an undefined value in a message: say what it is."""
    return _UNDEFINED_TYPE.sub("an undefined value (a misspelt field?)", text)


_SANDBOXED = "; templates are sandboxed (no private attributes, files, commands or environment)"


def _origin(exc: BaseException, name: str | None, folder: Path) -> str:
    """Say where in the templates ``exc`` happened, e.g. `` (base.html, line 12)``."""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        path = Path(frame.filename)
        if path.is_relative_to(folder):
            relative = path.relative_to(folder).as_posix()
            if relative == name:
                return f" (line {frame.lineno})"
            return f" ({relative}, line {frame.lineno})"
    return ""
