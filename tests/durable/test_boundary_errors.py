"""Errors at the workflow boundary carry the right kind: what can never reach Temporal
(too large, cyclic, not JSON data) is refused before it is sent, as INVALID and not
retryable, naming where it was going; a signal to a missing workflow makes its PID dead
(NOT_FOUND); a missing activity is NOT_FOUND and retryable, as in Wippy."""

from __future__ import annotations

import contextlib
import uuid

import pytest
import temporalio.service
import trio
from hypothesis import given
from hypothesis import strategies as st

from beamish.actors import Error, ErrorKind, Node, Pid, ProcessNotFound
from beamish.durable._client import ClientConfig, TemporalClient
from beamish.durable._convert import MAX_PAYLOAD_BYTES, check_size, to_wire

CLIENT = "app:temporal"
WORKER = "app:worker"
BIG = "x" * (5 * 1024 * 1024)
ONE_ATTEMPT = {"activity.retry_policy": {"maximum_attempts": 1}}


async def collector(ctx, n):
    return [(await ctx.receive()).data for _ in range(n)]


async def calls(ctx, func_id):
    """Call ``func_id`` once as an activity; the error it fails with, as data."""
    try:
        await ctx.call(func_id, options=ONE_ATTEMPT)
    except Error as e:
        return {"kind": e.kind.value, "retryable": e.retryable, "message": e.message}
    return None


def _crashes():
    raise Error("activity crash")  # no kind: what a Lua error("...") becomes


@contextlib.asynccontextmanager
async def running(server, task_queue):
    async with Node() as node:
        node.functions.register("app:big_result", lambda: BIG)
        node.functions.register("app:crashes", _crashes)
        tc = TemporalClient(CLIENT, ClientConfig(address=server.address))
        await tc.start(node)
        host = tc.add_worker(WORKER, task_queue)
        for eid, body in {
            "app:collector": collector,
            "app:calls": calls,
        }.items():
            host.register_workflow(eid, body)
        await host.start_worker()
        try:
            yield node, tc, host
        finally:
            await tc.aclose()


async def _exists(tc: TemporalClient, wf_id: str) -> bool:
    assert tc.bridge is not None and tc.client is not None
    handle = tc.client.get_workflow_handle(wf_id)
    try:
        await tc.bridge.run(handle.describe)
    except temporalio.service.RPCError as e:
        assert e.status == temporalio.service.RPCStatusCode.NOT_FOUND
        return False
    return True


def _assert_invalid(err: Error, *needles: str) -> None:
    assert err.kind is ErrorKind.INVALID
    assert err.retryable is False
    for needle in needles:
        assert needle in err.message, (needle, err.message)


# -- pure conversions ------------------------------------------------------------------


def test_a_cyclic_value_is_invalid_and_names_where():
    a: list = [1]
    a.append({"self": a})
    with pytest.raises(Error) as info:
        to_wire(a, "argument 2 of the start of workflow app:x")
    _assert_invalid(info.value, "cyclic value", "argument 2 of the start of workflow app:x")


def test_a_python_object_is_invalid_and_names_its_type():
    with pytest.raises(Error) as info:
        to_wire({"k": [object()]}, "signal 'go' to workflow w")
    _assert_invalid(info.value, "builtins.object", "signal 'go' to workflow w", "JSON")


def test_size_over_the_limit_is_invalid_and_names_the_limit():
    with pytest.raises(Error) as info:
        check_size([BIG], "the start of workflow app:x")
    _assert_invalid(info.value, str(MAX_PAYLOAD_BYTES), "the start of workflow app:x")
    assert info.value.details["limit"] == MAX_PAYLOAD_BYTES
    check_size(["small"], "anything")  # fits: no error


json_data = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(json_data)
def test_shared_but_acyclic_values_are_not_called_cyclic(value):
    shared = [value, value, {"a": value, "b": [value]}]
    assert to_wire(shared) == [value, value, {"a": value, "b": [value]}]


# -- with a real server ---------------------------------------------------------------


needs_server = pytest.mark.temporal


