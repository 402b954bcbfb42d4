"""The per-destination FIFO (``durable/_fifo.py``) that both the workflow context and the
worker host queue their sends on: order per key, independence across keys, failures
that do not stop a chain, non-barrier watchers and held gates."""

from __future__ import annotations

import asyncio

from beamish.durable._fifo import FifoChains


def _run(coro):
    return asyncio.run(coro)


def test_operations_to_one_key_run_in_the_order_they_were_queued():
    async def main():
        log, chains = [], FifoChains(lambda what, e: None)

        def op(name, delay):
            async def run():
                await asyncio.sleep(delay)
                log.append(name)

            return run

        for name, delay in (("a", 0.03), ("b", 0), ("c", 0.01)):
            chains.run_after("k", op(name, delay), name)
        while chains.pending():
            await asyncio.wait(chains.pending())
        return log, len(chains)

    assert _run(main()) == (["a", "b", "c"], 0)


def test_operations_to_different_keys_do_not_wait_for_each_other():
    async def main():
        log, chains = [], FifoChains(lambda what, e: None)
        gate = asyncio.Event()

        async def slow():
            await gate.wait()
            log.append("slow")

        async def quick():
            log.append("quick")
            gate.set()

        first = chains.run_after("one", slow, "slow")
        await asyncio.wait_for(chains.run_after("two", quick, "quick"), 5)
        await asyncio.wait_for(first, 5)
        return log

    assert _run(main()) == ["quick", "slow"]


def test_a_failed_operation_is_reported_and_the_chain_goes_on():
    async def main():
        log, errors = [], []
        chains = FifoChains(lambda what, e: errors.append((what, str(e))))

        async def boom():
            raise RuntimeError("gone")

        async def after():
            log.append("after")

        chains.run_after("k", boom, "signal to k")
        await asyncio.wait_for(chains.run_after("k", after, "after"), 5)
        return log, errors

    assert _run(main()) == (["after"], [("signal to k", "gone")])


def test_a_non_barrier_operation_waits_but_is_not_waited_for():
    async def main():
        log, chains = [], FifoChains(lambda what, e: None)
        start_done, watcher_may_end = asyncio.Event(), asyncio.Event()

        async def start():
            await asyncio.sleep(0.01)
            log.append("start")
            start_done.set()

        async def watch():
            log.append("watch begins")
            await watcher_may_end.wait()

        async def signal():
            log.append("signal")

        chains.run_after("k", start, "start")
        watcher = chains.run_after("k", watch, "watch", barrier=False)
        await asyncio.wait_for(chains.run_after("k", signal, "signal"), 5)
        watcher_may_end.set()
        await watcher
        return log

    assert _run(main()) == ["start", "watch begins", "signal"]


def test_a_held_gate_keeps_later_operations_back_until_opened():
    async def main():
        log, chains = [], FifoChains(lambda what, e: None)
        gate = chains.hold("child")

        async def send():
            log.append("send")

        task = chains.run_after("child", send, "send")
        await asyncio.sleep(0.01)
        log.append("opening")
        gate.set_result(None)
        await asyncio.wait_for(task, 5)
        return log

    assert _run(main()) == ["opening", "send"]


def test_a_gate_behind_a_running_operation_waits_for_it_too():
    async def main():
        log, chains = [], FifoChains(lambda what, e: None)
        first_may_end = asyncio.Event()

        async def first():
            await first_may_end.wait()
            log.append("first")

        async def later():
            log.append("later")

        chains.run_after("k", first, "first")
        gate = chains.hold("k")
        gate.set_result(None)  # opened at once, but "first" is still running
        task = chains.run_after("k", later, "later")
        await asyncio.sleep(0.01)
        assert log == []
        first_may_end.set()
        await asyncio.wait_for(task, 5)
        return log

    assert _run(main()) == ["first", "later"]
