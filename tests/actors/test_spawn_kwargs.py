"""Body keyword arguments go in ``kwargs=`` and never collide with spawn options; they
are checked against the body's signature at spawn and copied like ``args``."""

import pytest

from beamish import Server
from beamish.actors import Error, ErrorKind, Node


async def body(ctx, a, *, host, name="anon"):
    # ``host`` and ``name`` are the body's own parameters, not spawn options
    return [a, host, name, ctx.pid.host]


async def test_keyword_arguments_named_like_spawn_options_reach_the_body():
    async with Node() as node:
        node.add_host("workers")
        got = await node.exec(body, 1, host="workers", kwargs={"host": "db", "name": "x"})
    assert got == [1, "db", "x", "workers"]


async def test_kwargs_are_copied_at_spawn():
    async def keeps(ctx, *, items):
        await ctx.receive()
        return items

    async with Node() as node:
        items = [1]
        pid = node.spawn(keeps, kwargs={"items": items})
        items.append(2)
        node.send(pid, "go")
        assert await node.wait(pid) == ([1], None)


async def test_kwargs_that_do_not_fit_the_body_are_refused_at_spawn():
    async with Node() as node:
        with pytest.raises(Error, match="keyword arguments 'colour'") as info:
            node.spawn(body, 1, kwargs={"colour": "red"})
        assert info.value.kind is ErrorKind.INVALID


async def test_entry_bodies_take_kwargs_too():
    async with Node() as node:
        node.register_process("app:body", body)
        got = await node.exec("app:body", 2, kwargs={"host": "h"})
    assert got[:3] == [2, "h", "anon"]


class Counter(Server):
    async def init(self, start=0, *, step=1):
        return (start, step)

    async def handle_call(self, request, call, state):
        value, step = state
        return value + step, (value + step, step)


async def test_server_init_takes_kwargs():
    async def client(ctx):
        srv = ctx.spawn(Counter, 10, kwargs={"step": 5})
        return [await ctx.ask(srv, "incr"), await ctx.ask(srv, "incr")]

    async with Node() as node:
        assert await node.exec(client) == [15, 20]


async def test_kwargs_are_refused_for_hosts_outside_the_node():
    from beamish.actors import Host

    class Elsewhere(Host):
        kind = "temporal.worker"

        def __init__(self) -> None:
            self.name = "app:worker"
            self.requests = []

        def spawn(self, request):
            self.requests.append(request)
            raise AssertionError("must not be asked to spawn")

    async with Node() as node:
        host = Elsewhere()
        node.add_host(host)
        with pytest.raises(Error, match=r"on app:worker \(temporal.worker\) with keyword"):
            node.spawn(body, 1, host="app:worker", kwargs={"host": "x"})
        assert host.requests == []
