"""OTP supervisors with real processes (``supervision/_supervisor.py``).

Grouped like OTP's ``supervisor_SUITE``: the restart matrix (restart type × exit
reason × strategy), start and stop order, shutdown protocol, intensity and escalation,
the supervisor as a process, the child API, backoff. All on the autojumping MockClock.
"""

import math

import pytest
import trio
from supervision_helpers import EXITS, Board, settle

from beamish.actors import (
    TERMINATED,
    Error,
    ErrorKind,
    EventKind,
    Node,
    ProcessExit,
    ProcessNotFound,
)
from beamish.supervision import (
    BRUTAL_KILL,
    SHUTDOWN_REASON,
    Backoff,
    ChildSpec,
    ChildState,
    Strategy,
    Supervisor,
    SupervisorSpec,
    SupervisorState,
    start_supervisor,
    supervisor_at,
)


def three(board, restart_b="permanent", **flags):
    return SupervisorSpec(
        children=[
            ChildSpec("a", board.child, ("a",)),
            ChildSpec("b", board.child, ("b",), restart=restart_b),
            ChildSpec("c", board.child, ("c",)),
        ],
        **{"intensity": 10, "period": 10, **flags},
    )


# ======================================================================================
# The matrix: restart type × exit reason × strategy
# ======================================================================================

RESTARTED = {
    # restart type: exit reasons after which the child is restarted
    "permanent": {"normal", "error", "canceled", "killed"},
    "transient": {"error", "killed"},
    "temporary": set(),
}
GROUP = {"one_for_one": {"b"}, "one_for_all": {"a", "b", "c"}, "rest_for_one": {"b", "c"}}


@pytest.mark.parametrize("strategy", list(GROUP))
@pytest.mark.parametrize("exit_reason", EXITS)
@pytest.mark.parametrize("restart", list(RESTARTED))
async def test_restart_matrix(restart, exit_reason, strategy):
    # b (the middle child) exits; who is restarted depends on all three coordinates.
    board = Board()
    async with Node() as node:
        sup = await start_supervisor(node, three(board, restart, strategy=strategy))
        await settle()
        before = {c: board.pid(c) for c in "abc"}
        board.make_exit(node, "b", exit_reason)
        await settle()
        restarted = exit_reason in RESTARTED[restart]
        expected_new = GROUP[strategy] if restarted else set()
        for c in "abc":
            assert board.count(c) == (2 if c in expected_new else 1), (c, board.log)
        infos = {i.id: i for i in sup.which_children()}
        if restarted:
            assert sup.restarts == 1
            assert all(infos[c].state is ChildState.RUNNING for c in "abc")
            assert infos["b"].pid == board.pid("b") != before["b"]
            # siblings restarted by the strategy were asked to stop first
            assert set(board.cancels()) == expected_new - {"b"}
        else:
            assert sup.restarts == 0
            if restart == "temporary":
                assert "b" not in infos  # removed
            else:
                assert infos["b"].state is ChildState.STOPPED and infos["b"].pid is None
            assert board.cancels() == []
        assert sup.state is SupervisorState.RUNNING
        assert await sup.stop() is None
        assert node.processes() == []


@pytest.mark.parametrize("strategy", ["one_for_all", "rest_for_one"])
async def test_temporary_siblings_caught_in_a_group_restart_are_removed(strategy):
    board = Board()
    spec = SupervisorSpec(
        children=[
            ChildSpec("a", board.child, ("a",)),
            ChildSpec("t", board.child, ("t",), restart="temporary"),
        ],
        strategy=strategy,
    )
    async with Node() as node:
        sup = await start_supervisor(node, spec)
        await settle()
        board.make_exit(node, "a", "error")
        await settle()
        assert [i.id for i in sup.which_children()] == ["a"]
        assert board.count("t") == 1 and board.count("a") == 2
        assert board.cancels() == ["t"]


