"""Template skeletons: render a template once per variant, then only fill in each contact.

Rendering a message's three templates with Jinja2 costs about 230 µs here, more than the whole
per-message budget of 200 µs (5,000 messages/s), although almost all of the output (the release,
the layout, the footer) is the same for every journalist of a variant (language × outlet).

**How.**  A template whose contact values (``contact.*`` except ``language`` and
``outlet_slug``, and ``unsubscribe.url``) are only *printed* or *tested* is rendered once more
with stand-ins ("holes") in place of those values: a hole prints as a marker that cannot occur
in any template, release or outlet text (it holds a random nonce), and the output split at the
markers is the skeleton.  Filling it with a contact's values (HTML-escaped in an autoescaped
template, as Jinja2 escapes them) gives what Jinja2 renders.  Every test of a value made while
rendering (``{% if contact.first_name %}``, ``contact.beat == "Culture"``, ``is defined``) is
recorded as a *guard*; a skeleton serves a contact only if its values pass the same guards,
else that contact's message is rendered by Jinja2 and gives another skeleton.

**Why it is exact.**  The holes are opaque: Jinja2 can print them, test them and join them with
``~``, nothing else.  `template_is_fillable` checks the syntax tree of the template and of every
template it extends, includes or imports, and accepts a contact value only

* printed, ``{{ v }}``, possibly through ``~``, ``a if c else b``, ``a or b``, ``a and b`` and
  the ``default`` filter;
* tested, in ``{% if %}`` and ``… if … else …``, with ``not``, ``and``, ``or``, ``==`` or
  ``!=`` against something that is not a contact value, ``is defined/undefined/none``;

and no printed value inside a macro, ``{% call %}``, ``{% set %}…{% endset %}`` or
``{% filter %}`` (whose output could be transformed), no ``self``, no ``super()``/``loop()``
other than printed, no ``{% autoescape %}``, no ``random`` filter.  The rest of the template
sees the same values for every contact of a variant, so Jinja2 takes the same path whenever the
guards give the same results.  (distrib's filters read only ``lang`` and ``languages`` from the
context.)  A template that does anything else with a contact value (``| upper``, a loop over
it, ``{% set x = contact.name %}``) is rendered by Jinja2 for every message, as before: slower,
never different.  As a last check, each new skeleton filled with the contact that made it must
give exactly Jinja2's output, or the template is no longer filled.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, Template, meta, nodes
from markupsafe import escape

from distrib.render.context import TemplateValues

if TYPE_CHECKING:
    from distrib.contacts.model import Contact

__all__ = ["Skeletons", "template_is_fillable"]

_Key = tuple[str, str]  # ("contact", field) or ("unsubscribe", "url")
_Guard = tuple[_Key, str, Any, bool]  # key, "present" / "true" / "eq", argument, result
_Path = tuple[nodes.Node, ...]  # a node's ancestors, the template first
# Contact fields that are the same for a whole variant (the variant is language × outlet).
_CONSTANT_FIELDS = frozenset({"language", "outlet_slug"})
_CONTACT_ATTRIBUTES = frozenset({"email", "address", "first_name", "last_name", "name", "outlet"})
_CAPTURING = (nodes.Macro, nodes.CallBlock, nodes.AssignBlock, nodes.FilterBlock)
_TYPE_TESTS = frozenset({"defined", "undefined", "none"})
_PRINTED_CALLS = frozenset({"super", "loop"})
_MAX_SKELETONS = 64  # per template and variant: past this, guards vary too much to pay
_MAX_GUARDS = 256
_HOLE, _TEXT = "hole", "text"


def _is_hole(root: str, field: str) -> bool:
    if root == "contact":
        return field not in _CONSTANT_FIELDS
    return root == "unsubscribe" and field == "url"


_ROOTS = frozenset({"contact", "unsubscribe"})


# -- the static check -----------------------------------------------------------------------------


@dataclass
class _FileCheck:
    """What the check found in one template file."""

    ok: bool = True
    hole_macros: set[str] = field(default_factory=set)  # top-level macros printing contact values
    other_uses: set[str] = field(default_factory=set)  # names used other than as {{ name(…) }}
    imports: set[str] = field(default_factory=set)  # templates named by import or from-import


def _walk(node: nodes.Node, path: tuple[nodes.Node, ...]) -> Iterator[tuple[nodes.Node, _Path]]:
    yield node, path
    for child in node.iter_child_nodes():
        yield from _walk(child, (*path, node))


def _has_roots(*trees: Any) -> bool:
    """Tell whether any of ``trees`` (nodes, lists of nodes, None) mentions a contact value."""
    for tree in trees:
        for item in tree if isinstance(tree, list) else [tree]:
            if isinstance(item, nodes.Name) and item.name in _ROOTS:
                return True
            if isinstance(item, nodes.Node) and any(
                name.name in _ROOTS for name in item.find_all(nodes.Name)
            ):
                return True
    return False


def _printed(ancestors: _Path) -> tuple[bool, str | None]:
    """An ``{{ … }}`` whose ancestors are ``ancestors`` prints a value: allowed unless its
    output is captured, except by a top-level macro (whose calls are checked apart)."""
    capturing = [a for a in ancestors if isinstance(a, _CAPTURING)]
    if not capturing:
        return True, None
    macro = capturing[0]
    if len(capturing) == 1 and isinstance(macro, nodes.Macro) and ancestors[1] is macro:
        return True, macro.name
    return False, None


def _tested(node: nodes.Node, parent: nodes.Node, chain: _Path, index: int) -> bool | None:
    """If ``parent`` tests the value at ``node``, tell whether the test can be a guard;
    None if ``parent`` does not test it."""
    if isinstance(parent, nodes.If) or (isinstance(parent, nodes.CondExpr) and node is parent.test):
        return node is parent.test
    if isinstance(parent, nodes.Not):
        return True
    if isinstance(parent, nodes.Test):
        plain = not (parent.args or parent.kwargs or parent.dyn_args or parent.dyn_kwargs)
        return node is parent.node and parent.name in _TYPE_TESTS and plain
    if isinstance(parent, nodes.Operand | nodes.Compare):
        compare = parent if isinstance(parent, nodes.Compare) else chain[index - 2]
        if not isinstance(compare, nodes.Compare) or len(compare.ops) != 1:
            return False
        other = compare.ops[0].expr if node is compare.expr else compare.expr
        return compare.ops[0].op in ("eq", "ne") and not _has_roots(other)
    return None


def _flows_on(node: nodes.Node, parent: nodes.Node, value: str) -> str | None:
    """Return what ``parent`` makes of ``value`` at ``node`` (a hole, or text holding one),
    or None if that is not allowed."""
    if isinstance(parent, nodes.And | nodes.Or):
        return _HOLE if value == _HOLE else None  # its truth is tested, so it must be a hole
    if isinstance(parent, nodes.Concat):
        return _TEXT
    if isinstance(parent, nodes.CondExpr):  # a branch of … if … else … (the test is _tested)
        return value
    if isinstance(parent, nodes.Filter) and parent.name in ("default", "d") and value == _HOLE:
        rest = [parent.args, parent.kwargs, parent.dyn_args, parent.dyn_kwargs]
        return _HOLE if node is parent.node and not _has_roots(*rest) else None
    return None


def _flow(chain: _Path) -> tuple[bool, str | None]:
    """Tell whether the hole at the end of ``chain`` (its ancestors, then itself) is only
    printed or tested, and the macro that prints it if any."""
    value = _HOLE
    for index in range(len(chain) - 1, 0, -1):
        node, parent = chain[index], chain[index - 1]
        if isinstance(parent, nodes.Output):
            return _printed(chain[: index - 1])
        tested = _tested(node, parent, chain, index)
        if tested is not None:
            return tested and value == _HOLE, None
        passed_on = _flows_on(node, parent, value)
        if passed_on is None:
            return False, None
        value = passed_on
    return False, None


def _root_ok(name: nodes.Name, path: _Path, check: _FileCheck) -> bool:
    """Tell whether ``contact`` / ``unsubscribe`` is used as a constant or a fillable hole."""
    parent = path[-1]
    if name.ctx != "load":
        return False
    if isinstance(parent, nodes.Getattr) and parent.node is name:
        field_name = parent.attr
    elif (
        isinstance(parent, nodes.Getitem)
        and parent.node is name
        and isinstance(parent.arg, nodes.Const)
        and isinstance(parent.arg.value, str)
    ):
        field_name = parent.arg.value
    else:
        return False
    if not _is_hole(name.name, field_name):
        return True
    ok, macro = _flow(path)
    if macro is not None:
        check.hole_macros.add(macro)
    return ok


def _name_ok(name: nodes.Name, path: _Path, captured: bool, check: _FileCheck) -> bool:
    """Check one name: ``self`` and ``lipsum`` are refused, ``super()`` and ``loop()`` must be
    printed, ``contact``/``unsubscribe`` go to `_root_ok`; note uses other than ``{{ f(…) }}``."""
    call = path[-1]
    is_call = isinstance(call, nodes.Call) and call.node is name
    printed_call = is_call and isinstance(path[-2], nodes.Output) and not captured
    if name.ctx != "load" or not printed_call:
        check.other_uses.add(name.name)
    if name.name in ("self", "lipsum"):
        return False
    if name.name in _PRINTED_CALLS and is_call:
        return printed_call
    return name.name not in _ROOTS or _root_ok(name, path, check)


def _node_ok(node: nodes.Node, path: _Path, check: _FileCheck) -> bool:
    captured = any(isinstance(a, _CAPTURING) for a in path)
    if isinstance(node, nodes.Name):
        return _name_ok(node, path, captured, check)
    if isinstance(node, nodes.Import | nodes.FromImport):
        if isinstance(node.template, nodes.Const):
            check.imports.add(str(node.template.value))
        if isinstance(node, nodes.Import):
            bound = {node.target}
        else:
            bound = {n[1] or n[0] if isinstance(n, tuple) else n for n in node.names}
        check.other_uses.update(bound)
        return not _ROOTS.intersection(bound)
    if isinstance(node, nodes.Include | nodes.Block | nodes.Extends):
        return not captured
    random = isinstance(node, nodes.Filter) and node.name == "random"
    return not (random or isinstance(node, nodes.EvalContextModifier))


def template_is_fillable(environment: Environment, name: str) -> bool:
    """Tell whether template ``name`` and all it uses pass the check of the module docstring."""
    if not isinstance(environment.autoescape, bool) or environment.loader is None:
        return False
    checks: dict[str, _FileCheck] = {}
    pending = [name]
    while pending:
        current = pending.pop()
        if current in checks:
            continue
        try:
            source = environment.loader.get_source(environment, current)[0]
            tree = environment.parse(source, current)
        except Exception:  # any doubt means "render with Jinja2"
            return False
        check = checks[current] = _FileCheck()
        references = list(meta.find_referenced_templates(tree))
        if None in references or not all(_node_ok(n, p, check) for n, p in _walk(tree, ())):
            return False
        pending.extend(r for r in references if r is not None)
    hole_macros = set().union(*(c.hole_macros for c in checks.values()))
    if hole_macros & set().union(*(c.other_uses for c in checks.values())):
        return False
    imported = set().union(*(c.imports for c in checks.values()))
    return not any(checks[n].hole_macros for n in imported if n in checks)


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
        if not _is_hole(self._root, key):
            return super().__getitem__(key)
        if self._root == "contact":
            self._trace.guard((self._root, key), "present", None, key in self._data)
        value = super().__getitem__(key)
        if type(value) is not str:
            raise _Untraceable(f"contact.{key} is not text")
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
        self._fillable: dict[Template, bool] = {}
        self._skeletons: dict[tuple[Template, Hashable], list[_Skeleton]] = {}
        self.filled = 0  # outputs filled from a skeleton
        self.learned = 0  # skeletons made

    def fillable(self, template: Template) -> bool:
        """Tell whether ``template`` can be filled (see `template_is_fillable`; cached)."""
        fillable = self._fillable.get(template)
        if fillable is None:
            fillable = template_is_fillable(template.environment, str(template.name))
            self._fillable[template] = fillable
        return fillable

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
        if not self.fillable(template) or len(skeletons) >= _MAX_SKELETONS:
            return None
        skeleton = self._trace(template, context)
        if skeleton is None:
            return None
        parts = skeleton.fill(contact, url)
        if parts is None or "".join(parts) != output:
            # Never expected (see the module docstring); if it happens, stop filling this one.
            self._fillable[template] = False
            skeletons.clear()
            return None
        skeletons.append(skeleton)
        self.learned += 1
        return parts

    def _trace(self, template: Template, context: dict[str, Any]) -> _Skeleton | None:
        trace = _Trace(self._nonce)
        traced = dict(context)
        for root in _ROOTS:
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
