"""Dependency graphs: start order, cycles, unknown references (``_deps.py``)."""

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from beamish.supervision import DependencyError
from beamish.supervision._deps import (
    check_graph,
    closure,
    dependents,
    find_cycle,
    levels,
    start_order,
)


def test_dependencies_come_first_and_ties_are_sorted():
    g = {"a:web": ["a:db", "a:cache"], "a:db": [], "a:cache": [], "a:jobs": ["a:db"]}
    assert start_order(g) == ["a:cache", "a:db", "a:jobs", "a:web"]
    assert levels(g) == [["a:cache", "a:db"], ["a:jobs", "a:web"]]


def test_a_cycle_is_reported_as_a_path():
    g = {"a:x": ["a:y"], "a:y": ["a:z"], "a:z": ["a:x"], "a:w": []}
    assert find_cycle(g) == ["a:x", "a:y", "a:z", "a:x"]
    with pytest.raises(DependencyError, match=r"^dependency cycle: a:x -> a:y -> a:z -> a:x"):
        check_graph(g)
    with pytest.raises(DependencyError) as info:
        start_order(g)
    assert info.value.details["tag"] == "dependency_cycle"


def test_self_loop_is_a_cycle():
    assert find_cycle({"a:x": ["a:x"]}) == ["a:x", "a:x"]


def test_unknown_reference_names_both_ends():
    with pytest.raises(DependencyError, match=r"^'a:web' requires 'a:nope', which does not exist"):
        check_graph({"a:web": ["a:nope"]})
    check_graph({"a:web": ["a:host"]}, known=["a:host"])


def test_closure_and_dependents():
    g = {"a": ["b"], "b": ["c"], "c": [], "d": ["c"]}
    assert closure(g, ["a"]) == {"a", "b", "c"}
    assert dependents(g) == {"a": set(), "b": {"a"}, "c": {"b", "d"}, "d": set()}


def test_deep_chains_do_not_recurse():
    n = 5000
    g = {f"n{i}": [f"n{i + 1}"] for i in range(n)}
    g[f"n{n}"] = []
    assert start_order(g)[0] == f"n{n}"


@st.composite
def dags(draw):
    n = draw(st.integers(0, 12))
    names = [f"s{i:02d}" for i in range(n)]
    perm = draw(st.permutations(names))
    g = {}
    for i, name in enumerate(perm):
        earlier = perm[:i]
        g[name] = draw(st.lists(st.sampled_from(earlier), unique=True)) if earlier else []
    return g


@given(dags())
def test_start_order_respects_every_edge(g):
    order = start_order(g)
    assert sorted(order) == sorted(g)
    pos = {k: i for i, k in enumerate(order)}
    assert all(pos[d] < pos[k] for k, deps in g.items() for d in deps)
    flat = [k for level in levels(g) for k in level]
    assert sorted(flat) == sorted(g)


@given(dags(), st.data())
def test_adding_a_back_edge_makes_a_cycle(g, data):
    edges = [(k, d) for k, deps in g.items() for d in deps]
    if not edges:
        return
    k, d = data.draw(st.sampled_from(edges))
    g2 = {key: list(v) for key, v in g.items()}
    g2[d].append(k)
    cycle = find_cycle(g2)
    assert cycle is not None and cycle[0] == cycle[-1]
    assert all(b in g2[a] for a, b in itertools.pairwise(cycle))
