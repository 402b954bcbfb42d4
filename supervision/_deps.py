"""Service dependency graphs: start order, stop order, cycles and unknown references.

Wippy's rule: a service starts after everything it
``requires``; it stops before them; independent branches run in parallel; a cycle is a
hard error. This module is the pure part: a graph is a mapping ``id -> ids it
requires``; nothing here starts anything.

* :func:`check_graph` raises on a reference to an unknown node or on a cycle. The cycle
  error lists the path (``a:x -> a:y -> a:x``) so the fix is obvious; the search visits
  IDs in sorted order, so the same graph always reports the same cycle.
* :func:`start_order` is a topological order (dependencies first), ties broken by ID
  (Wippy sorts IDs to stay deterministic). :func:`levels` groups it into waves whose
  members do not depend on each other.
* :func:`closure` is everything a set of IDs needs, transitively; :func:`dependents`
  inverts the graph (who needs me), which the stop order walks.

The service manager does not start level by level: each service waits only for its own
dependencies, so a slow branch never holds up an unrelated one. Levels are for humans
(docs, ``--explain`` output) and for tests of the order property.

Invariant (tested with Hypothesis): in :func:`start_order`, every node comes after all
the nodes it requires.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping

from beamish.actors import Error, ErrorKind

__all__ = [
    "DependencyError",
    "check_graph",
    "closure",
    "dependents",
    "find_cycle",
    "levels",
    "start_order",
]

Graph = Mapping[str, Iterable[str]]


class DependencyError(Error):
    """A dependency graph is unusable: an unknown reference or a cycle.

    ``details["tag"]`` is ``"unknown_dependency"`` (``details["node"]`` requires
    ``details["missing"]``) or ``"dependency_cycle"`` (``details["cycle"]`` is the path,
    first node repeated at the end).
    """

    kind = ErrorKind.INVALID

    def __init__(self, message: str, **kw: object) -> None:
        kw.setdefault("retryable", False)
        super().__init__(message, **kw)  # type: ignore[arg-type]


def _norm(graph: Graph) -> dict[str, tuple[str, ...]]:
    return {k: tuple(sorted(set(v))) for k, v in graph.items()}


def find_cycle(graph: Graph) -> list[str] | None:
    """A cycle as a path ``[a, b, ..., a]``, or None. Unknown references are ignored."""
    g = _norm(graph)
    WHITE, GREY, BLACK = 0, 1, 2
    color = dict.fromkeys(g, WHITE)
    for root in sorted(g):
        if color[root] != WHITE:
            continue
        # Iterative DFS: deep chains must not hit Python's recursion limit.
        path: list[str] = [root]
        iters = [iter(g[root])]
        color[root] = GREY
        while iters:
            nxt = next(iters[-1], None)
            if nxt is None:
                color[path.pop()] = BLACK
                iters.pop()
                continue
            if nxt not in color:
                continue
            if color[nxt] == GREY:
                return [*path[path.index(nxt) :], nxt]
            if color[nxt] == WHITE:
                color[nxt] = GREY
                path.append(nxt)
                iters.append(iter(g[nxt]))
    return None


def check_graph(graph: Graph, *, known: Iterable[str] = ()) -> None:
    """Raise :class:`DependencyError` for a reference to a node neither in ``graph`` nor
    in ``known`` (things that count as always available), or for a cycle."""
    g = _norm(graph)
    extra = set(known)
    for node in sorted(g):
        for dep in g[node]:
            if dep not in g and dep not in extra:
                raise DependencyError(
                    f"{node!r} requires {dep!r}, which does not exist; fix the ID in "
                    "'requires' or add that entry",
                    details={"tag": "unknown_dependency", "node": node, "missing": dep},
                )
    cycle = find_cycle(g)
    if cycle is not None:
        raise DependencyError(
            "dependency cycle: " + " -> ".join(cycle) + "; remove one of these 'requires'",
            details={"tag": "dependency_cycle", "cycle": cycle},
        )


def start_order(graph: Graph) -> list[str]:
    """Every node, dependencies first, ties by ID. Raises on a cycle.

    References to nodes outside ``graph`` are ignored (they are always available)."""
    g = _norm(graph)
    cycle = find_cycle(g)
    if cycle is not None:
        raise DependencyError(
            "dependency cycle: " + " -> ".join(cycle),
            details={"tag": "dependency_cycle", "cycle": cycle},
        )
    waiting = {k: sum(1 for d in v if d in g) for k, v in g.items()}
    users = dependents(g)
    ready = [k for k, n in waiting.items() if n == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        node = heapq.heappop(ready)
        order.append(node)
        for user in users.get(node, ()):
            waiting[user] -= 1
            if waiting[user] == 0:
                heapq.heappush(ready, user)
    assert len(order) == len(g), "a cycle slipped past find_cycle"
    return order


def levels(graph: Graph) -> list[list[str]]:
    """Waves of nodes: each depends only on nodes of earlier waves; sorted inside."""
    g = _norm(graph)
    depth: dict[str, int] = {}
    for node in start_order(g):
        depth[node] = 1 + max((depth[d] for d in g[node] if d in g), default=-1)
    out: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for node in sorted(depth):
        out[depth[node]].append(node)
    return out


def dependents(graph: Graph) -> dict[str, set[str]]:
    """``id -> ids that require it`` (only nodes of ``graph``)."""
    g = _norm(graph)
    out: dict[str, set[str]] = {k: set() for k in g}
    for node, deps in g.items():
        for d in deps:
            if d in out:
                out[d].add(node)
    return out


def closure(graph: Graph, ids: Iterable[str]) -> set[str]:
    """``ids`` plus everything they require, transitively (only nodes of ``graph``)."""
    g = _norm(graph)
    seen: set[str] = set()
    stack = [i for i in ids if i in g]
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        stack.extend(d for d in g[node] if d in g and d not in seen)
    return seen
