import pytest
from hypothesis import given
from hypothesis import strategies as st

from beamish.actors import Error, ErrorKind, Pid, isolate

json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(json_like)
def test_isolated_value_is_equal_and_shares_no_mutable_part(value):
    copy = isolate(value)
    assert copy == value

    def mutable_ids(v, acc):
        if isinstance(v, (list, dict)):
            acc.add(id(v))
            for x in v.values() if isinstance(v, dict) else v:
                mutable_ids(x, acc)
        return acc

    assert not (mutable_ids(copy, set()) & mutable_ids(value, set()))


def test_immutables_pass_through_untouched():
    pid = Pid("h", "1")
    t = (1, "a", pid)
    for v in (1, 2.5, "s", b"b", None, True, pid, t):
        assert isolate(v) is v


def test_tuples_with_mutable_items_are_rebuilt():
    inner = [1]
    out = isolate((1, inner))
    assert out == (1, [1]) and out[1] is not inner


def test_cycles_are_rejected_with_a_clear_error():
    a: list = []
    a.append(a)
    with pytest.raises(Error, match="cycle") as info:
        isolate(a)
    assert info.value.kind is ErrorKind.INVALID


def test_uncopyable_objects_are_a_clear_error():
    import threading

    with pytest.raises(Error, match="cannot copy message payload of type lock"):
        isolate(threading.Lock())


async def test_an_uncopyable_payload_fails_the_send_naming_the_pid_and_type():
    import threading

    from beamish.actors import Node

    async def idle(ctx):
        await ctx.receive()

    async def sender(ctx, dest):
        with pytest.raises(Error, match=f"cannot send to process .*{dest.id}.*type lock") as info:
            ctx.send(dest, "t", {"lock": threading.Lock()})
        assert info.value.__cause__ is None and info.value.__suppress_context__
        assert info.value.details == {"boundary": "process", "pid": str(dest)}
        ctx.send(dest, "t", "after")  # nothing was queued; the receiver still works
        return "ok"

    async with Node() as node:
        dest = node.spawn(idle)
        assert await node.exec(sender, dest) == "ok"
        assert await node.wait(dest) == (None, None)