async def test_one_for_all_restarts_a_stopped_transient_sibling_too():
    # OTP restarts every non-temporary child of the group, stopped ones included.
    board = Board()
    spec = SupervisorSpec(
        children=[
            ChildSpec("a", board.child, ("a",)),
            ChildSpec("tr", board.child, ("tr",), restart="transient"),
        ],
        strategy="one_for_all",
    )
    async with Node() as node:
        sup = await start_supervisor(node, spec)
        await settle()
        board.make_exit(node, "tr", "normal")
        await settle()
        assert board.count("tr") == 1
        board.make_exit(node, "a", "error")
        await settle()
        assert board.count("tr") == 2 and board.count("a") == 2
        assert all(i.state is ChildState.RUNNING for i in sup.which_children())


async def test_simultaneous_crashes_in_one_for_all_count_as_one_restart():
    board = Board()
    async with Node() as node:
        sup = await start_supervisor(node, three(board, strategy="one_for_all"))
        await settle()
        board.make_exit(node, "a", "error")
        board.make_exit(node, "c", "error")
        await settle()
        # c's EXIT was covered by the group restart a's crash triggered (stale, ignored).
        assert sup.restarts == 1
        assert [board.count(c) for c in "abc"] == [2, 2, 2]


# ======================================================================================
# Start and stop order, shutdown protocol
# ======================================================================================


async def test_children_start_in_order_and_stop_in_reverse():
    board = Board()
    spec = SupervisorSpec(children=[ChildSpec(c, board.child, (c,)) for c in "abcde"])
    async with Node() as node:
        sup = await start_supervisor(node, spec)
        await settle()
        pids = [board.pid(c) for c in "abcde"]
        assert pids == sorted(pids, key=lambda p: int(p.id, 16))  # spawned left to right
        await sup.stop()
        assert board.cancels() == list("edcba")
        assert all(e[2] == SHUTDOWN_REASON for e in board.log if e[0] == "cancel")


async def test_shutdown_timeout_then_terminate():
    board = Board()
    board.stubborn.add("slow")
    spec = SupervisorSpec(children=[ChildSpec("slow", board.child, ("slow",), shutdown=3.0)])
    async with Node() as node:
        sup = await start_supervisor(node, spec)
        await settle()
        t0 = trio.current_time()
        await sup.stop()
        assert trio.current_time() - t0 == pytest.approx(3.0)  # virtual time
        assert board.cancels() == ["slow"]
        assert not node.is_alive(board.pid("slow"))


async def test_brutal_kill_terminates_without_cancel():
    board = Board()
    spec = SupervisorSpec(children=[ChildSpec("k", board.child, ("k",), shutdown=BRUTAL_KILL)])
    async with Node() as node:
        sup = await start_supervisor(node, spec)
        await settle()
        pid = board.pid("k")
        waiter = trio.Event()
        result = []

        async def watch():
            result.append(await node.wait(pid))
            waiter.set()

        async with trio.open_nursery() as n:
            n.start_soon(watch)
            await settle()
            await sup.stop()
        assert board.cancels() == []
        assert result[0][1].message == TERMINATED


async def test_infinity_shutdown_waits_for_the_child():
    board = Board()
    board.stubborn.add("s")
    spec = SupervisorSpec(children=[ChildSpec("s", board.child, ("s",), shutdown=math.inf)])
    async with Node() as node:
        sup = await start_supervisor(node, spec)
        await settle()
        async with trio.open_nursery() as n:
            n.start_soon(sup.stop)
            await trio.sleep(3600)
            assert sup.running  # still waiting for the stubborn child
            board.make_exit(node, "s", "normal")
        assert sup.state is SupervisorState.STOPPED


async def test_stop_timeout_terminates_a_stuck_supervisor():
    board = Board()
    board.stubborn.add("s")
    spec = SupervisorSpec(children=[ChildSpec("s", board.child, ("s",), shutdown=math.inf)])
    async with Node() as node:
        sup = await start_supervisor(node, spec)
        await settle()
        err = await sup.stop(timeout=2)
        assert err is not None and err.message == TERMINATED
        await settle()
        # the stubborn child was linked to the supervisor: it went down with it
        assert node.processes() == []


# ======================================================================================
# Intensity and escalation
# ======================================================================================


