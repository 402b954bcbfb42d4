"""Python side of the Lua acceptance suite: functions and processes Lua talks to."""

from __future__ import annotations

from typing import Any

from beamish import Error, ErrorKind, current_context


def double(x: Any) -> Any:
    return x * 2


def fail(message: str) -> None:
    raise Error(message, kind=ErrorKind.CONFLICT, retryable=True, details={"from": "python"})


async def call_lua(a: int, b: int) -> Any:
    """A Python function calling a Lua function (in the caller's context)."""
    return await current_context().call("app.helpers:add_fn", a, b)


async def echo(ctx: Any) -> str:
    """Echo every message back to its sender (topic and payload), until 'stop'."""
    while True:
        msg = await ctx.receive()
        if msg.topic == "stop":
            return "stopped"
        ctx.send(msg.sender, msg.topic, *msg.payload)


async def call_lua_from_process(ctx: Any, a: int, b: int) -> Any:
    return await ctx.call("app.helpers:add_fn", a, b)
