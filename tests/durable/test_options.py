"""Wippy-style option mappings into temporalio keywords (``durable/_options.py``): Go
durations and bare milliseconds, the seconds of ``call(timeout=)``, prefixes, and one
reading of workflow options for children and for starts from outside."""

from __future__ import annotations

import datetime

import pytest
import temporalio.common
import temporalio.workflow as workflow
from hypothesis import given
from hypothesis import strategies as st

from beamish.actors import Error, ErrorKind
from beamish.durable._options import (
    activity_options,
    child_options,
    duration,
    retry_policy,
    start_options,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1500, 1.5),
        (2.5, 0.0025),
        ("250ms", 0.25),
        ("10s", 10.0),
        ("5m", 300.0),
        ("1h", 3600.0),
        ("1m30s", 90.0),
        ("1h0.5m", 3630.0),
        (datetime.timedelta(seconds=3), 3.0),
    ],
)
def test_temporal_durations_are_go_strings_or_bare_milliseconds(value, expected):
    assert duration(value, "activity.heartbeat_timeout").total_seconds() == expected


@pytest.mark.parametrize("bad", ["soon", "10 parsecs", "-1s", True, [1]])
def test_bad_durations_are_invalid_and_name_the_option_and_the_unit(bad):
    with pytest.raises(
        Error, match=r"^'workflow.run_timeout' must be a duration like .* number of milliseconds"
    ) as info:
        duration(bad, "workflow.run_timeout")
    assert info.value.kind is ErrorKind.INVALID and not info.value.retryable


def test_activity_options_accept_wippy_prefixes_and_default_start_to_close():
    kw = activity_options(
        {
            "temporal.activity.start_to_close_timeout": "30s",
            "activity.retry_policy": {"maximum_attempts": 2, "initial_interval": 100},
            "heartbeat_timeout": 5000,
        }
    )
    assert kw["start_to_close_timeout"] == datetime.timedelta(seconds=30)
    assert kw["heartbeat_timeout"] == datetime.timedelta(seconds=5)
    assert kw["retry_policy"].maximum_attempts == 2
    assert kw["retry_policy"].initial_interval == datetime.timedelta(milliseconds=100)
    assert activity_options({})["start_to_close_timeout"] == datetime.timedelta(minutes=10)
    assert activity_options({}, timeout=2)["schedule_to_close_timeout"].total_seconds() == 2


def test_the_timeout_argument_of_call_stays_in_seconds():
    kw = activity_options({"schedule_to_close_timeout": 500}, timeout=1.5)
    assert kw["schedule_to_close_timeout"] == datetime.timedelta(seconds=1.5)
    with pytest.raises(Error, match=r"^'timeout' must be .* number of seconds"):
        activity_options({}, timeout=-1)


def test_retry_policy_errors_name_the_nested_option():
    with pytest.raises(Error, match=r"^'activity.retry_policy.maximum_interval' must be"):
        activity_options({"retry_policy": {"maximum_interval": "often"}})


WORKFLOW_OPTIONS = {
    "id": "wf-1",
    "temporal.workflow.execution_timeout": "1m30s",
    "workflow.run_timeout": 60_000,
    "task_timeout": "10s",
    "workflow.id_reuse_policy": "REJECT_DUPLICATE",
    "retry_policy": {"initial_interval": "1s", "backoff_coefficient": 3, "maximum_attempts": 4},
    "cron_schedule": "*/5 * * * *",
    "memo": {"team": "ops"},
}


def test_children_and_starts_from_outside_read_workflow_options_alike():
    child = child_options(WORKFLOW_OPTIONS)
    start = start_options(WORKFLOW_OPTIONS, task_queue="q")
    shared = {
        "id": "wf-1",
        "execution_timeout": datetime.timedelta(seconds=90),
        "run_timeout": datetime.timedelta(seconds=60),
        "task_timeout": datetime.timedelta(seconds=10),
        "id_reuse_policy": temporalio.common.WorkflowIDReusePolicy.REJECT_DUPLICATE,
        "retry_policy": temporalio.common.RetryPolicy(
            initial_interval=datetime.timedelta(seconds=1),
            backoff_coefficient=3.0,
            maximum_attempts=4,
        ),
        "cron_schedule": "*/5 * * * *",
        "memo": {"team": "ops"},
    }
    assert child == shared
    assert {k: v for k, v in start.items() if k in shared} == shared