@needs_server
async def test_too_large_start_argument_is_refused_before_sending(temporal_server, task_queue):
    async with running(temporal_server, task_queue) as (node, tc, host):
        name = f"big-{uuid.uuid4().hex[:8]}"
        with pytest.raises(Error) as info:
            node.spawn("app:collector", BIG, host=WORKER, name=name)
        _assert_invalid(info.value, "too large", str(MAX_PAYLOAD_BYTES), "app:collector")
        with pytest.raises(Error) as info:
            await node.exec("app:collector", BIG, host=WORKER)
        _assert_invalid(info.value, "too large")
        assert host.started == 0
        assert not await _exists(tc, name)


@needs_server
async def test_cyclic_start_argument_is_invalid_naming_the_argument(temporal_server, task_queue):
    async with running(temporal_server, task_queue) as (node, tc, _):
        cyc: dict = {}
        cyc["me"] = cyc
        name = f"cyc-{uuid.uuid4().hex[:8]}"
        with pytest.raises(Error) as info:
            node.spawn("app:collector", 1, cyc, host=WORKER, name=name)
        _assert_invalid(
            info.value, "cyclic value", "argument 2 of the start of workflow app:collector"
        )
        assert not await _exists(tc, name)


@needs_server
async def test_bad_start_up_message_refuses_the_whole_start(temporal_server, task_queue):
    async with running(temporal_server, task_queue) as (node, tc, _):
        name = f"msg-{uuid.uuid4().hex[:8]}"
        with pytest.raises(Error) as info:
            node.spawn("app:collector", 1, host=WORKER, name=name, messages=[("go", (object(),))])
        _assert_invalid(info.value, "'go'", "app:collector", "builtins.object")
        assert not await _exists(tc, name)


@needs_server
async def test_signal_payload_errors_name_workflow_topic_and_type(temporal_server, task_queue):
    async with running(temporal_server, task_queue) as (node, _, host):
        pid = node.spawn("app:collector", 1, host=WORKER)

        class Thing:
            pass

        with pytest.raises(Error) as info:
            node.send(pid, "poke", Thing())
        _assert_invalid(info.value, str(pid), "'poke'", "Thing", "JSON data")
        with pytest.raises(Error) as info:
            node.send(pid, "poke", BIG)
        _assert_invalid(info.value, str(pid), "'poke'", "too large")
        assert host.signals == 0
        node.send(pid, "poke", "fine")
        assert await node.wait(pid) == (["fine"], None)


@needs_server
async def test_signal_to_a_missing_workflow_makes_its_pid_not_found(temporal_server, task_queue):
    async with running(temporal_server, task_queue) as (node, _, host):
        pid = Pid(WORKER, f"missing-{uuid.uuid4().hex[:8]}", CLIENT)
        node.send(pid, "ping", 1)  # cannot fail synchronously: Temporal answers later
        with trio.fail_after(30):
            while host.is_alive(pid):
                await trio.sleep(0.02)
        with pytest.raises(ProcessNotFound) as info:
            node.send(pid, "ping", 2)
        assert info.value.kind is ErrorKind.NOT_FOUND and info.value.retryable is False


@needs_server
async def test_missing_activity_is_not_found_and_retryable(temporal_server, task_queue):
    async with running(temporal_server, task_queue) as (node, _, _h):
        got = await node.exec("app:calls", "app:no_such_function", host=WORKER)
        assert got["kind"] == "NotFound" and got["retryable"] is True
        assert "app:no_such_function" in got["message"]


@needs_server
async def test_too_large_activity_result_is_invalid_not_retryable(temporal_server, task_queue):
    async with running(temporal_server, task_queue) as (node, _, _h):
        got = await node.exec("app:calls", "app:big_result", host=WORKER)
        assert got["kind"] == "Invalid" and got["retryable"] is False
        assert "result of activity app:big_result" in got["message"]
        assert str(MAX_PAYLOAD_BYTES) in got["message"]


@needs_server
async def test_a_kindless_activity_failure_is_internal(temporal_server, task_queue):
    # A failure without a kind (what a Lua error("...") becomes) reaches the workflow as
    # INTERNAL, as Wippy's failure converter types a kindless error.
    async with running(temporal_server, task_queue) as (node, _, _h):
        got = await node.exec("app:calls", "app:crashes", host=WORKER)
        assert got["kind"] == "Internal" and "activity crash" in got["message"]
