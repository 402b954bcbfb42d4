import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from beamish.actors import MAX_DEPTH, Error, ErrorKind, Pid, ProcessNotFound
from beamish.actors._wire import ERROR_EXT, PID_EXT, pack, packer, unpack, unpacker

part = st.text(st.characters(blacklist_characters="{}|@", blacklist_categories=("Cs",)))
pids = st.builds(Pid, part, part.filter(bool), st.one_of(st.just(""), part))

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text()
    | st.binary()
    | pids
)
plain = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)
errors = st.builds(
    lambda kind, message, retryable, details: Error(
        message, kind=kind, retryable=retryable, details=details
    ),
    st.sampled_from(ErrorKind),
    st.text(),
    st.none() | st.booleans(),
    plain,
)
values = st.recursive(
    scalars | errors,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def same(a, b):
    """Equality that also compares an Error's details (Error.__eq__ does not)."""
    if isinstance(a, Error):
        return (
            type(b) is Error
            and (a.kind, a.message, a.retryable) == (b.kind, b.message, b.retryable)
            and same(a.details, b.details)
        )
    if isinstance(a, list):
        return type(b) is list and len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, dict):
        return type(b) is dict and a.keys() == b.keys() and all(same(v, b[k]) for k, v in a.items())
    return type(a) is type(b) and a == b


@given(values)
def test_round_trip(value):
    assert same(unpack(pack(value)), value)


@given(st.lists(values, max_size=6), st.integers(min_value=1, max_value=7))
def test_stream_of_frames_comes_back_in_order(items, chunk):
    stream = b"".join(pack(v) for v in items)
    u = unpacker()
    out = []
    for i in range(0, len(stream), chunk):  # cut anywhere, even inside a frame
        u.feed(stream[i : i + chunk])
        out.extend(u)
    assert len(out) == len(items) and all(map(same, out, items))


def test_packer_is_reusable_and_matches_pack():
    p = packer()
    pid = Pid("h", "0x1", "n")
    assert p.pack((pid, "ping")) == pack((pid, "ping"))
    assert p.pack(1) == pack(1)


def test_tuples_arrive_as_lists_and_binary_as_bytes():
    assert unpack(pack(("ping", (1, 2), {"a": (3,)}))) == ["ping", [1, 2], {"a": [3]}]
    assert unpack(pack([bytearray(b"ab"), memoryview(b"cd")])) == [b"ab", b"cd"]


def test_non_string_keys_and_pid_keys():
    pid = Pid("h", "1")
    assert unpack(pack({1: "a", b"k": 2, pid: 3, None: 4})) == {1: "a", b"k": 2, pid: 3, None: 4}


def test_ext_forms():
    pid = Pid("h", "0x1", "n")
    assert msgpack.unpackb(pack(pid)) == msgpack.ExtType(PID_EXT, b"{n@h|0x1}")
    ext = msgpack.unpackb(pack(Error("boom", kind=ErrorKind.TIMEOUT, details={"a": 1})))
    assert ext.code == ERROR_EXT
    assert msgpack.unpackb(ext.data) == ["Timeout", "boom", None, {"a": 1}]


def test_error_subclass_arrives_as_plain_error():
    out = unpack(pack(ProcessNotFound("no such process {h|1}", details={"pid": Pid("h", "1")})))
    assert type(out) is Error and out.kind is ErrorKind.NOT_FOUND and out.retryable is False
    assert out.details == {"pid": Pid("h", "1")}


def test_decoded_pids_are_shared():
    data = pack(Pid("h", "0x2"))
    assert unpack(data) is unpack(data)


def refusal(value, dest=None):
    with pytest.raises(Error) as info:
        pack(value, dest)
    err = info.value
    assert err.kind is ErrorKind.INVALID and err.retryable is False
    return err


def test_set_inside_a_dict_names_path_type_and_dest():
    err = refusal(("ping", {"k": {1, 2}}), Pid("h", "0x3"))
    assert err.message.startswith("cannot send a set to {h|0x3}: payload[1]['k'] is a set;")
    assert "send plain data" in err.message
    assert err.details == {
        "boundary": "wire",
        "path": "payload[1]['k']",
        "type": "set",
        "dest": "{h|0x3}",
    }


def test_object_without_dest():
    err = refusal([object()])
    assert err.message.startswith("cannot encode an object for the wire: payload[0] is an object")


def test_int_out_of_range():
    err = refusal({"n": [1, 2**70]}, "node-2")
    assert "payload['n'][1]" in err.message and "64-bit" in err.message
    assert "to node-2" in err.message


def test_bad_value_inside_error_details():
    err = refusal([Error("x", details={"f": print})])
    assert "payload[0].details['f'] is a builtin_function_or_method" in err.message


def nested(levels):
    v = []
    for _ in range(levels):
        v = [v]
    return v


def test_depth_bound_is_isolates():
    assert unpack(pack(nested(MAX_DEPTH - 1))) == nested(MAX_DEPTH - 1)
    err = refusal(nested(MAX_DEPTH))
    assert f"deeper than {MAX_DEPTH}" in err.message
    refusal(nested(5000))  # beyond msgpack's own recursion limit too


def test_depth_counts_dicts_and_error_details():
    deep = {}
    for _ in range(MAX_DEPTH):
        deep = {"a": deep}
    err = refusal(deep)
    assert err.details["path"] == "payload" + "['a']" * MAX_DEPTH
    assert len(err.message) < 400
    assert unpack(pack([Error("x", details=nested(MAX_DEPTH - 3))]))[0].details == nested(
        MAX_DEPTH - 3
    )
    refusal([Error("x", details=nested(MAX_DEPTH - 2))])


def test_wide_payload_is_not_deep():
    wide = [{"id": i, "tags": ["a", (i, b"x")]} for i in range(1000)]
    assert unpack(pack(wide)) == [{"id": i, "tags": ["a", [i, b"x"]]} for i in range(1000)]


def test_cycle_is_refused():
    a = []
    a.append(a)
    assert "cycle" in refusal(a).message


def test_packer_survives_a_refusal():
    refusal([1, {2, 3}])
    assert unpack(pack([1, 2])) == [1, 2]


def test_unpack_refuses_garbage():
    for data in (b"\xc1", pack(1)[:0] + b"\x92\x01", msgpack.packb(msgpack.ExtType(9, b""))):
        with pytest.raises(Error) as info:
            unpack(data)
        assert info.value.kind is ErrorKind.INVALID