async def test_exceeding_intensity_stops_children_and_exits_with_an_error():
    board = Board()
    spec = three(board, intensity=2, period=60)
    async with Node() as node:
        sup = await start_supervisor(node, spec)
        for _ in range(3):
            await settle()
            board.make_exit(node, "b", "error")
            await trio.sleep(1)
        err = await sup.wait()
        assert err is not None
        assert err.kind is ErrorKind.INTERNAL
        assert err.details["reason"] == "reached_max_restart_intensity"
        assert err.details["child"] == "b"
        assert "maximum restart intensity (2 restarts within 60s)" in err.message
        assert sup.state is SupervisorState.FAILED
        assert node.processes() == []
        assert board.cancels() == ["c", "a"]  # survivors stopped in reverse order


async def test_restarts_outside_the_period_do_not_accumulate():
    board = Board()
    async with Node() as node:
        sup = await start_supervisor(node, three(board, intensity=1, period=5))
        for _ in range(5):
            await settle()
            board.make_exit(node, "b", "error")
            await trio.sleep(5)  # exactly one period apart: the window is half-open
        await settle()
        assert sup.running and sup.restarts == 5


async def test_escalation_through_a_tree():
    # root (one_for_one, intensity 1) -> mid (intensity 0) -> worker.
    board = Board()
    mid = SupervisorSpec(children=[ChildSpec("w", board.child, ("w",))], intensity=0)
    root_spec = SupervisorSpec(children=[ChildSpec("mid", mid)], intensity=1, period=100)
    async with Node() as node:
        root = await start_supervisor(node, root_spec)
        await settle()
        mid_pid = root.which_children()[0].pid
        assert root.child_supervisor("mid").pid == mid_pid
        board.make_exit(node, "w", "error")  # mid gives up at once; root restarts mid
        await settle()
        assert root.restarts == 1
        new_mid = root.which_children()[0].pid
        assert new_mid != mid_pid and board.count("w") == 2
        board.make_exit(node, "w", "error")  # mid gives up again: root's 2nd restart
        await settle()
        err = await root.wait()
        assert err.details["reason"] == "reached_max_restart_intensity"
        assert err.details["child"] == "mid"
        assert err.details["error"]["details"]["reason"] == "reached_max_restart_intensity"
        assert node.processes() == []


# ======================================================================================
# A supervisor is a process
# ======================================================================================


async def test_a_supervisor_can_be_monitored_linked_and_named():
    board = Board()

    async def parent(ctx):
        sup = await start_supervisor(ctx, three(board), monitor=True, link=True, name="the_sup")
        assert ctx.lookup("the_sup") == sup.pid
        assert supervisor_at(node, "the_sup") is sup
        await sup.stop()
        ev = await ctx.events().receive()
        return ev.kind, ev.sender == sup.pid, ev.error

    async with Node() as node:
        assert await node.exec(parent) == (EventKind.EXIT, True, None)


async def test_a_linked_parent_failing_stops_the_supervisor():
    board = Board()
    box = []

    async def parent(ctx):
        sup = await start_supervisor(ctx, three(board), link=True)
        box.append(sup)
        await settle()
        raise Error("parent blew up", kind=ErrorKind.INTERNAL)

    async with Node() as node:
        with pytest.raises(ProcessExit, match="parent blew up"):
            await node.exec(parent)
        sup = box[0]
        err = await sup.wait()
        assert err.details["reason"] == "parent_failed"
        assert "parent blew up" in err.message
        assert board.cancels() == ["c", "b", "a"]
        assert node.processes() == []


async def test_terminating_a_supervisor_takes_its_linked_children_down():
    board = Board()
    async with Node() as node:
        sup = await start_supervisor(node, three(board))
        await settle()
        node.terminate(sup.pid)
        await settle()
        assert node.processes() == []
        assert sup.state is SupervisorState.FAILED


async def test_node_shutdown_stops_supervisors_cleanly():
    board = Board()
    async with Node() as node:
        await start_supervisor(node, three(board))
        await settle()
    assert node.terminated_at_shutdown == 0
    assert sorted(board.cancels()) == ["a", "b", "c"]


