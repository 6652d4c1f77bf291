"""Problems an officer can act on: one line per distinct problem, not one per contact.

A mistake in a template stops every message it is in: 23 contacts, 23 identical lines, and the
one that differs is lost among them.  `group_problems` keeps one group per distinct problem
(its code and its text), in the order they were first met, with how many there are and the
first few examples (where each one is), for the command line, the preview pages and the
preview's index alike (`distrib.app` offers it to interfaces).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from distrib.errors import Problem

__all__ = ["EXAMPLES", "ProblemGroup", "group_problems"]

#: How many examples a group keeps.
EXAMPLES = 3


@dataclass(frozen=True, slots=True)
class ProblemGroup:
    """Identical problems: the text, how many, and the first `EXAMPLES` of them.

    ``indexes`` are the examples' positions in the sequence given to `group_problems` (so an
    interface can link each example to its message).
    """

    message: str
    code: str
    count: int
    examples: tuple[Problem, ...]
    indexes: tuple[int, ...]

    @property
    def where_examples(self) -> tuple[str, ...]:
        """Where the examples are (``lists/medias.csv:4``), for those that say."""
        return tuple(str(p.where) for p in self.examples if p.where is not None)


def group_problems(
    problems: Iterable[Problem], *, examples: int = EXAMPLES
) -> tuple[ProblemGroup, ...]:
    """Group ``problems`` by code and text, in the order each was first met."""
    found: dict[tuple[str, str], list[tuple[int, Problem]]] = {}
    counts: dict[tuple[str, str], int] = {}
    for index, problem in enumerate(problems):
        key = (problem.code, problem.message)
        counts[key] = counts.get(key, 0) + 1
        kept = found.setdefault(key, [])
        if len(kept) < examples:
            kept.append((index, problem))
    return tuple(
        ProblemGroup(
            message=message,
            code=code,
            count=counts[(code, message)],
            examples=tuple(p for _, p in kept),
            indexes=tuple(i for i, _ in kept),
        )
        for (code, message), kept in found.items()
    )
