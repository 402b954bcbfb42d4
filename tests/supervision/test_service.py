"""Services: Wippy's restart rules, states, the stop protocol and dependency order
(``supervision/_service.py``, ``_manager.py``), with real processes on the MockClock."""

import random

import pytest
import trio
from supervision_helpers import Board, settle

from beamish.actors import (
    TERMINATED,
    Error,
    ErrorKind,
    EventKind,
    Host,
    Node,
    ProcessNotFound,
    Timeout,
)
from beamish.supervision import (
    CONTROL_HOST,
    STOP_REASON,
    Backoff,
    ChildSpec,
    DependencyError,
    Lifecycle,
    RestartPolicy,
    ServiceSpec,
    ServiceState,
    SupervisorSpec,
    lifecycle_from_config,
    services,
)

S = ServiceState


def lc(**kw):
    """A lifecycle with jitter 0 unless given, for exact virtual-time assertions."""
    restart = kw.pop("restart", {})
    restart.setdefault("jitter", 0)
    return lifecycle_from_config({**kw, "restart": restart})


def watch(svc):
    """Record every state the service passes through."""
    seen = [svc.state]
    original = svc._force

    def force(state, details):
        original(state, details)
        seen.append(state)

    svc._force = force
    return seen


# ======================================================================================
# What happens when the process ends
# ======================================================================================


async def test_normal_return_is_exited_and_not_restarted():
    board = Board()
    async with Node() as node:
        mgr = services(node)
        svc = mgr.add(ServiceSpec("app:job", board.child, ("job",), lifecycle=lc()))
        seen = watch(svc)
        await mgr.start("app:job")
        await settle()
        board.make_exit(node, "job", "normal")
        await trio.sleep(100)
        assert board.count("job") == 1
        assert svc.state is S.EXITED and svc.details == "service exited"
        assert seen == [S.UNKNOWN, S.STARTING, S.RUNNING, S.EXITED]
        assert not svc.active


@pytest.mark.parametrize("how", ["error", "crash", "killed"])
async def test_error_exits_restart_with_growing_backoff(how):
    board = Board()
    async with Node() as node:
        mgr = services(node)
        svc = mgr.add(
            ServiceSpec(
                "app:w",
                board.child,
                ("w",),
                lifecycle=lc(restart={"initial_delay": "1s", "backoff_factor": 2}),
            )
        )
        seen = watch(svc)
        await mgr.start("app:w")
        delays = []
        for n in range(4):
            await settle()
            t = trio.current_time()
            board.make_exit(node, "w", how)
            await settle()
            assert svc.state is S.FAILED and svc.status().restarting
            while board.count("w") < n + 2:
                await trio.sleep(0.25)
            delays.append(board.start_times["w"][-1] - t)
        assert delays == [1, 2, 4, 8]  # not the upstream quirk's 1, 1, 1, 1
        assert seen[:6] == [S.UNKNOWN, S.STARTING, S.RUNNING, S.FAILED, S.STARTING, S.RUNNING]
        assert svc.status().restarts == 4 and svc.status().runs == 5
        if how == "killed":
            assert svc.last_error.message == TERMINATED  # terminated is restarted, as in Wippy


@pytest.mark.parametrize(
    ("how", "kind"), [("nonretryable", ErrorKind.INVALID), ("canceled", ErrorKind.CANCELED)]
)
async def test_terminal_errors_are_exited_without_restart(how, kind):
    board = Board()
    async with Node() as node:
        mgr = services(node)
        svc = mgr.add(ServiceSpec("app:w", board.child, ("w",), lifecycle=lc()))
        await mgr.start("app:w")
        await settle()
        board.make_exit(node, "w", how)
        await trio.sleep(100)
        assert board.count("w") == 1
        assert svc.state is S.EXITED
        assert svc.last_error.kind is kind
        assert svc.details.startswith("terminal error:")


