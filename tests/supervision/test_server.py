"""The Server behaviour (gen_server): callbacks, results, stop paths, supervision, YAML."""

import textwrap

import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from beamish import App, NoReply, Server, Stop
from beamish.actors import Error, ErrorKind, EventKind, Node, ProcessExit
from beamish.supervision import ChildSpec, SupervisorSpec, start_supervisor

#: What the Counters under test did, by the key each was started with (spawn
#: arguments are copies, so a list cannot be handed in).
LOGS: dict[str, list] = {}


def new_log() -> tuple[str, list]:
    key = f"log{len(LOGS)}"
    return key, LOGS.setdefault(key, [])


class Counter(Server):
    """Counts; records its init, infos and terminate in ``LOGS[key]``."""

    async def init(self, start=0, key=None):
        self.log = LOGS.setdefault(key, []) if key else []
        self.log.append(("init", start))
        return start

    async def handle_call(self, request, call, state):
        match request:
            case "get":
                return state, state
            case ("add", n):
                return state + n, state + n
            case "later":
                self.pending = call
                return NoReply(state)
            case "release":
                self.pending.reply(("released", state))
                return "ok", state
            case "stop":
                return Stop("stopped", reply="bye")
            case "crash":
                raise ValueError("asked to crash")
            case "bad":
                return "no state"
        return None, state

    def handle_cast(self, request, state):  # plain def works too
        if request == "stop":
            return Stop("cast-stopped")
        return 0 if request == "reset" else state

    async def handle_info(self, message, state):
        self.log.append(("info", getattr(message, "kind", None) or message.topic))
        return state

    async def terminate(self, reason, state):
        self.log.append(("terminate", reason.message if reason else None, state))


async def with_node(body, *args):
    async with Node() as node:
        return await node.exec(body, *args)


async def test_calls_and_casts_drive_the_state():
    async def client(ctx):
        srv = ctx.spawn(Counter, 10)
        out = [await ctx.ask(srv, ("add", 5)), await ctx.ask(srv, "get")]
        ctx.cast(srv, "reset")
        out.append(await ctx.ask(srv, "get"))
        return out

    assert await with_node(client) == [15, 15, 0]


async def test_noreply_lets_another_request_answer_the_first():
    async def waiter(ctx, srv):
        return await ctx.ask(srv, "later", timeout=None)

    async def client(ctx):
        srv = ctx.spawn(Counter, 3)
        ctx.spawn_monitored(waiter, srv)
        await ctx.sleep(0.01)
        assert await ctx.ask(srv, "release") == "ok"
        return (await ctx.events().receive()).value

    assert await with_node(client) == ("released", 3)


async def test_stop_answers_then_exits_normally_after_terminate():
    key, log = new_log()

    async def client(ctx):
        srv = ctx.spawn_monitored(Counter, 1, key)
        reply = await ctx.ask(srv, "stop")
        ev = await ctx.events().receive()
        return reply, ev.value, ev.error

    assert await with_node(client) == ("bye", "stopped", None)
    assert log == [("init", 1), ("terminate", None, 1)]


async def test_a_cast_can_stop_the_server():
    async def client(ctx):
        srv = ctx.spawn_monitored(Counter)
        ctx.cast(srv, "stop")
        return (await ctx.events().receive()).value

    assert await with_node(client) == "cast-stopped"


async def test_a_crash_in_a_callback_runs_terminate_and_reaches_the_caller():
    key, log = new_log()

    async def client(ctx):
        srv = ctx.spawn(Counter, 7, key)
        with pytest.raises(ProcessExit) as info:
            await ctx.ask(srv, "crash")
        return info.value.error.message

    assert await with_node(client) == "ValueError: asked to crash"
    assert log[-1] == ("terminate", "ValueError: asked to crash", 7)


async def test_a_bad_callback_result_is_an_error_naming_the_callback():
    async def client(ctx):
        with pytest.raises(ProcessExit) as info:
            await ctx.ask(ctx.spawn(Counter), "bad")
        return info.value.kind, info.value.error.message

    kind, message = await with_node(client)
    assert kind is ErrorKind.INVALID
    assert "Counter.handle_call returned 'no state'" in message


async def test_cancel_runs_terminate_and_exits_normally():
    key, log = new_log()

    async def client(ctx):
        srv = ctx.spawn_monitored(Counter, 2, key)
        await ctx.ask(srv, ("add", 1))
        ctx.cancel(srv, "enough")
        ev = await ctx.events().receive()
        return ev.error, ev.value

    assert await with_node(client) == (None, None)
    assert log == [("init", 2), ("terminate", None, 3)]


async def test_other_messages_and_events_go_to_handle_info():
    key, log = new_log()

    async def short(ctx):
        return "bye"

    async def client(ctx):
        srv = ctx.spawn(Counter, 0, key)
        ctx.send(srv, "hello", 1)
        await ctx.ask(srv, "get")  # the send is handled before the call (order kept)
        return srv

    async with Node() as node:
        srv = await node.exec(client)
        node.process(srv).spawn_monitored(short)  # an EXIT arrives on its events
        await trio.sleep(0.01)
        node.cancel(srv)
        await node.wait(srv)
    assert log[1:3] == [("info", "hello"), ("info", EventKind.EXIT)]


