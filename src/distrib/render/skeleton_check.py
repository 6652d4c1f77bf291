"""The static check behind template skeletons (`distrib.render.skeleton`): may a template be filled?

A template can be rendered once per variant and filled in for each contact only if Jinja2 can
do nothing with a contact value but print it and test it (the rules, and why they make the
skeleton exact, are in the `distrib.render.skeleton` docstring).  This module reads the syntax
tree of the template and of every template it extends, includes or imports (Jinja2's own
parser, ``Environment.parse``) and follows each contact value up the tree to where it ends:
printed by ``{{ … }}``, or tested.  It also notes which ``outlet.*`` fields the templates read,
so that outlets with the same values share their skeletons.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from jinja2 import Environment, meta, nodes

__all__ = ["ROOTS", "is_hole", "template_analysis", "template_is_fillable"]

#: The names whose fields vary from one contact to the next.
ROOTS = frozenset({"contact", "unsubscribe"})
# The contact field that is the same for a whole variant: the message's language.
_CONSTANT_FIELDS = frozenset({"language"})
_Path = tuple[nodes.Node, ...]  # a node's ancestors, the template first
_CAPTURING = (nodes.Macro, nodes.CallBlock, nodes.AssignBlock, nodes.FilterBlock)
_TYPE_TESTS = frozenset({"defined", "undefined", "none"})
_PRINTED_CALLS = frozenset({"super", "loop"})
_HOLE, _TEXT = "hole", "text"


def is_hole(root: str, name: str) -> bool:
    """Tell whether ``root.name`` (``contact.first_name``) varies from contact to contact."""
    if root == "contact":
        return name not in _CONSTANT_FIELDS
    return root == "unsubscribe" and name == "url"


@dataclass
class _FileCheck:
    """What the check found in one template file."""

    hole_macros: set[str] = field(default_factory=set)  # top-level macros printing contact values
    other_uses: set[str] = field(default_factory=set)  # names used other than as {{ name(…) }}
    imports: set[str] = field(default_factory=set)  # templates named by import or from-import
    outlet_fields: set[str] = field(default_factory=set)  # outlet.<field> read by the template
    outlet_all: bool = False  # `outlet` used otherwise: all its values matter


def _walk(node: nodes.Node, path: tuple[nodes.Node, ...]) -> Iterator[tuple[nodes.Node, _Path]]:
    yield node, path
    for child in node.iter_child_nodes():
        yield from _walk(child, (*path, node))


def _has_roots(*trees: Any) -> bool:
    """Tell whether any of ``trees`` (nodes, lists of nodes, None) mentions a contact value."""
    for tree in trees:
        for item in tree if isinstance(tree, list) else [tree]:
            if isinstance(item, nodes.Name) and item.name in ROOTS:
                return True
            if isinstance(item, nodes.Node) and any(
                name.name in ROOTS for name in item.find_all(nodes.Name)
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


def _constant_field(name: nodes.Name, parent: nodes.Node) -> str | None:
    """Return ``field`` when ``parent`` is ``name.field`` or ``name["field"]``, else None."""
    if isinstance(parent, nodes.Getattr) and parent.node is name:
        return str(parent.attr)
    if (
        isinstance(parent, nodes.Getitem)
        and parent.node is name
        and isinstance(parent.arg, nodes.Const)
        and isinstance(parent.arg.value, str)
    ):
        return parent.arg.value
    return None


def _root_ok(name: nodes.Name, path: _Path, check: _FileCheck) -> bool:
    """Tell whether ``contact`` / ``unsubscribe`` is used as a constant or a fillable hole."""
    field_name = _constant_field(name, path[-1])
    if name.ctx != "load" or field_name is None:
        return False
    if not is_hole(name.name, field_name):
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
    if name.name == "outlet":
        attribute = _constant_field(name, path[-1])
        if attribute is None or name.ctx != "load":
            check.outlet_all = True
        else:
            check.outlet_fields.add(attribute)
    if name.name in ("self", "lipsum"):
        return False
    if name.name in _PRINTED_CALLS and is_call:
        return printed_call
    return name.name not in ROOTS or _root_ok(name, path, check)


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
        return not ROOTS.intersection(bound)
    if isinstance(node, nodes.Include | nodes.Block | nodes.Extends):
        return not captured
    random = isinstance(node, nodes.Filter) and node.name == "random"
    return not (random or isinstance(node, nodes.EvalContextModifier))


def template_is_fillable(environment: Environment, name: str) -> bool:
    """Tell whether template ``name`` and all it uses pass the check of the module docstring."""
    return template_analysis(environment, name)[0]


def template_analysis(environment: Environment, name: str) -> tuple[bool, tuple[str, ...] | None]:
    """Check template ``name`` and all it uses (see the module docstring); return whether it
    can be filled, and the outlet fields it reads (sorted; None: it may read any)."""
    checks = _check_files(environment, name)
    if checks is None:
        return False, None
    hole_macros = set().union(*(c.hole_macros for c in checks.values()))
    imported = set().union(*(c.imports for c in checks.values()))
    if hole_macros & set().union(*(c.other_uses for c in checks.values())) or any(
        checks[n].hole_macros for n in imported if n in checks
    ):
        return False, None
    if any(c.outlet_all for c in checks.values()):
        return True, None
    return True, tuple(sorted(set().union(*(c.outlet_fields for c in checks.values()))))


def _check_files(environment: Environment, name: str) -> dict[str, _FileCheck] | None:
    """Check ``name`` and every template it names, file by file; None if one fails."""
    if not isinstance(environment.autoescape, bool) or environment.loader is None:
        return None
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
            return None
        check = checks[current] = _FileCheck()
        references = list(meta.find_referenced_templates(tree))
        if None in references or not all(_node_ok(n, p, check) for n, p in _walk(tree, ())):
            return None
        pending.extend(r for r in references if r is not None)
    return checks