@pytest.mark.parametrize("max_attempts", [1, 2, 3])
async def test_max_attempts_bounds_the_runs_then_failed(max_attempts):
    board = Board()
    async with Node() as node:
        mgr = services(node)
        svc = mgr.add(
            ServiceSpec(
                "app:w", board.child, ("w",), lifecycle=lc(restart={"max_attempts": max_attempts})
            )
        )
        await mgr.start("app:w")
        for _ in range(5):
            await settle()
            if node.is_alive(board.pid("w")):
                board.make_exit(node, "w", "error")  # crash at once: never a stable run
            await settle()
            while svc.state is not S.RUNNING and svc.active:
                await trio.sleep(0.25)
        assert board.count("w") == max_attempts
        assert svc.state is S.FAILED and not svc.status().restarting
        assert svc.details.startswith(f"gave up after {max_attempts} attempt(s)")
        assert not svc.active


async def test_a_stable_run_resets_the_attempt_counter():
    board = Board()
    async with Node() as node:
        mgr = services(node)
        svc = mgr.add(
            ServiceSpec(
                "app:w",
                board.child,
                ("w",),
                lifecycle=lc(stable_threshold="10s", restart={"max_attempts": 3}),
            )
        )
        await mgr.start("app:w")

        async def crash_after(seconds):
            await trio.sleep(seconds)
            await settle()
            t = trio.current_time()
            board.make_exit(node, "w", "error")
            await settle()
            n = board.count("w")
            while (board.count("w") == n and svc.state is not S.FAILED) or svc.status().restarting:
                await trio.sleep(0.25)
            return board.start_times["w"][-1] - t if board.count("w") > n else None

        assert await crash_after(1) == 1  # attempt 1 -> 2
        assert await crash_after(1) == 2  # attempt 2 -> 3
        assert await crash_after(10) == 1  # a 10 s run: counter reset, delay back to 1 s
        assert await crash_after(1) == 2
        assert await crash_after(1) is None  # attempt 3 of 3: gave up
        assert svc.state is S.FAILED and board.count("w") == 5


async def test_jitter_is_drawn_from_the_managers_rng():
    board = Board()
    async with Node() as node:
        mgr = services(node)
        mgr.rng = random.Random(42)
        mgr.add(
            ServiceSpec(
                "app:w",
                board.child,
                ("w",),
                lifecycle=lc(restart={"initial_delay": 10, "jitter": 0.5}),
            )
        )
        await mgr.start("app:w")
        await settle()
        t = trio.current_time()
        board.make_exit(node, "w", "error")
        await trio.sleep(20)
        expected = Backoff(initial_delay=10, jitter=0.5).delay(1, random.Random(42))
        assert board.start_times["w"][1] - t == pytest.approx(expected)
        assert expected != 10


async def test_spawn_errors_count_as_failed_runs():
    # An entry ID nobody registered: NOT_FOUND is non-retryable, so the start fails.
    async with Node() as node:
        mgr = services(node)
        svc = mgr.add(ServiceSpec("app:w", "app:missing", lifecycle=lc()))
        with pytest.raises(Error, match=r"^service 'app:w' failed to start: process entry") as info:
            await mgr.start("app:w")
        assert info.value.kind is ErrorKind.NOT_FOUND
        assert svc.state is S.EXITED and svc.runs == 0


class FlakyHost(Host):
    """A host whose spawns fail with a retryable error (a foreign host being down)."""

    def __init__(self, name):
        self.name = name
        self.attempts = 0

    def spawn(self, request):
        self.attempts += 1
        raise Error("host is down", kind=ErrorKind.UNAVAILABLE, retryable=True)


async def test_start_timeout_when_the_service_cannot_reach_running():
    async with Node() as node:
        host = node.add_host(FlakyHost("app:remote"))
        mgr = services(node)
        svc = mgr.add(
            ServiceSpec(
                "app:w",
                "app:x",
                host="app:remote",
                lifecycle=lc(start_timeout="5s", restart={"initial_delay": 1}),
            )
        )
        t = trio.current_time()
        with pytest.raises(Timeout, match=r"^service 'app:w' did not reach Running within 5s"):
            await mgr.start("app:w")
        assert trio.current_time() - t == pytest.approx(5)
        assert host.attempts == 3  # at 0, 1 and 3 s; the next would be at 7 s
        assert svc.active  # it keeps trying in the background
        assert await mgr.stop("app:w") is True
        assert svc.state is S.STOPPED