async def test_default_callbacks_fail_calls_and_ignore_the_rest():
    class Bare(Server):
        pass

    async def client(ctx):
        srv = ctx.spawn(Bare, "s")
        ctx.cast(srv, "ignored")
        ctx.send(srv, "ignored", 1)
        with pytest.raises(Error) as info:
            await ctx.ask(srv, "anything")
        ctx.cancel(srv)
        return info.value.kind, "does not handle calls" in info.value.message

    assert await with_node(client) == (ErrorKind.INVALID, True)


async def test_init_failure_stops_the_process_with_its_error():
    class Broken(Server):
        async def init(self):
            raise Error("no config", kind=ErrorKind.INVALID)

    async def client(ctx):
        with pytest.raises(ProcessExit) as info:
            await ctx.exec(Broken)
        return info.value.error.message

    assert await with_node(client) == "no config"


async def test_a_supervised_server_is_restarted_with_fresh_state():
    async with Node() as node:
        spec = SupervisorSpec(
            children=[ChildSpec("counter", Counter, args=(100,), name="counter")],
            intensity=3,
            period=10,
        )
        sup = await start_supervisor(node, spec)

        async def lookup_loop(ctx):
            await ctx.ask("counter", ("add", 1))
            with pytest.raises(ProcessExit):
                await ctx.ask("counter", "crash")
            while True:
                try:
                    return await ctx.ask("counter", "get")
                except Error:
                    await ctx.sleep(0.01)

        assert await node.exec(lookup_loop) == 100
        assert sup.restarts == 1
        await sup.stop()


@settings(max_examples=20, deadline=None)
@given(st.lists(st.one_of(st.integers(-50, 50), st.just("reset")), max_size=15))
def test_the_state_follows_any_sequence_of_adds_and_resets(ops):
    async def client(ctx):
        srv = ctx.spawn(Counter)
        for op in ops:
            if op == "reset":
                ctx.cast(srv, "reset")
            else:
                await ctx.ask(srv, ("add", op))
        result = await ctx.ask(srv, "get")
        ctx.cancel(srv)
        return result

    expected = 0
    for op in ops:
        expected = 0 if op == "reset" else expected + op
    assert trio.run(with_node, client) == expected


def test_a_process_py_entry_can_name_a_server_class(tmp_path):
    (tmp_path / "kv.py").write_text(
        textwrap.dedent(
            """
            from beamish import Server

            class Store(Server):
                async def init(self):
                    return {}

                async def handle_call(self, request, call, state):
                    op, key, *value = request
                    if op == "put":
                        return "ok", {**state, key: value[0]}
                    return state.get(key), state

            async def main(ctx):
                store = ctx.spawn("app:store")
                await ctx.ask(store, ["put", "a", 1])
                return await ctx.ask(store, ["get", "a"])
            """
        )
    )
    (tmp_path / "app.yaml").write_text(
        textwrap.dedent(
            """
            namespace: app
            entries:
              - { name: host, kind: process.host }
              - { name: store, kind: process.py, handler: "kv:Store" }
              - { name: main, kind: process.py, handler: "kv:main" }
            """
        )
    )

    assert App(tmp_path).run("app:main") == 1


def test_a_lua_process_calls_and_casts_to_a_python_server(tmp_path):
    (tmp_path / "counter.py").write_text(
        textwrap.dedent(
            """
            from beamish import Error, ErrorKind, NoReply, Server

            class Counter(Server):
                async def init(self):
                    return 0

                async def handle_call(self, request, call, state):
                    if request == "boom":
                        call.fail(Error("no booms here", kind=ErrorKind.INVALID))
                        return NoReply(state)
                    return {"count": state + request["add"]}, state + request["add"]

                async def handle_cast(self, request, state):
                    return state + request
            """
        )
    )
    (tmp_path / "main.lua").write_text(
        textwrap.dedent(
            """
            local function main()
              local pid = process.spawn("app:counter", "app:host")
              local r1 = process.call(pid, {add = 2})
              assert(process.cast(pid, 10))
              local r2 = process.call(pid, {add = 1}, "1s")
              local none, err = process.call(pid, "boom")
              local gone, err2 = process.call("{app:host|0x99999}", 1)
              return {r1 = r1.count, r2 = r2.count, err = tostring(err:message()),
                      kind = err:kind(), gone = err2:kind()}
            end
            return { main = main }
            """
        )
    )
    (tmp_path / "app.yaml").write_text(
        textwrap.dedent(
            """
            namespace: app
            entries:
              - { name: host, kind: process.host }
              - { name: counter, kind: process.py, handler: "counter:Counter" }
              - { name: main, kind: process.lua, source: file://main.lua, method: main }
            """
        )
    )

    assert App(tmp_path).run("app:main") == {
        "r1": 2,
        "r2": 13,
        "err": "no booms here",
        "kind": "Invalid",
        "gone": "NotFound",
    }
