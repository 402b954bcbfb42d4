import pytest
from hypothesis import given
from hypothesis import strategies as st

from beamish.actors import Error, ErrorKind, Pid

part = st.text(st.characters(blacklist_characters="{}|@", blacklist_categories=("Cs",)), min_size=1)


def test_string_form_matches_wippy():
    assert str(Pid("app:processes", "0x0000a")) == "{app:processes|0x0000a}"
    assert str(Pid("app:processes", "0x0000a", "node-1")) == "{node-1@app:processes|0x0000a}"


@given(host=part, uid=part, node=st.one_of(st.just(""), part))
def test_parse_and_format_round_trip(host, uid, node):
    pid = Pid(host, uid, node)
    assert Pid.parse(str(pid)) == pid
    assert hash(Pid.parse(str(pid))) == hash(pid)


def test_pids_are_dict_keys_and_immutable():
    d = {Pid("h", "1"): "a"}
    assert d[Pid.parse("{h|1}")] == "a"
    with pytest.raises(AttributeError):
        Pid("h", "1").host = "x"


def test_parse_tolerates_wippy_three_part_form():
    assert Pid.parse("{h|old|0x1}") == Pid("h", "0x1")


@pytest.mark.parametrize("bad", ["", "h|1", "{h1}", "{h|}", "{}", 42])
def test_parse_rejects_malformed_pids(bad):
    with pytest.raises(Error, match="invalid PID") as info:
        Pid.parse(bad)
    assert info.value.kind is ErrorKind.INVALID
