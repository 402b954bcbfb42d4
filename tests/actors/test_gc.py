"""A running node raises CPython's young-generation threshold and restores it."""

import gc

import trio

from beamish.actors import Node


async def test_a_running_node_raises_the_threshold_and_restores_it():
    before = gc.get_threshold()
    gc.set_threshold(700, before[1], before[2])
    try:
        async with Node(gc_threshold=12_345):
            assert gc.get_threshold() == (12_345, before[1], before[2])
            async with Node(gc_threshold=20_000):  # nested: raised further
                assert gc.get_threshold()[0] == 20_000
            assert gc.get_threshold()[0] == 20_000  # restored by the last one only
        assert gc.get_threshold() == (700, before[1], before[2])
    finally:
        gc.set_threshold(*before)


async def test_none_leaves_the_collector_alone_and_a_user_retune_is_kept():
    before = gc.get_threshold()
    try:
        gc.set_threshold(700, before[1], before[2])
        async with Node(gc_threshold=None):
            assert gc.get_threshold()[0] == 700
        async with Node(gc_threshold=5_000):
            gc.set_threshold(3_000, before[1], before[2])  # the user tunes it meanwhile
        assert gc.get_threshold()[0] == 3_000
    finally:
        gc.set_threshold(*before)


def test_a_node_that_fails_inside_still_restores():
    before = gc.get_threshold()
    gc.set_threshold(700, before[1], before[2])

    async def main() -> None:
        async with Node(gc_threshold=9_000):
            raise KeyError("boom")

    try:
        try:
            trio.run(main)
        except KeyError:
            pass
        assert gc.get_threshold()[0] == 700
    finally:
        gc.set_threshold(*before)