# ======================================================================================
# Stop protocol
# ======================================================================================


async def test_stop_sends_cancel_service_stopping_and_waits():
    board = Board()
    async with Node() as node:
        mgr = services(node)
        svc = mgr.add(ServiceSpec("app:w", board.child, ("w",), lifecycle=lc()))
        seen = watch(svc)
        await mgr.start("app:w")
        await settle()
        assert await mgr.stop("app:w") is True
        assert board.log[-1] == ("cancel", "w", STOP_REASON)
        assert seen[-2:] == [S.STOPPING, S.STOPPED]
        assert svc.forced_stops == 0 and not svc.active


async def test_a_stuck_process_is_terminated_after_stop_timeout():
    board = Board()
    board.stubborn.add("w")
    async with Node() as node:
        mgr = services(node)
        svc = mgr.add(ServiceSpec("app:w", board.child, ("w",), lifecycle=lc(stop_timeout="3s")))
        await mgr.start("app:w")
        await settle()
        pid = board.pid("w")
        t = trio.current_time()
        assert await mgr.stop("app:w") is False
        assert trio.current_time() - t == pytest.approx(3)
        assert not node.is_alive(pid)
        assert svc.state is S.STOPPED and svc.forced_stops == 1


async def test_stop_during_the_restart_delay():
    board = Board()
    async with Node() as node:
        mgr = services(node)
        svc = mgr.add(
            ServiceSpec("app:w", board.child, ("w",), lifecycle=lc(restart={"initial_delay": 60}))
        )
        await mgr.start("app:w")
        await settle()
        board.make_exit(node, "w", "error")
        await settle()
        t = trio.current_time()
        assert await mgr.stop("app:w") is True
        assert trio.current_time() == t
        await trio.sleep(120)
        assert board.count("w") == 1 and svc.state is S.STOPPED


async def test_a_stopped_or_exited_service_can_start_again():
    board = Board()
    async with Node() as node:
        mgr = services(node)
        svc = mgr.add(ServiceSpec("app:w", board.child, ("w",), lifecycle=lc()))
        await mgr.start("app:w")
        await mgr.stop("app:w")
        await mgr.start("app:w")
        await settle()
        board.make_exit(node, "w", "normal")
        await settle()
        assert svc.state is S.EXITED
        await mgr.start("app:w")
        await settle()
        assert board.count("w") == 3 and svc.state is S.RUNNING and svc.attempt == 1
        await mgr.start("app:w")  # already running: a no-op
        assert board.count("w") == 3


async def test_node_shutdown_stops_services_without_the_manager():
    board = Board()
    async with Node() as node:
        mgr = services(node)
        mgr.add(ServiceSpec("app:w", board.child, ("w",), lifecycle=lc()))
        await mgr.start("app:w")
        await settle()
    assert node.terminated_at_shutdown == 0
    assert [e[0] for e in board.log] == ["start", "cancel"]


async def test_a_terminated_controller_takes_its_process_along():
    board = Board()
    async with Node() as node:
        mgr = services(node)
        svc = mgr.add(ServiceSpec("app:w", board.child, ("w",), lifecycle=lc()))
        await mgr.start("app:w")
        await settle()
        assert svc.controller.host == CONTROL_HOST
        node.terminate(svc.controller)
        await settle()
        assert svc.state is S.STOPPED and svc.details == "controller terminated"
        assert node.processes() == []


# ======================================================================================
# States from Python and through functions (what Lua's system.supervisor reads)
# ======================================================================================


async def test_state_tables_and_the_system_supervisor_functions():
    board = Board()

    async def reader(ctx):
        return await ctx.call("system.supervisor:state", "app:w")

    async with Node() as node:
        mgr = services(node)
        mgr.add(ServiceSpec("app:w", board.child, ("w",), lifecycle=lc()))
        mgr.add(ServiceSpec("app:idle", board.child, ("idle",), lifecycle=lc()))
        await mgr.start("app:w")
        table = await node.exec(reader)
        assert set(table) == {
            "id",
            "status",
            "desired",
            "retry_count",
            "last_update",
            "started_at",
            "details",
        }
        assert (table["id"], table["status"], table["desired"]) == ("app:w", "running", "running")
        states = await node.call("system.supervisor:states")
        assert [(t["id"], t["status"]) for t in states] == [
            ("app:idle", "unknown"),
            ("app:w", "running"),
        ]
        assert mgr.state("app:idle") is S.UNKNOWN
        with pytest.raises(Error, match="unknown service 'app:nope'"):
            await node.call("system.supervisor:state", "app:nope")


