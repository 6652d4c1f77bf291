"""CSS inlined into the HTML templates once, before any message is rendered (css-inline).

Mail clients ignore or strip ``<style>`` sheets in many cases, so every rule must end up in
``style`` attributes.  Inlining each rendered message costs about 75 µs (css-inline parses the
whole document); inlining each *template* once costs that once per campaign.  The template
source is not HTML yet (it holds ``{{ … }}`` and ``{% … %}``), so each Jinja tag is swapped for
a placeholder the HTML parser keeps in place — an HTML comment between elements, a private-use
character run inside text or a quoted attribute value — the source is inlined, and the tags
are put back.  If a placeholder does not come back exactly once and in order (a Jinja tag
inside an HTML tag but outside a quoted value, say), the template is reported instead of
being silently changed.

What this means for template authors (also in docs/templates-and-preview.md): selectors are
matched within each template file, against the template's own elements; a class written in
the template is the dependable way to style an element.
"""

from __future__ import annotations

import re

from markupsafe import Markup

__all__ = ["InlineProblem", "inline_fragment", "inline_template", "unsafe_html"]

_JINJA_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)
_COMMENT = "<!--distrib:{}-->"
_TEXT = "\ue000{}\ue001"
_PLACEHOLDER = re.compile(r"<!--distrib:(\d+)-->|\ue000(\d+)\ue001")
# Elements whose content is text to the parser: a comment placeholder there would be escaped.
_TEXT_ELEMENT = re.compile(r"<(/?)(title|textarea|style|script)\b", re.IGNORECASE)
_DOCUMENT = re.compile(r"\s*(<!doctype|<html)", re.IGNORECASE)
# What a message's HTML may not hold: scripts, event handlers, javascript: URLs, external CSS.
_UNSAFE = (
    (re.compile(r"<\s*script\b", re.IGNORECASE), "a <script> element (mail is never scripted)"),
    (re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE), "an on… event handler attribute"),
    (re.compile(r"javascript\s*:", re.IGNORECASE), "a javascript: URL"),
    (
        re.compile(r"<\s*link\b[^>]*stylesheet", re.IGNORECASE),
        "an external stylesheet (<link>); put the rules in style.css",
    ),
)


class InlineProblem(ValueError):
    """The CSS cannot be inlined into a template without changing what it renders."""


def unsafe_html(source: str) -> str | None:
    """Return what in an HTML template is not allowed in a message, or None."""
    for pattern, what in _UNSAFE:
        match = pattern.search(source)
        if match is not None:
            line = source.count("\n", 0, match.start()) + 1
            return f"line {line}: {what}"
    return None


def _placeholder(source: str, start: int, number: int) -> str:
    """Choose the placeholder a Jinja tag at ``start`` becomes, from the HTML around it."""
    before = source[:start]
    opened, closed = before.rfind("<"), before.rfind(">")
    if opened > closed:
        # Inside an HTML tag: only safe inside a quoted attribute value.
        inside = before[opened:]
        quotes = re.sub(r"=\s*\"[^\"]*\"|=\s*'[^']*'", "", inside)
        if not re.search(r"=\s*[\"'][^\"']*$", quotes):
            line = source.count("\n", 0, start) + 1
            raise InlineProblem(
                f"line {line}: a Jinja tag inside an HTML tag, outside a quoted attribute value"
            )
        return _TEXT.format(number)
    element = None
    for match in _TEXT_ELEMENT.finditer(before):
        element = None if match.group(1) else match.group(2)
    return _TEXT.format(number) if element else _COMMENT.format(number)


def _protect(source: str) -> tuple[str, list[str]]:
    tags: list[str] = []
    parts: list[str] = []
    last = 0
    for match in _JINJA_TAG.finditer(source):
        parts.append(source[last : match.start()])
        parts.append(_placeholder(source, match.start(), len(tags)))
        tags.append(match.group())
        last = match.end()
    parts.append(source[last:])
    return "".join(parts), tags


def _restore(inlined: str, tags: list[str]) -> str:
    expected = 0

    def put_back(match: re.Match[str]) -> str:
        nonlocal expected
        number = int(match.group(1) or match.group(2))
        if number != expected:
            raise InlineProblem(f"the HTML parser moved {tags[number]!r}")
        expected += 1
        return tags[number]

    restored = _PLACEHOLDER.sub(put_back, inlined)
    if expected != len(tags) or "\ue000" in restored or "\ue001" in restored:
        missing = tags[expected] if expected < len(tags) else "a Jinja tag"
        raise InlineProblem(f"the HTML parser dropped or changed {missing!r}")
    return restored


def inline_template(source: str, css: str) -> str:
    """Return the template ``source`` with ``css`` (and its own ``<style>`` rules) inlined.

    Raise `InlineProblem` when that cannot be done without changing the template.
    """
    import css_inline

    protected, tags = _protect(source)
    try:
        if _DOCUMENT.match(_JINJA_TAG.sub("", source)):
            inliner = css_inline.CSSInliner(
                keep_style_tags=False, load_remote_stylesheets=False, extra_css=css or None
            )
            inlined = inliner.inline(protected)
        else:
            inlined = css_inline.inline_fragment(protected, css, load_remote_stylesheets=False)
    except (css_inline.InlineError, ValueError) as exc:
        raise InlineProblem(f"css-inline: {exc}") from None
    restored = _restore(inlined, tags)
    # html5ever drops the newline after </html>; keep_trailing_newline should still hold.
    if source.endswith("\n") and not restored.endswith("\n"):
        restored += "\n"
    return restored


def inline_fragment(html: Markup, css: str) -> Markup:
    """Return trusted HTML (a release's Markdown, rendered) with ``css`` inlined into it."""
    import css_inline

    if not html:
        return html
    # Safe: the input is already-safe Markup and css-inline only adds style attributes.
    return Markup(css_inline.inline_fragment(str(html), css, load_remote_stylesheets=False))  # noqa: S704