def test_a_start_from_outside_is_idempotent_only_when_named():
    fail = temporalio.common.WorkflowIDConflictPolicy.FAIL
    use_existing = temporalio.common.WorkflowIDConflictPolicy.USE_EXISTING
    assert start_options(None, task_queue="q") == {"task_queue": "q", "id_conflict_policy": fail}
    assert start_options({}, task_queue="q", named=True)["id_conflict_policy"] is use_existing
    assert start_options({"workflow.id": "x"}, task_queue="q")["id_conflict_policy"] is (
        use_existing
    )
    kw = start_options(
        {"id_conflict_policy": "terminate_existing", "task_queue": "other", "start_delay": 250},
        task_queue="q",
        named=True,
    )
    assert kw["id_conflict_policy"] is (
        temporalio.common.WorkflowIDConflictPolicy.TERMINATE_EXISTING
    )
    assert kw["task_queue"] == "other"
    assert kw["start_delay"] == datetime.timedelta(milliseconds=250)


def test_child_only_options_map_to_the_child_start():
    kw = child_options({"parent_close_policy": "abandon", "wait_for_cancellation": False})
    assert kw == {
        "parent_close_policy": workflow.ParentClosePolicy.ABANDON,
        "cancellation_type": workflow.ChildWorkflowCancellationType.TRY_CANCEL,
    }
    assert child_options(None) == {}


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"id_reuse_policy": "sometimes"}, r"^invalid workflow.id_reuse_policy 'sometimes'"),
        ({"parent_close_policy": "orphan"}, r"^invalid workflow.parent_close_policy 'orphan'"),
        ({"workflow.execution_timeout": "1 day"}, r"^'workflow.execution_timeout' must be"),
    ],
)
def test_bad_workflow_options_are_invalid_and_named(options, problem):
    with pytest.raises(Error, match=problem) as info:
        child_options(options)
    assert info.value.kind is ErrorKind.INVALID and not info.value.retryable


def test_bad_conflict_policies_list_the_valid_ones():
    with pytest.raises(Error, match=r"use one of fail, terminate_existing, use_existing$"):
        start_options({"id_conflict_policy": "merge"}, task_queue="q")


def test_a_ready_retry_policy_passes_through():
    policy = temporalio.common.RetryPolicy(maximum_attempts=2)
    assert retry_policy(policy) is policy
    assert retry_policy(None) is None
    with pytest.raises(Error, match=r"^workflow.retry_policy must be a mapping"):
        child_options({"retry_policy": [1, 2]})


def test_a_named_start_means_once_unless_reuse_is_asked_for():
    reject = temporalio.common.WorkflowIDReusePolicy.REJECT_DUPLICATE
    assert start_options({}, task_queue="q", named=True)["id_reuse_policy"] is reject
    assert start_options({"workflow.id": "x"}, task_queue="q")["id_reuse_policy"] is reject
    assert "id_reuse_policy" not in start_options({}, task_queue="q")  # a fresh ID
    kw = start_options(
        {"temporal.workflow.id_reuse_policy": "allow_duplicate"}, task_queue="q", named=True
    )
    assert kw["id_reuse_policy"] is temporalio.common.WorkflowIDReusePolicy.ALLOW_DUPLICATE
    assert "id_reuse_policy" not in child_options({"workflow.id": "x"})  # children: as given


def test_error_when_already_started_must_be_a_boolean():
    with pytest.raises(Error, match=r"execution_error_when_already_started must be true or") as e:
        start_options({"execution_error_when_already_started": "yes"}, task_queue="q")
    assert e.value.kind is ErrorKind.INVALID


@given(
    named=st.booleans(),
    with_id=st.booleans(),
    flag=st.sampled_from([None, True, False]),
    policy=st.sampled_from([None, "use_existing", "fail", "terminate_existing"]),
)
def test_the_conflict_policy_follows_wippys_rule(named, with_id, flag, policy):
    """An explicit policy wins; else FAIL exactly when the start must error on an ID
    already started: the flag if given, else when the ID is generated."""
    options: dict = {}
    if with_id:
        options["workflow.id"] = "wf"
    if flag is not None:
        options["temporal.workflow.execution_error_when_already_started"] = flag
    if policy is not None:
        options["workflow.id_conflict_policy"] = policy
    got = start_options(options, task_queue="q", named=named)["id_conflict_policy"]
    manual = named or with_id
    if policy is not None:
        expected = policy.upper()
    elif flag if flag is not None else not manual:
        expected = "FAIL"
    else:
        expected = "USE_EXISTING"
    assert got.name == expected