# ======================================================================================
# Dependency order
# ======================================================================================


def diamond(board, node):
    #      web   jobs
    #     /   \  /
    #   cache   db
    mgr = services(node)
    for sid, reqs, auto in [
        ("app:db", [], False),
        ("app:cache", [], False),
        ("app:web", ["app:db", "app:cache"], True),
        ("app:jobs", ["app:db"], True),
        ("app:lonely", [], False),
    ]:
        name = sid.split(":")[1]
        mgr.add(
            ServiceSpec(sid, board.child, (name,), lifecycle=lc(auto_start=auto, requires=reqs))
        )
    return mgr


async def test_start_all_starts_dependencies_first_and_only_what_is_needed():
    board = Board()
    async with Node() as node:
        mgr = diamond(board, node)
        order = []
        for svc in mgr:
            original = svc._force

            def force(state, details, svc=svc, original=original):
                original(state, details)
                if state is S.RUNNING:
                    order.append(svc.id.split(":")[1])

            svc._force = force
        await mgr.start_all()
        assert set(order) == {"db", "cache", "web", "jobs"}  # lonely is not auto_start
        assert order.index("db") < order.index("web") and order.index("cache") < order.index("web")
        assert order.index("db") < order.index("jobs")
        assert mgr.state("app:lonely") is S.UNKNOWN


async def test_stop_all_stops_dependents_first():
    board = Board()
    async with Node() as node:
        mgr = diamond(board, node)
        await mgr.start_all()
        await settle()
        assert await mgr.stop_all() is True
        stops = board.cancels()
        assert sorted(stops) == ["cache", "db", "jobs", "web"]
        assert stops.index("web") < stops.index("db") and stops.index("web") < stops.index("cache")
        assert stops.index("jobs") < stops.index("db")


async def test_stopping_one_service_stops_its_dependents_first():
    board = Board()
    async with Node() as node:
        mgr = diamond(board, node)
        await mgr.start_all()
        await settle()
        await mgr.stop("app:db")
        assert board.cancels()[-1] == "db"
        assert sorted(board.cancels()) == ["db", "jobs", "web"]
        assert mgr.state("app:cache") is S.RUNNING


async def test_starting_one_service_starts_what_it_requires():
    board = Board()
    async with Node() as node:
        mgr = diamond(board, node)
        await mgr.start("app:jobs")
        assert mgr.state("app:db") is S.RUNNING and mgr.state("app:jobs") is S.RUNNING
        assert mgr.state("app:web") is S.UNKNOWN


async def test_a_cycle_or_unknown_requirement_fails_before_anything_starts():
    board = Board()
    async with Node() as node:
        mgr = services(node)
        mgr.add(ServiceSpec("app:a", board.child, ("a",), lifecycle=lc(requires=["app:b"])))
        mgr.add(ServiceSpec("app:b", board.child, ("b",), lifecycle=lc(requires=["app:a"])))
        with pytest.raises(DependencyError, match=r"^dependency cycle: app:a -> app:b -> app:a"):
            await mgr.start("app:a")
        mgr.add(ServiceSpec("app:c", board.child, ("c",), lifecycle=lc(requires=["app:zz"])))
        with pytest.raises(DependencyError, match="'app:c' requires 'app:zz'"):
            await mgr.start_all()
        assert board.log == []


async def test_a_failed_dependency_blocks_its_dependents():
    board = Board()
    async with Node() as node:
        mgr = services(node)
        mgr.add(ServiceSpec("app:db", "app:missing", lifecycle=lc()))
        mgr.add(
            ServiceSpec(
                "app:web", board.child, ("web",), lifecycle=lc(auto_start=True, requires=["app:db"])
            )
        )
        with pytest.raises(Error, match="service 'app:db' failed to start"):
            await mgr.start_all()
        with pytest.raises(Error, match="service 'app:db' failed to start"):
            await mgr.start("app:web")  # the root cause is reported
        assert board.log == []


