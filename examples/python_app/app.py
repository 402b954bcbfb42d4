"""A Python-only beamish app: no YAML.

A supervised key-value store (a ``Server``, restarted if it crashes) and a durable
order workflow on the embedded Temporal server, declared with decorators and run with
one call::

    python examples/python_app/app.py
"""

from __future__ import annotations

import json
from typing import Any

from beamish import App, Call, Context, ProcessExit, Server

app = App()
app.add("shop:host", "process.host")


@app.process("shop:store")
class Store(Server[dict[str, int]]):
    """Stock levels by item; ``("take", item, n)`` fails the call when stock is short."""

    async def init(self, *args: Any) -> dict[str, int]:
        return {"apple": 5, "pear": 2}

    async def handle_call(self, request: Any, call: Call, state: dict[str, int]) -> Any:
        match request:
            case ("take", item, n) if state.get(item, 0) >= n:
                left = state[item] - n
                return left, {**state, item: left}
            case ("take", item, n):
                return ("short", state.get(item, 0)), state
            case "crash":
                raise RuntimeError("asked to crash")
        return None, state


app.add(
    "shop:supervisor",
    "process.supervisor",
    host="shop:host",
    children=[{"id": "store", "process": "shop:store", "name": "store"}],
    lifecycle={"auto_start": True},
)


@app.function("shop:price")
def price(item: str, n: int) -> float:
    return {"apple": 0.5, "pear": 0.8}[item] * n


@app.workflow("shop:order")
async def order(ctx: Context, item: str, n: int) -> dict[str, Any]:
    total = await ctx.call("shop:price", item, n)  # an activity: recorded, retried
    await ctx.sleep(0.1)  # a durable timer
    return {"item": item, "n": n, "total": total}


@app.process("shop:main", host="shop:host")
async def main(ctx: Context) -> dict[str, Any]:
    left = await ctx.ask("store", ("take", "apple", 2))
    short = await ctx.ask("store", ("take", "pear", 9))
    try:
        await ctx.ask("store", "crash")
    except ProcessExit as exc:
        crashed = exc.error.message
    for _ in range(100):  # the supervisor restarts the store with fresh stock
        try:
            restocked = await ctx.ask("store", ("take", "apple", 0))
            break
        except Exception:
            await ctx.sleep(0.02)
    receipt = await ctx.exec("shop:order", "pear", 2, host="shop:worker")
    return {
        "left": left,
        "short": short,
        "crashed": crashed,
        "restocked": restocked,
        "receipt": receipt,
    }


if __name__ == "__main__":
    print(json.dumps(app.run("shop:main")))
