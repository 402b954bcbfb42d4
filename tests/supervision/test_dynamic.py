"""The dynamic supervisor: children added at run time (``_supervisor.py``)."""

import pytest
import trio
from supervision_helpers import Board, settle

from beamish.actors import Error, ErrorKind, Node
from beamish.supervision import (
    ChildSpec,
    ChildState,
    DynamicSupervisor,
    DynamicSupervisorSpec,
    Supervisor,
    start_supervisor,
    supervisor_at,
)


async def test_children_are_started_at_run_time_and_restarted_one_for_one():
    board = Board()
    async with Node() as node:
        sup = await start_supervisor(node, DynamicSupervisorSpec(intensity=5))
        assert isinstance(sup, DynamicSupervisor)
        a = await sup.start_child(ChildSpec("w", board.child, ("a",)))
        b = await sup.start_child(ChildSpec("w", board.child, ("b",)))  # ids need not be unique
        await settle()
        assert [i.pid for i in sup.which_children()] == [a, b]
        board.make_exit(node, "a", "error")
        await settle()
        assert board.count("a") == 2 and board.count("b") == 1
        assert sup.which_children()[0].pid == board.pid("a")


@pytest.mark.parametrize(
    ("restart", "how", "kept"),
    [
        ("transient", "normal", False),
        ("transient", "error", True),
        ("temporary", "error", False),
        ("permanent", "normal", True),
    ],
)
async def test_children_that_will_not_restart_are_removed(restart, how, kept):
    board = Board()
    async with Node() as node:
        sup = await start_supervisor(node, DynamicSupervisorSpec(intensity=5))
        await sup.start_child(ChildSpec("w", board.child, ("w",), restart=restart))
        await settle()
        board.make_exit(node, "w", how)
        await settle()
        assert len(sup.which_children()) == (1 if kept else 0)


async def test_terminate_child_by_pid_removes_it():
    board = Board()
    async with Node() as node:
        sup = await start_supervisor(node, DynamicSupervisorSpec())
        pid = await sup.start_child({"id": "w", "start": board.child, "args": ["w"]})
        await settle()
        await sup.terminate_child(str(pid))
        assert sup.which_children() == []
        assert board.cancels() == ["w"]
        with pytest.raises(Error) as info:
            await sup.terminate_child(pid)
        assert info.value.kind is ErrorKind.NOT_FOUND


async def test_max_children():
    board = Board()
    async with Node() as node:
        sup = await start_supervisor(node, DynamicSupervisorSpec(max_children=2))
        for c in "ab":
            await sup.start_child(ChildSpec(c, board.child, (c,)))
        with pytest.raises(Error, match="max_children=2") as info:
            await sup.start_child(ChildSpec("c", board.child, ("c",)))
        assert info.value.kind is ErrorKind.UNAVAILABLE
        assert info.value.details["reason"] == "max_children"
        with pytest.raises(Error, match="no restart_child"):
            await sup.restart_child("a")
        with pytest.raises(Error, match="no delete_child"):
            await sup.delete_child("a")


async def test_shutdown_signals_all_children_and_waits_for_them_together():
    board = Board()
    board.stubborn.update({"a", "b"})
    async with Node() as node:
        sup = await start_supervisor(node, DynamicSupervisorSpec())
        for c, shutdown in (("a", 2.0), ("b", 5.0), ("c", 5.0)):
            await sup.start_child(ChildSpec(c, board.child, (c,), shutdown=shutdown))
        await settle()
        t0 = trio.current_time()
        await sup.stop()
        # one wait for all: the slowest timeout (5 s), not the sum (7 s)
        assert trio.current_time() - t0 == pytest.approx(5.0)
        # all were signalled at once (the order they observe it in is trio's choice)
        assert sorted(board.cancels()) == ["a", "b", "c"]
        assert node.processes() == []


async def test_dynamic_intensity_escalates():
    board = Board()
    async with Node() as node:
        sup = await start_supervisor(node, DynamicSupervisorSpec(intensity=1, period=10))
        await sup.start_child(ChildSpec("w", board.child, ("w",)))
        for _ in range(2):
            await settle()
            board.make_exit(node, "w", "error")
        err = await sup.wait()
        assert err.details["reason"] == "reached_max_restart_intensity"
        assert sup.which_children()[0].state is ChildState.STOPPED


async def test_a_dynamic_supervisor_is_no_supervisor_subclass_and_lacks_id_operations():
    # Their child APIs differ (PIDs against ids): each stands on the shared core, and
    # the id-only operations are absent, with an error that says what to do instead.
    assert not issubclass(DynamicSupervisor, Supervisor)
    assert not issubclass(Supervisor, DynamicSupervisor)
    async with Node() as node:
        sup = await start_supervisor(node, DynamicSupervisorSpec())
        assert not hasattr(sup, "restart_child") and not hasattr(sup, "delete_child")
        with pytest.raises(Error, match="no delete_child: terminated children are removed") as info:
            sup.delete_child  # noqa: B018 - the lookup itself is refused
        assert info.value.kind is ErrorKind.INVALID
        assert isinstance(info.value, AttributeError)
        with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
            sup.nothing_here  # noqa: B018
        assert supervisor_at(node, sup.pid) is sup
        await sup.stop()