async def test_an_optional_service_only_blocks_its_own_subtree():
    board = Board()
    async with Node() as node:
        mgr = services(node)
        mgr.add(ServiceSpec("app:opt", "app:missing", lifecycle=lc(startup="optional")))
        mgr.add(
            ServiceSpec(
                "app:sub",
                board.child,
                ("sub",),
                lifecycle=lc(auto_start=True, requires=["app:opt"]),
            )
        )
        mgr.add(ServiceSpec("app:other", board.child, ("other",), lifecycle=lc(auto_start=True)))
        await mgr.start_all()  # does not raise
        assert mgr.state("app:other") is S.RUNNING
        assert mgr.state("app:sub") is S.UNKNOWN


# ======================================================================================
# Services wrap supervisors: escalation ends at the service
# ======================================================================================


async def test_a_service_restarts_a_supervisor_that_gave_up():
    board = Board()
    async with Node() as node:
        spec = SupervisorSpec(children=[ChildSpec("w", board.child, ("w",))], intensity=0)

        async def sup_body(ctx):
            from beamish.supervision import Supervisor

            await Supervisor(spec).run(ctx)

        node.register_process("app:sup", sup_body)
        mgr = services(node)
        svc = mgr.add(ServiceSpec("app:svc", "app:sup", lifecycle=lc(restart={"initial_delay": 2})))
        await mgr.start("app:svc")
        await settle()
        board.make_exit(node, "w", "error")
        await settle()
        assert svc.state is S.FAILED
        assert svc.last_error.details["reason"] == "reached_max_restart_intensity"
        await trio.sleep(2)
        await settle()
        assert svc.state is S.RUNNING and board.count("w") == 2
        assert await mgr.stop_all() is True
        assert node.processes() == []


# ======================================================================================
# Specs
# ======================================================================================


def test_service_spec_rules():
    with pytest.raises(Error, match="reserved for service controllers"):
        ServiceSpec("app:w", "app:x", host="node:control")
    with pytest.raises(Error, match="'input' must be a list"):
        ServiceSpec("app:w", "app:x", input="abc")
    with pytest.raises(Error, match="'process' must be a process entry ID"):
        ServiceSpec("app:w", 42)
    assert ServiceSpec("app:w", "app:x", input=[1, 2]).input == (1, 2)


async def test_duplicate_services_and_unknown_ids():
    async with Node() as node:
        mgr = services(node)
        mgr.add(ServiceSpec("app:w", "app:x"))
        with pytest.raises(Error) as info:
            mgr.add(ServiceSpec("app:w", "app:x"))
        assert info.value.kind is ErrorKind.ALREADY_EXISTS
        with pytest.raises(Error, match="unknown service 'app:q'; known services: app:w"):
            mgr.get("app:q")
        assert services(node) is mgr
        assert "services=1" in repr(mgr)


def test_lifecycle_defaults_are_wippys():
    lc0 = Lifecycle()
    assert (lc0.auto_start, lc0.start_timeout, lc0.stop_timeout, lc0.stable_threshold) == (
        False,
        10.0,
        10.0,
        5.0,
    )
    assert lc0.restart == RestartPolicy(Backoff(1.0, 90.0, 2.0, 0.1), 0)
    assert lifecycle_from_config(None) == lc0
    assert lifecycle_from_config({}) == lc0