async def test_supervisor_at_rejects_non_supervisors():
    async def idle(ctx):
        await ctx.events().receive()

    async with Node() as node:
        pid = node.spawn(idle)
        with pytest.raises(Error, match="is not a supervisor"):
            supervisor_at(node, pid)


# ======================================================================================
# The child API
# ======================================================================================


async def test_start_terminate_restart_delete_child():
    board = Board()
    async with Node() as node:
        sup = await start_supervisor(node, SupervisorSpec())
        pid = await sup.start_child(ChildSpec("x", board.child, ("x",)))
        await settle()
        assert board.pid("x") == pid
        with pytest.raises(Error, match="already has a child 'x' running") as info:
            await sup.start_child({"id": "x", "start": board.child, "args": ["x"]})
        assert info.value.kind is ErrorKind.ALREADY_EXISTS
        assert info.value.details["reason"] == "already_started"
        with pytest.raises(Error) as info:
            await sup.delete_child("x")
        assert info.value.kind is ErrorKind.CONFLICT
        await sup.terminate_child("x")
        assert sup.which_children()[0].state is ChildState.STOPPED
        with pytest.raises(Error) as info:
            await sup.start_child(ChildSpec("x", board.child, ("x",)))
        assert info.value.details["reason"] == "already_present"
        pid2 = await sup.restart_child("x")
        assert pid2 != pid and node.is_alive(pid2)
        with pytest.raises(Error) as info:
            await sup.restart_child("x")
        assert info.value.kind is ErrorKind.CONFLICT
        await sup.terminate_child("x")
        await sup.delete_child("x")
        assert sup.which_children() == []
        with pytest.raises(Error) as info:
            await sup.terminate_child("x")
        assert info.value.kind is ErrorKind.NOT_FOUND
        counts = sup.count_children()
        assert (counts.specs, counts.active) == (0, 0)


async def test_terminate_child_removes_a_temporary_child():
    board = Board()
    async with Node() as node:
        sup = await start_supervisor(node, SupervisorSpec())
        await sup.start_child(ChildSpec("t", board.child, ("t",), restart="temporary"))
        await sup.terminate_child("t")
        assert sup.which_children() == []


async def test_count_children_and_statistics():
    board = Board()
    spec = SupervisorSpec(
        children=[
            ChildSpec("w", board.child, ("w",)),
            ChildSpec("s", SupervisorSpec(children=[ChildSpec("w2", board.child, ("w2",))])),
        ]
    )
    async with Node() as node:
        sup = await start_supervisor(node, spec)
        c = sup.count_children()
        assert (c.specs, c.active, c.supervisors, c.workers) == (2, 2, 1, 1)
        stats = sup.statistics()
        assert (stats.children, stats.active, stats.restarts) == (2, 2, 0)
        assert "one_for_one" in repr(sup) and "running" in repr(sup)


async def test_api_calls_on_a_dead_supervisor_raise_not_found():
    async with Node() as node:
        sup = await start_supervisor(node, SupervisorSpec())
        await sup.stop()
        with pytest.raises(ProcessNotFound, match="is not running"):
            await sup.start_child(ChildSpec("x", "app:x"))


async def test_a_failed_initial_start_stops_started_children_and_raises():
    board = Board()
    spec = SupervisorSpec(
        children=[ChildSpec("ok", board.child, ("ok",)), ChildSpec("bad", "app:missing")]
    )
    async with Node() as node:
        with pytest.raises(Error, match=r"failed to start child 'bad'") as info:
            await start_supervisor(node, spec)
        assert info.value.details["reason"] == "failed_to_start_child"
        assert info.value.kind is ErrorKind.NOT_FOUND
        await settle()
        assert board.cancels() == ["ok"]
        assert node.processes() == []


async def test_a_failing_restart_counts_against_the_intensity():
    # The body is registered by ID; after the first run the registration disappears,
    # so restarts fail to spawn and the supervisor escalates instead of looping.
    board = Board()
    async with Node() as node:
        node.register_process("app:flaky", board.child)
        spec = SupervisorSpec(
            children=[ChildSpec("f", "app:flaky", ("f",))], intensity=3, period=10
        )
        sup = await start_supervisor(node, spec)
        await settle()
        del node._bodies["app:flaky"]
        board.make_exit(node, "f", "error")
        err = await sup.wait()
        assert err.details["reason"] == "reached_max_restart_intensity"
        assert "not found" in err.message


