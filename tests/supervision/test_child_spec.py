"""Child specs and supervisor flags are validated eagerly, with tagged errors
(``_child_spec.py``, ``_flags.py``)."""

import math

import pytest

from beamish.actors import ErrorKind
from beamish.supervision import (
    BRUTAL_KILL,
    INFINITY,
    Backoff,
    ChildSpec,
    ChildType,
    DynamicSupervisorSpec,
    RestartType,
    SpecError,
    Strategy,
    SupervisorSpec,
    check_child_specs,
)


async def body(ctx):
    return None


def not_async(ctx):
    return None


def test_defaults_follow_otp():
    c = ChildSpec("w", body)
    assert c.restart is RestartType.PERMANENT
    assert c.shutdown == 5.0
    assert c.type is ChildType.WORKER
    assert c.args == ()


def test_a_nested_supervisor_defaults_to_infinity_shutdown():
    c = ChildSpec("sup", SupervisorSpec())
    assert c.type is ChildType.SUPERVISOR
    assert c.shutdown == INFINITY


def test_strings_are_normalised():
    c = ChildSpec("w", "app:worker", args=[1, 2], restart="transient", shutdown="brutal_kill")
    assert c.args == (1, 2)
    assert c.restart is RestartType.TRANSIENT
    assert c.shutdown is BRUTAL_KILL
    assert ChildSpec("w", body, shutdown="1m30s").shutdown == 90.0
    assert ChildSpec("w", body, shutdown="infinity").shutdown == math.inf


@pytest.mark.parametrize(
    ("kwargs", "tag", "value"),
    [
        ({"id": ""}, "invalid_child_id", ""),
        ({"id": 3}, "invalid_child_id", 3),
        ({"start": "no-colon"}, "invalid_start", "no-colon"),
        ({"start": "a:b:c"}, "invalid_start", "a:b:c"),
        ({"start": 42}, "invalid_start", 42),
        ({"start": not_async}, "invalid_start", not_async),
        ({"args": "abc"}, "invalid_args", "abc"),
        ({"restart": "sometimes"}, "invalid_restart_type", "sometimes"),
        ({"shutdown": -1}, "invalid_shutdown", -1),
        ({"shutdown": "soon"}, "invalid_shutdown", "soon"),
        ({"type": "manager"}, "invalid_child_type", "manager"),
        ({"host": ""}, "invalid_host", ""),
        ({"name": 7}, "invalid_name", 7),
    ],
)
def test_each_rule_fails_with_its_tag_and_culprit(kwargs, tag, value):
    args = {"id": "w", "start": body, **kwargs}
    with pytest.raises(SpecError) as info:
        ChildSpec(**args)
    err = info.value
    assert (err.tag, err.value) == (tag, value)
    assert err.kind is ErrorKind.INVALID and err.retryable is False
    assert err.details["tag"] == tag


def test_check_child_specs_accepts_mappings_and_rejects_duplicates():
    specs = check_child_specs([{"id": "a", "start": body}, ChildSpec("b", "app:x")])
    assert [s.id for s in specs] == ["a", "b"]
    with pytest.raises(SpecError, match=r"^child spec 'a': duplicate child id") as info:
        check_child_specs([{"id": "a", "start": body}, {"id": "a", "start": body}])
    assert (info.value.tag, info.value.value) == ("duplicate_child_name", "a")


@pytest.mark.parametrize(
    ("spec", "tag"),
    [
        ({"start": body}, "missing_id"),
        ({"id": "a"}, "missing_start"),
        ({"id": "a", "start": body, "restrat": "permanent"}, "invalid_child_spec"),
        ("a:b", "invalid_child_spec"),
    ],
)
def test_check_child_specs_missing_and_unknown_keys(spec, tag):
    with pytest.raises(SpecError) as info:
        check_child_specs([spec])
    assert info.value.tag == tag


def test_check_child_specs_needs_a_list():
    with pytest.raises(SpecError) as info:
        check_child_specs({"id": "a", "start": body})
    assert info.value.tag == "invalid_child_spec"


@pytest.mark.parametrize(
    ("kwargs", "tag"),
    [
        ({"strategy": "one_for_some"}, "invalid_strategy"),
        ({"intensity": -1}, "invalid_intensity"),
        ({"intensity": 1.5}, "invalid_intensity"),
        ({"period": 0}, "invalid_period"),
        ({"period": "never"}, "invalid_period"),
        ({"backoff": 3}, "invalid_backoff"),
        ({"backoff": {"initial_delay": "1s", "speed": 2}}, "invalid_backoff"),
        ({"backoff": {"jitter": 5}}, "invalid_backoff"),
        ({"children": [{"id": "x", "start": body, "restart": "nah"}]}, "invalid_restart_type"),
    ],
)
def test_supervisor_flags_fail_with_tags(kwargs, tag):
    with pytest.raises(SpecError) as info:
        SupervisorSpec(**kwargs)
    assert info.value.tag == tag


def test_supervisor_flags_accept_strings_and_mappings():
    spec = SupervisorSpec(
        children=[{"id": "a", "start": body}],
        strategy="rest_for_one",
        period="10s",
        backoff={"initial_delay": "100ms", "max_delay": "5s", "backoff_factor": 3},
    )
    assert spec.strategy is Strategy.REST_FOR_ONE
    assert spec.period == 10.0
    assert spec.backoff == Backoff(initial_delay=0.1, max_delay=5.0, backoff_factor=3)
    assert isinstance(spec.children[0], ChildSpec)


def test_dynamic_flags():
    assert DynamicSupervisorSpec(max_children=3).max_children == 3
    with pytest.raises(SpecError) as info:
        DynamicSupervisorSpec(max_children=-1)
    assert info.value.tag == "invalid_max_children"
