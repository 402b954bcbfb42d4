"""Code for the hello example: a function and a process that calls it."""

from beamish import Context


def add(a: int, b: int) -> int:
    return a + b


async def greeter(ctx: Context, name: str = "world") -> str:
    total = await ctx.call("hello:add", 2, 3)
    return f"hello {name}, 2 + 3 = {total}"