async def test_named_children_are_registered_again_after_a_restart():
    board = Board()
    spec = SupervisorSpec(children=[ChildSpec("n", board.child, ("n",), name="worker.n")])
    async with Node() as node:
        await start_supervisor(node, spec)
        await settle()
        first = node.lookup("worker.n")
        board.make_exit(node, "n", "error")
        await settle()
        assert node.lookup("worker.n") == board.pid("n") != first


async def test_a_taken_name_is_a_start_failure():
    board = Board()

    async def squatter(ctx):
        await ctx.events().receive()

    async with Node() as node:
        node.register("taken", node.spawn(squatter))
        spec = SupervisorSpec(children=[ChildSpec("n", board.child, ("n",), name="taken")])
        with pytest.raises(Error, match="is taken by") as info:
            await start_supervisor(node, spec)
        assert info.value.kind is ErrorKind.ALREADY_EXISTS


async def test_a_supervisor_object_runs_once():
    async with Node() as node:
        sup = await start_supervisor(node, SupervisorSpec())
        with pytest.raises(Error, match="already run"):
            sup.spawn(node)
        with pytest.raises(Error, match="cannot run a DynamicSupervisorSpec"):
            from beamish.supervision import DynamicSupervisorSpec

            Supervisor(DynamicSupervisorSpec())
        with pytest.raises(Error, match="need a calling process"):
            Supervisor(SupervisorSpec()).spawn(node, link=True)


# ======================================================================================
# Backoff
# ======================================================================================


async def test_backoff_delays_grow_and_reset_after_a_long_run():
    board = Board()
    spec = SupervisorSpec(
        children=[ChildSpec("b", board.child, ("b",))],
        intensity=100,
        period=30,
        backoff=Backoff(initial_delay=1, max_delay=8, backoff_factor=2, jitter=0),
    )
    async with Node() as node:
        sup = await start_supervisor(node, spec)
        delays = []
        for n in range(5):
            await settle()
            crashed_at = trio.current_time()
            board.make_exit(node, "b", "error")
            await settle()
            assert sup.which_children()[0].state is ChildState.RESTARTING
            while board.count("b") < n + 2:
                await trio.sleep(0.25)
            delays.append(board.start_times["b"][-1] - crashed_at)
        assert delays == [1, 2, 4, 8, 8]
        # a run longer than the period resets the streak
        await trio.sleep(30)
        board.make_exit(node, "b", "error")
        t0 = trio.current_time()
        while board.count("b") < 7:
            await trio.sleep(0.001)
        assert board.start_times["b"][-1] - t0 == pytest.approx(1)


async def test_a_pending_restart_is_cancelled_by_stop():
    board = Board()
    spec = SupervisorSpec(
        children=[ChildSpec("b", board.child, ("b",))],
        backoff=Backoff(initial_delay=60, jitter=0),
    )
    async with Node() as node:
        sup = await start_supervisor(node, spec)
        await settle()
        board.make_exit(node, "b", "error")
        await settle()
        assert sup.which_children()[0].state is ChildState.RESTARTING
        await sup.terminate_child("b")
        assert sup.which_children()[0].state is ChildState.STOPPED
        await trio.sleep(120)
        assert board.count("b") == 1
        await sup.stop()


async def test_one_for_all_with_backoff_restarts_the_group_together():
    board = Board()
    spec = three(
        board,
        strategy=Strategy.ONE_FOR_ALL,
        backoff=Backoff(initial_delay=5, jitter=0),
    )
    async with Node() as node:
        await start_supervisor(node, spec)
        await settle()
        t0 = trio.current_time()
        board.make_exit(node, "b", "error")
        await trio.sleep(10)
        assert [board.count(c) for c in "abc"] == [2, 2, 2]
        assert all(board.start_times[c][-1] - t0 == pytest.approx(5) for c in "abc")