def test_lifecycle_from_yaml_shapes():
    got = lifecycle_from_config(
        {
            "auto_start": True,
            "start_timeout": "1m30s",
            "stop_timeout": 2,
            "stable_threshold": "500ms",
            "requires": ["a"],
            "depends_on": ["b", "a"],
            "restart": {
                "initial_delay": "2s",
                "max_delay": "1m",
                "backoff_factor": 3,
                "jitter": 0,
                "max_attempts": 4,
            },
            "startup": "optional",
            "security": {"actor": {"id": "x"}},
        }
    )
    assert got.start_timeout == 90 and got.stop_timeout == 2 and got.stable_threshold == 0.5
    assert got.requires == ("a", "b")
    assert got.restart == RestartPolicy(Backoff(2, 60, 3, 0), 4)
    assert got.optional


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"auto_start": "yes"}, r"'lifecycle.auto_start' must be true or false"),
        ({"stop_timeout": "10"}, None),
        ({"stop_timeout": "ten"}, r"'lifecycle.stop_timeout' must be a duration"),
        ({"requires": "db"}, r"'lifecycle.requires' must be a list"),
        ({"restart": {"max_attemps": 3}}, r"unknown key 'lifecycle.restart.max_attemps'"),
        ({"restart": {"max_attempts": -1}}, r"'lifecycle.restart.max_attempts' must be"),
        ({"restart": {"jitter": 2}}, r"'lifecycle.restart.jitter': backoff 'jitter' must be"),
        ({"restart": {"initial_delay": "-1s"}}, r"'lifecycle.restart.initial_delay' must be"),
        ({"startup": "maybe"}, r"'lifecycle.startup' must be 'required' or 'optional'"),
        ({"autostart": True}, r"unknown key 'lifecycle.autostart'"),
        ("x", r"'lifecycle' must be a mapping"),
    ],
)
def test_lifecycle_errors_name_the_field(config, message):
    if message is None:
        assert lifecycle_from_config(config).stop_timeout == 10
        return
    with pytest.raises(Error, match="^" + message) as info:
        lifecycle_from_config(config)
    assert info.value.kind is ErrorKind.INVALID


async def test_cancel_event_sender_is_the_controller():
    seen = []

    async def body(ctx):
        ev = await ctx.events().receive()
        seen.append((ev.kind, ev.sender, ev.reason))

    async with Node() as node:
        mgr = services(node)
        svc = mgr.add(ServiceSpec("app:w", body, lifecycle=lc()))
        await mgr.start("app:w")
        controller = svc.controller
        await mgr.stop("app:w")
        assert seen == [(EventKind.CANCEL, controller, STOP_REASON)]
        with pytest.raises(ProcessNotFound):
            node.process(controller)


async def test_independent_branches_stop_in_parallel_and_chains_in_sequence():
    # Four stubborn services, each needing its full 3 s stop_timeout. Two independent
    # ones stop together (3 s); a chain a <- b stops b first, then a (6 s).
    board = Board()
    board.stubborn.update({"x", "y", "a", "b"})
    async with Node() as node:
        mgr = services(node)
        for sid, reqs in (("x", []), ("y", []), ("a", []), ("b", ["app:a"])):
            mgr.add(
                ServiceSpec(
                    f"app:{sid}",
                    board.child,
                    (sid,),
                    lifecycle=lc(stop_timeout=3, requires=reqs),
                )
            )
        for sid in ("x", "y", "b"):
            await mgr.start(f"app:{sid}")
        await settle()
        t = trio.current_time()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(mgr.stop, "app:x")
            nursery.start_soon(mgr.stop, "app:y")
        assert trio.current_time() - t == pytest.approx(3)
        t = trio.current_time()
        assert await mgr.stop("app:a") is False  # forced
        assert trio.current_time() - t == pytest.approx(6)
        assert board.cancels()[-2:] == ["b", "a"]


async def test_a_finished_job_satisfies_its_dependents_without_running_again():
    board = Board()
    async with Node() as node:
        mgr = services(node)
        mgr.add(ServiceSpec("app:migrate", board.child, ("migrate",), lifecycle=lc()))
        mgr.add(
            ServiceSpec("app:web", board.child, ("web",), lifecycle=lc(requires=["app:migrate"]))
        )
        await mgr.start("app:web")
        await settle()
        board.make_exit(node, "migrate", "normal")
        await settle()
        assert mgr.state("app:migrate") is S.EXITED
        await mgr.stop("app:web")
        await mgr.start("app:web")
        assert board.count("migrate") == 1 and board.count("web") == 2
        await mgr.start("app:migrate")  # asked for by name: it runs again
        assert board.count("migrate") == 2
