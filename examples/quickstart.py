"""The README's Python example: a process that doubles, and a client that asks it."""

import trio

from beamish import Node


async def doubler(ctx):
    msg = await ctx.receive()
    ctx.send(msg.sender, "result", msg.data * 2)


async def main():
    async with Node() as node:

        async def client(ctx, n):
            ctx.send(ctx.spawn_linked(doubler), "double", n)
            return (await ctx.receive()).data

        print(await node.exec(client, 21))  # 42


if __name__ == "__main__":
    trio.run(main)
