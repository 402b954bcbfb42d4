"""The conformance harness: one node, both backends of the Context, shared per module.

Why
    The same body must behave the same under the kernel (``Process``, trio) and inside
    a Temporal workflow (``WorkflowContext``), except where the contract documents a
    difference. The suite runs each body on one :class:`Runtime`: a kernel node whose
    default host runs kernel processes and whose ``temporal.worker`` host (``WORKER``)
    runs workflows. A body under test is the same registry entry on both hosts, so
    ``exec(entry_id, host=...)`` is the only thing that changes between backends, and a
    body's peers (kernel processes), functions and child entries are shared.

Design chosen
    * **One runtime per module.** Starting a worker costs a fraction of a second, and
      the suite runs well over a hundred cases; so each test module gets one node and
      one worker (its own task queue) on the session's dev server
      (``temporal_server``, from ``tests/conftest.py``). The node lives in
      a trio loop on a thread of its own for the whole module; the tests are plain
      functions that submit coroutines to it (:meth:`Runtime.run`), each under a
      deadline, so a hung case fails instead of blocking the module.
    * **Entries by convention.** A module declares ``PYTHON_BODIES`` (name -> ``async def
      body(ctx, *args)``), ``LUA_SCRIPTS`` (name -> Lua source) and ``FUNCTIONS``
      (function ID -> callable). Python bodies are registered as ``python:<name>``, Lua
      scripts as ``lua:<name>``: on the kernel as a ``process.lua`` entry, on the worker
      as a ``workflow.lua`` entry built from the very same source.
    * **Isolation by cleanup**: every peer and every body a test spawns is terminated
      after the test if it is still alive, so a failed case leaves nothing running.
    * Without a Temporal binary the ``workflow`` cases skip and the ``kernel`` ones run;
      a module whose selected cases are all ``kernel`` (``-m "not temporal"``) starts no
      server.

Alternative rejected
    ``durable_harness.harness`` (tests/durable) starts workflows through the Temporal
    client, beside a node but not on one of its hosts, so a body could not be run by the
    same ``node.exec`` on both backends; its ``CLIENT``/``WORKER`` names are reused.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import trio

from beamish.actors import Error, EventKind, Node, Pid
from beamish.durable import ClientConfig, DevServer, TemporalClient, lua_workflow_body
from beamish.luabridge import LuaEntrySpec, LuaScripts

_DURABLE = Path(__file__).parent.parent / "durable"
if str(_DURABLE) not in sys.path:  # durable_harness, as tests/durable imports it
    sys.path.insert(0, str(_DURABLE))

from durable_harness import CLIENT, WORKER  # noqa: E402

#: Modules the conformance scripts require, on both backends.
LUA_MODULES = ("funcs", "time", "uuid", "ctx")
#: Seconds one :meth:`Runtime.run` may take before it fails the test.
RUN_TIMEOUT = 60.0
#: How long a module's runtime may take to start or stop.
START_TIMEOUT = 120.0


class _Exit:
    """How a body started by :meth:`Runtime.spawn` exited (set once, on the node's loop)."""

    def __init__(self) -> None:
        self.event = trio.Event()
        self.value: Any = None
        self.error: Error | None = None

    def set(self, value: Any, error: Error | None) -> None:
        self.value, self.error = value, error
        self.event.set()


class Runtime:
    """A node (and, given a server, a worker host) running on a trio thread of its own.

    Every public method is called from the test's thread and blocks until the
    operation has happened on the node's loop; errors raised there are raised here.
    """

    def __init__(
        self,
        server: DevServer | None,
        *,
        python: Mapping[str, Callable[..., Any]],
        lua: Mapping[str, str],
        functions: Mapping[str, Callable[..., Any]],
    ) -> None:
        self.server = server
        self.task_queue = f"conformance-{uuid.uuid4().hex[:12]}"
        self._python = dict(python)
        self._lua = dict(lua)
        self._functions = dict(functions)
        self.node: Node | None = None
        self.client: TemporalClient | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        self._stop: trio.Event | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._thread_main, name="conformance-node")
        self._spawned: list[Pid] = []
        self._exits: dict[Pid, _Exit] = {}

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT):
            raise RuntimeError(f"the conformance node did not start in {START_TIMEOUT:g}s")
        if self._failure is not None:
            raise self._failure

    def stop(self) -> None:
        if self._token is not None and self._stop is not None:
            with contextlib.suppress(trio.RunFinishedError):
                trio.from_thread.run_sync(self._stop.set, trio_token=self._token)
        self._thread.join(START_TIMEOUT)

    def _thread_main(self) -> None:
        try:
            trio.run(self._main)
        except BaseException as e:  # reported to start(), or lost at teardown
            self._failure = e
        finally:
            self._ready.set()

    async def _main(self) -> None:
        async with Node(shutdown_timeout=1.0) as node:
            self.node = node
            for fid, fn in self._functions.items():
                node.functions.register(fid, fn)
            scripts = LuaScripts(node=node)
            for name, body in self._python.items():
                node.register_process(f"python:{name}", body)
            for name, source in self._lua.items():
                eid = f"lua:{name}"
                scripts.add(
                    LuaEntrySpec(
                        id=eid,
                        kind="process.lua",
                        source=source,
                        chunkname=f"{name}.lua",
                        method="main",
                        modules=LUA_MODULES,
                    )
                )
                node.register_process(eid, scripts.process_body(eid))
            try:
                if self.server is not None:
                    await self._start_worker(node)
                self._token = trio.lowlevel.current_trio_token()
                self._stop = trio.Event()
                self._ready.set()
                await self._stop.wait()
            finally:
                if self.client is not None:
                    await self.client.aclose()

    async def _start_worker(self, node: Node) -> None:
        assert self.server is not None
        self.client = TemporalClient(CLIENT, ClientConfig(address=self.server.address))
        await self.client.start(node)
        host = self.client.add_worker(WORKER, self.task_queue)
        for name, body in self._python.items():
            host.register_workflow(f"python:{name}", body)
        for name, source in self._lua.items():
            eid = f"lua:{name}"
            wf = lua_workflow_body(eid, source, modules=LUA_MODULES, chunkname=f"{name}.lua")
            host.register_workflow(eid, wf, kind="workflow.lua")
        await host.start_worker()

    # -- running things on the node -------------------------------------------------------

    def run(
        self, afn: Callable[..., Awaitable[Any]], *args: Any, timeout: float = RUN_TIMEOUT
    ) -> Any:
        """``await afn(node, *args)`` on the node's loop; its result or its exception."""
        assert self._token is not None and self.node is not None
        node = self.node

        async def guarded() -> Any:
            with trio.fail_after(timeout):
                return await afn(node, *args)

        return trio.from_thread.run(guarded, trio_token=self._token)

    def host(self, backend: str) -> str | None:
        """The host a body runs on for ``backend`` (None: the node's default host)."""
        if backend == "kernel":
            return None
        if self.client is None:
            pytest.skip("no Temporal dev server: the workflow backend cannot run")
        return WORKER

    def exec(
        self, backend: str, entry_id: str, *args: Any, context: Mapping[str, Any] | None = None
    ) -> Any:
        """Run ``entry_id`` on ``backend`` to completion: its result, or ProcessExit."""
        host = self.host(backend)

        async def go(node: Node) -> Any:
            return await node.exec(entry_id, *args, host=host, context=context)

        return self.run(go)

    def spawn(
        self, backend: str, entry_id: str, *args: Any, context: Mapping[str, Any] | None = None
    ) -> Pid:
        """Start ``entry_id`` on ``backend``; :meth:`wait` gives its exit. Stopped after
        the test if still running."""
        return self._start(entry_id, args, self.host(backend), context)

    def peer(self, body: Callable[..., Any], *args: Any) -> Pid:
        """Start a kernel process (a body's partner); :meth:`wait` gives its exit.
        Stopped after the test if still running."""
        return self._start(body, args, None, None)

    def _start(
        self,
        target: Any,
        args: tuple[Any, ...],
        host: str | None,
        context: Mapping[str, Any] | None,
    ) -> Pid:
        """Spawn ``target`` from a kernel process (the *watcher*) that monitors it: the
        monitor is attached before the target can run, so even an exit that comes at
        once is seen (``Node.wait`` after the fact would find no process). The
        target's ``parent`` is that watcher."""
        exits = self._exits

        async def go(node: Node) -> Pid:
            started: list[Pid | Exception] = []
            ready = trio.Event()

            async def watcher(ctx: Any) -> None:
                try:
                    pid = ctx.spawn(target, *args, host=host, context=context, monitor=True)
                except Exception as e:  # raised to the test, not left to hang it
                    started.append(e)
                    ready.set()
                    return
                done = exits[pid] = _Exit()
                started.append(pid)
                ready.set()
                while True:
                    ev = await ctx.events().receive()
                    if ev.kind is EventKind.EXIT and ev.sender == pid:
                        done.set(ev.value, ev.error)
                        return

            self._spawned.append(node.spawn(watcher))
            await ready.wait()
            if isinstance(started[0], Exception):
                raise started[0]
            return started[0]

        pid = self.run(go)
        self._spawned.append(pid)
        return pid

    def send(self, dest: Pid, topic: str, *payload: Any, sender: Pid | None = None) -> None:
        async def go(node: Node) -> None:
            node.send(dest, topic, *payload, sender=sender)

        self.run(go)

    def cancel(self, dest: Pid, reason: str = "", *, sender: Pid | None = None) -> None:
        async def go(node: Node) -> None:
            node.cancel(dest, reason, sender=sender)

        self.run(go)

    def wait(self, pid: Pid, timeout: float = 30.0) -> tuple[Any, Error | None]:
        """``(value, error)`` of the exit of ``pid``, a body started with :meth:`spawn`
        (or any live process)."""
        done = self._exits.get(pid)

        async def go(node: Node) -> tuple[Any, Error | None]:
            if done is None:
                return await node.wait(pid, timeout=timeout)
            with trio.fail_after(timeout):
                await done.event.wait()
            return done.value, done.error

        return self.run(go)

    def history(self, workflow_id: str) -> Any:
        """The Temporal history of ``workflow_id`` (raises if there is none)."""
        assert self.client is not None and self.client.client is not None
        bridge, client = self.client.bridge, self.client.client
        assert bridge is not None

        async def go(node: Node) -> Any:
            handle = client.get_workflow_handle(workflow_id)
            return await bridge.run(handle.fetch_history)

        return self.run(go)

    def cleanup(self) -> None:
        """Terminate what the last test spawned and left running."""
        spawned, self._spawned = self._spawned, []
        exited = {pid for pid, done in self._exits.items() if done.event.is_set()}
        self._exits.clear()

        async def go(node: Node) -> None:
            for pid in spawned:
                # a workflow host cannot tell an unwatched finished workflow from a live one
                if pid not in exited and node.is_alive(pid):
                    with contextlib.suppress(Error):
                        node.terminate(pid)

        self.run(go)


