"""What crosses the Temporal boundary: payload JSON with PIDs and errors, errors keeping
kind and retryable both ways, worker options and client entries (option mappings:
``test_options.py``)."""

from __future__ import annotations

import datetime

import pytest
import temporalio.exceptions
from hypothesis import given
from hypothesis import strategies as st

from beamish.actors import Error, ErrorKind, Pid, Timeout
from beamish.durable._client import ClientConfig
from beamish.durable._convert import (
    DATA_CONVERTER,
    decode_header,
    encode_header,
    from_failure,
    to_failure,
    to_wire,
)
from beamish.durable._worker import worker_kwargs


def test_payloads_carry_pids_as_strings_and_errors_as_dicts():
    pid = Pid("app:worker", "wf-1", "app:temporal")
    conv = DATA_CONVERTER.payload_converter
    (payload,) = conv.to_payloads([{"pid": pid, "err": Error("x", kind=ErrorKind.TIMEOUT)}])
    (back,) = conv.from_payloads([payload])
    assert back["pid"] == "{app:temporal@app:worker|wf-1}"
    assert back["err"]["kind"] == "Timeout" and back["err"]["message"] == "x"
    assert to_wire((pid, {1, 2}, (3,))) == [str(pid), [1, 2], [3]]


@given(
    kind=st.sampled_from(list(ErrorKind)),
    message=st.text(min_size=1, max_size=40),
    retryable=st.booleans(),
    details=st.none() | st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)
def test_errors_keep_kind_message_retryable_and_details_through_a_failure(
    kind, message, retryable, details
):
    err = Error(message, kind=kind, retryable=retryable, details=details)
    failure = to_failure(err)
    assert failure.type == kind.value
    assert failure.non_retryable is (not retryable)
    back = from_failure(failure)
    assert (back.kind, back.message, back.retryable, back.details) == (
        kind,
        message,
        retryable,
        details,
    )


def test_activity_and_timeout_failures_unwrap_to_their_cause():
    cause = temporalio.exceptions.ApplicationError("gone", type="NotFound", non_retryable=True)
    wrapped = temporalio.exceptions.ActivityError(
        "activity failed",
        scheduled_event_id=1,
        started_event_id=2,
        identity="w",
        activity_type="app:f",
        activity_id="1",
        retry_state=None,
    )
    wrapped.__cause__ = cause
    err = from_failure(wrapped)
    assert (err.kind, err.message, err.retryable) == (ErrorKind.NOT_FOUND, "gone", False)
    timeout = temporalio.exceptions.TimeoutError(
        "t", type=temporalio.exceptions.TimeoutType.START_TO_CLOSE, last_heartbeat_details=[]
    )
    assert isinstance(from_failure(timeout), Timeout)


def test_plain_exceptions_become_internal_and_crashes_are_not_benign():
    failure = to_failure(KeyError("k"))
    assert failure.type == "Internal"
    assert failure.category is not temporalio.exceptions.ApplicationErrorCategory.BENIGN
    benign = to_failure(Error("no", kind=ErrorKind.INVALID))
    assert benign.category is temporalio.exceptions.ApplicationErrorCategory.BENIGN


def test_the_context_header_round_trips_and_tolerates_absence():
    header = encode_header({"tenant": "acme", "n": 1})
    assert decode_header({"wippy-context": header}) == {"tenant": "acme", "n": 1}
    assert decode_header({}) == {}


def test_worker_options_map_to_temporalio_and_refuse_unknown_names():
    kw = worker_kwargs({"sticky_schedule_to_start_timeout": "1s", "identity": "w1"})
    assert kw["sticky_queue_schedule_to_start_timeout"] == datetime.timedelta(seconds=1)
    assert kw["identity"] == "w1"
    with pytest.raises(Error, match=r"unknown temporal.worker option 'speed'"):
        worker_kwargs({"speed": 3})


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"address": "nohost"}, "must be host:port"),
        ({"auth": {"type": "kerberos"}}, "auth.type 'kerberos'"),
        ({"auth": {"type": "api_key"}}, "needs api_key or api_key_file"),
        ({"auth": {"type": "mtls", "cert_file": "c"}}, "needs a certificate and a key"),
        ({"tls": {"insecure_skip_verify": True}}, "not supported"),
    ],
)
def test_client_entries_are_validated(data, problem):
    with pytest.raises(Error, match=problem):
        ClientConfig.from_entry("app:temporal", data)


def test_client_entry_defaults_to_the_embedded_server():
    cfg = ClientConfig.from_entry("app:temporal", {})
    assert cfg.embedded and cfg.namespace == "default" and cfg.connection_timeout == 10.0
    cfg = ClientConfig.from_entry(
        "app:temporal", {"address": "t.example:7233", "connection_timeout": "2s"}
    )
    assert not cfg.embedded and cfg.connection_timeout == 2.0


@pytest.mark.parametrize("key", [1, 2.5, None, (1, 2)])
def test_a_map_with_a_non_string_key_is_refused_naming_where(key):
    with pytest.raises(Error, match=r"key .* in argument 1 of x: workflow payloads") as info:
        to_wire({key: "v"}, "argument 1 of x")
    assert info.value.kind is ErrorKind.INVALID and info.value.details["boundary"] == "workflow"


def test_pid_keys_and_the_number_keys_of_lua_tables_become_strings():
    from beamish.luabridge import LuaKeyed

    pid = Pid("app", 3)
    assert to_wire({pid: 1}) == {str(pid): 1}
    assert to_wire(LuaKeyed({5: "x", "n": 1})) == {"5": "x", "n": 1}


def test_an_object_json_cannot_carry_names_the_type_and_where():
    class Order:
        pass

    with pytest.raises(Error, match=r"cannot send a Python .*Order in the start of wf") as info:
        to_wire([Order()], "the start of wf")
    assert info.value.__cause__ is None
