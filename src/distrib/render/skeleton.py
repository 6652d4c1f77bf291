"""Template skeletons: render a template once per variant, then only fill in each contact.

Rendering a message's three templates with Jinja2 costs about 230 µs here, more than the whole
per-message budget of 200 µs (5,000 messages/s), although almost all of the output (the release,
the layout, the footer) is the same for every journalist of a variant: the language and the
values of the outlets sheet the template reads (outlets without a row share one variant).

**How.**  A template whose contact values (``contact.*`` except ``language``, and
``unsubscribe.url``) are only *printed* or *tested* is rendered once more
with stand-ins ("holes") in place of those values: a hole prints as a marker that cannot occur
in any template, release or outlet text (it holds a random nonce), and the output split at the
markers is the skeleton.  Filling it with a contact's values (HTML-escaped in an autoescaped
template, as Jinja2 escapes them) gives what Jinja2 renders.  Every test of a value made while
rendering (``{% if contact.first_name %}``, ``contact.beat == "Culture"``, ``is defined``) is
recorded as a *guard*; a skeleton serves a contact only if its values pass the same guards,
else that contact's message is rendered by Jinja2 and gives another skeleton.  An absent
value (``unsubscribe.url`` when the campaign has no unsubscribe URL) is no hole: Jinja2 gets
None itself, and a guard keeps the skeleton for contacts whose value is None too.

**Why it is exact.**  The holes are opaque: Jinja2 can print them, test them and join them with
``~``, nothing else.  `template_is_fillable` (`distrib.render.skeleton_check`) checks the
syntax tree of the template and of every template it extends, includes or imports, and accepts
a contact value only

* printed, ``{{ v }}``, possibly through ``~``, ``a if c else b``, ``a or b``, ``a and b`` and
  the ``default`` filter;
* tested, in ``{% if %}`` and ``… if … else …``, with ``not``, ``and``, ``or``, ``==`` or
  ``!=`` against something that is not a contact value, ``is defined/undefined/none``;

and no printed value inside ``{% call %}``, ``{% set %}…{% endset %}``, ``{% filter %}`` or a
macro whose result is used other than printed (that output could be transformed), no ``self``,
no ``super()``/``loop()`` other than printed, no ``{% autoescape %}``, no ``random`` filter.
The rest of the template sees the same values for every contact of a variant (the outlet
fields it reads are part of the variant; a template that uses ``outlet`` otherwise has one
variant per set of outlet values), so Jinja2 takes the same path whenever the guards give the
same results.  (distrib's filters read only ``lang`` and ``languages`` from the
context.)  A template that does anything else with a contact value (``| upper``, a loop over
it, ``{% set x = contact.name %}``) is rendered by Jinja2 for every message, as before: slower,
never different.  As a last check, each new skeleton filled with the contact that made it must
give exactly Jinja2's output, or the template is no longer filled.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from jinja2 import Template
from markupsafe import escape

from distrib.render.context import TemplateValues
from distrib.render.skeleton_check import ROOTS, is_hole, template_analysis, template_is_fillable

if TYPE_CHECKING:
    from distrib.contacts.model import Contact

__all__ = ["Skeletons", "template_analysis", "template_is_fillable"]

_Key = tuple[str, str]  # ("contact", field) or ("unsubscribe", "url")
_Guard = tuple[_Key, str, Any, bool]  # key, "present"/"none"/"true"/"eq", argument, result
_CONTACT_ATTRIBUTES = frozenset(
    {"email", "address", "first_name", "last_name", "name", "outlet", "outlet_slug"}
)
_MAX_SKELETONS = 64  # per template and variant: past this, guards vary too much to pay
_MAX_CHARACTERS = 4_000_000  # of all skeletons of a Renderer (8 MB at most): then stop making
_MAX_GUARDS = 256
_MAX_FAILED_TRACES = 16  # per template: then Jinja2 alone renders it (a trace costs a render)


# -- tracing and filling --------------------------------------------------------------------------


class _Untraceable(Exception):
    """The render cannot be turned into a skeleton (a non-text value, too many guards)."""


class _Trace:
    """The holes and guards of one tracing render."""

    def __init__(self, nonce: str) -> None:
        self.nonce = nonce
        self.keys: list[_Key] = []
        self.holes: dict[_Key, _Hole] = {}
        self.guards: list[_Guard] = []
        self._seen: set[tuple[_Key, str, int]] = set()

    def hole(self, key: _Key, value: str) -> _Hole:
        hole = self.holes.get(key)
        if hole is None:
            hole = _Hole(self, key, value, f"\ufdd0{self.nonce}:{len(self.keys)}\ufdd1")
            self.keys.append(key)
            self.holes[key] = hole
        return hole

    def guard(self, key: _Key, kind: str, argument: Any, result: bool) -> None:
        if (key, kind, id(argument)) not in self._seen:
            self._seen.add((key, kind, id(argument)))
            self.guards.append((key, kind, argument, result))
            if len(self.guards) > _MAX_GUARDS:
                raise _Untraceable("too many tests of contact values")


class _Hole:
    """A contact value while tracing: prints as a marker; its tests are recorded as guards."""

    __slots__ = ("_key", "_marker", "_trace", "_value")

    def __init__(self, trace: _Trace, key: _Key, value: str, marker: str) -> None:
        self._trace, self._key, self._value, self._marker = trace, key, value, marker

    def __str__(self) -> str:
        return self._marker

    def __bool__(self) -> bool:
        result = bool(self._value)
        self._trace.guard(self._key, "true", None, result)
        return result

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _Hole):
            raise _Untraceable("two contact values compared")
        result = bool(self._value == other)
        self._trace.guard(self._key, "eq", other, result)
        return result

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    __hash__ = None  # type: ignore[assignment]


class _TraceValues(TemplateValues):
    """``contact`` or ``unsubscribe`` while tracing: hole fields are `_Hole` stand-ins."""

    __slots__ = ("_root", "_trace")

    def __init__(self, trace: _Trace, root: str, values: TemplateValues) -> None:
        super().__init__(values.label, values)
        self._trace, self._root = trace, root

    def __getitem__(self, key: str) -> Any:
        if not is_hole(self._root, key):
            return super().__getitem__(key)
        if self._root == "contact":
            self._trace.guard((self._root, key), "present", None, key in self._data)
        value = super().__getitem__(key)
        if value is None:
            # An absent value (no unsubscribe URL in this campaign): Jinja2 gets None itself,
            # and the skeleton serves only contacts for whom it is None too.
            self._trace.guard((self._root, key), "none", None, True)
            return None
        if type(value) is not str:
            raise _Untraceable(f"{self._root}.{key} is not text")
        return self._trace.hole((self._root, key), value)


_Getter = Callable[["Contact", str | None], object]


def _getter(key: _Key) -> _Getter:
    """Return how to read the value a hole stands for (as `build_context` gives it)."""
    root, name = key
    if root == "unsubscribe":
        return lambda contact, url: url
    if name in _CONTACT_ATTRIBUTES:
        read = attrgetter(name)
        return lambda contact, url: read(contact)
    return lambda contact, url: contact.fields[name]


@dataclass(frozen=True, slots=True)
class _Skeleton:
    """A template's output with holes: ``pieces[0] key[0] pieces[1] … pieces[-1]``."""

    guards: tuple[_Guard, ...]
    pieces: tuple[str, ...]
    keys: tuple[_Key, ...]
    escaped: bool
    getters: tuple[_Getter, ...] = ()  # one per key
    tests: tuple[tuple[_Getter, str, Any, bool], ...] = ()  # the guards, but "present"

    @classmethod
    def make(
        cls, guards: list[_Guard], pieces: list[str], keys: list[_Key], *, escaped: bool
    ) -> _Skeleton:
        tests = tuple((_getter(k), kind, arg, result) for k, kind, arg, result in guards)
        return cls(
            guards=tuple(guards),
            pieces=tuple(pieces),
            keys=tuple(keys),
            escaped=escaped,
            getters=tuple(_getter(key) for key in keys),
            tests=tuple(t for t in tests if t[1] != "present"),
        )

    def fill(self, contact: Contact, url: str | None) -> list[str] | None:
        """Return the output for ``contact`` as pieces and values, or None if a guard fails."""
        fields = contact.fields
        for (_, name), kind, _argument, result in self.guards:
            if kind == "present" and (name in _CONTACT_ATTRIBUTES or name in fields) is not result:
                return None
        for read, kind, argument, result in self.tests:
            value = read(contact, url)
            if kind == "none":
                if value is not None:
                    return None
                continue
            if type(value) is not str:
                return None
            if (bool(value) if kind == "true" else value == argument) is not result:
                return None
        values = [read(contact, url) for read in self.getters]
        for value in values:
            if type(value) is not str:
                return None
        out: list[Any] = [None] * (2 * len(values) + 1)
        out[0::2] = self.pieces
        out[1::2] = [escape(v) for v in values] if self.escaped else values
        return out