def _wants_workflows(session: pytest.Session, module: Any) -> bool:
    """Whether a selected test of ``module`` runs on the workflow backend (so that
    ``-m "not temporal"`` starts no server)."""
    for item in session.items:
        callspec = getattr(item, "callspec", None)
        if getattr(item, "module", None) is module and callspec is not None:
            if callspec.params.get("backend") == "workflow":
                return True
    return False


@pytest.fixture(scope="module")
def rt(request: pytest.FixtureRequest) -> Iterator[Runtime]:
    """The module's runtime, built from its ``PYTHON_BODIES``/``LUA_SCRIPTS``/``FUNCTIONS``."""
    module = request.module
    server: DevServer | None = None
    if _wants_workflows(request.session, module):
        try:
            server = request.getfixturevalue("temporal_server")
        except pytest.skip.Exception:
            server = None
    runtime = Runtime(
        server,
        python=getattr(module, "PYTHON_BODIES", {}),
        lua=getattr(module, "LUA_SCRIPTS", {}),
        functions=getattr(module, "FUNCTIONS", {}),
    )
    runtime.start()
    try:
        yield runtime
    finally:
        runtime.stop()


@pytest.fixture(autouse=True)
def _stop_leftovers(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "rt" in request.fixturenames:
        request.getfixturevalue("rt").cleanup()


@pytest.fixture(
    params=[
        pytest.param("kernel"),
        pytest.param("workflow", marks=pytest.mark.temporal),
    ]
)
def backend(request: pytest.FixtureRequest) -> str:
    """Which Context backend runs the body: ``kernel`` (Process) or ``workflow``."""
    return str(request.param)


@pytest.fixture(params=["python", "lua"])
def lang(request: pytest.FixtureRequest) -> str:
    """Which body runs: the Python one (``python:<name>``) or the Lua one (``lua:<name>``)."""
    return str(request.param)