class Skeletons:
    """The skeletons of one `Renderer`'s templates, by template and variant."""

    def __init__(self) -> None:
        self._nonce = secrets.token_hex(8)
        self._marker = re.compile(f"\ufdd0{self._nonce}:(\\d+)\ufdd1")
        self._analysis: dict[Template, tuple[bool, tuple[str, ...] | None]] = {}
        self._skeletons: dict[tuple[Template, Hashable], list[_Skeleton]] = {}
        self._characters = 0  # in all skeletons
        self._failed: dict[Template, int] = {}  # traces that gave no skeleton, by template
        self.filled = 0  # outputs filled from a skeleton
        self.learned = 0  # skeletons made

    @property
    def traces_failed(self) -> int:
        """Traces that gave no skeleton, all templates together."""
        return sum(self._failed.values())

    def fillable(self, template: Template) -> bool:
        """Tell whether ``template`` can be filled (see `template_is_fillable`; cached)."""
        analysis = self._analysis.get(template)
        if analysis is None:
            analysis = template_analysis(template.environment, str(template.name))
            self._analysis[template] = analysis
        return analysis[0]

    def variant(self, template: Template, lang: str, outlet: Mapping[str, str]) -> Hashable | None:
        """Return what, besides the contact, ``template``'s output depends on: the language
        and the outlet values it reads (not the slug: outlets that have no row in the outlets
        sheet share their skeletons); None if the template cannot be filled."""
        if not self.fillable(template):
            return None
        fields = self._analysis[template][1]
        if fields is None:
            return (lang, tuple(sorted(outlet.items())))
        return (lang, *(outlet.get(name) for name in fields))

    def fill(
        self, template: Template, variant: Hashable, contact: Contact, url: str | None
    ) -> list[str] | None:
        """Return ``template``'s output for ``contact`` from a skeleton, or None if none fits:
        the skeleton's constant pieces (even places) and the values between them (odd)."""
        for skeleton in self._skeletons.get((template, variant), ()):
            parts = skeleton.fill(contact, url)
            if parts is not None:
                self.filled += 1
                return parts
        return None

    def learn(
        self,
        template: Template,
        variant: Hashable,
        *,
        contact: Contact,
        url: str | None,
        context: dict[str, Any],
        output: str,
    ) -> list[str] | None:
        """Make a skeleton from ``contact``'s render (``output``), for contacts like this one;
        return it filled for ``contact`` (as `fill` does), or None if none could be made."""
        skeletons = self._skeletons.setdefault((template, variant), [])
        full = self._characters > _MAX_CHARACTERS or len(skeletons) >= _MAX_SKELETONS
        if full or not self.fillable(template):
            return None
        skeleton = self._trace(template, context)
        if skeleton is None:
            # What defeats a trace (two contact values compared, too many tests) is usually in
            # the template, not the contact: past a few failures, stop paying for traces.
            failed = self._failed[template] = self._failed.get(template, 0) + 1
            if failed >= _MAX_FAILED_TRACES:
                self._analysis[template] = (False, None)
            return None
        parts = skeleton.fill(contact, url)
        if parts is None or "".join(parts) != output:
            # Never expected (see the module docstring); if it happens, stop filling this one.
            self._analysis[template] = (False, None)
            skeletons.clear()
            return None
        skeletons.append(skeleton)
        self._characters += sum(map(len, skeleton.pieces))
        self.learned += 1
        return parts

    def _trace(self, template: Template, context: dict[str, Any]) -> _Skeleton | None:
        trace = _Trace(self._nonce)
        traced = dict(context)
        for root in ROOTS:
            traced[root] = _TraceValues(trace, root, context[root])
        try:
            raw = template.render(traced)
        except Exception:  # the real render worked; this one just gives up
            return None
        split = self._marker.split(raw)
        pieces, indexes = split[0::2], split[1::2]
        if any(int(i) >= len(trace.keys) for i in indexes):
            return None
        return _Skeleton.make(
            trace.guards,
            pieces,
            [trace.keys[int(i)] for i in indexes],
            escaped=bool(template.environment.autoescape),
        )
