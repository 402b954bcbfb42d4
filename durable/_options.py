"""How Wippy-style option mappings become temporalio keyword arguments.

What it is for
    Three calls start Temporal work and each takes its own keywords:
    ``workflow.start_activity`` (``call``/``call_async`` inside a workflow),
    ``workflow.start_child_workflow`` (``spawn``/``exec`` inside a workflow) and
    ``Client.start_workflow`` (``spawn`` on a ``temporal.worker`` host, from outside).
    Users write Wippy's option names for all three, so one module reads them: the
    duration rule, the policy tables and the retry policy exist once, and a child
    workflow accepts exactly what a workflow started from outside accepts.

Names
    Wippy's ``activity.<opt>`` and ``workflow.<opt>``, the legacy ``temporal.activity.<opt>``
    / ``temporal.workflow.<opt>``, or the bare ``<opt>``. Unknown names are ignored, as
    Wippy ignores them.

    Activities (:func:`activity_options`): ``start_to_close_timeout`` (default
    :data:`DEFAULT_START_TO_CLOSE` unless a schedule-to-close timeout is given),
    ``schedule_to_close_timeout``, ``schedule_to_start_timeout``, ``heartbeat_timeout``,
    ``task_queue``, ``id``, ``wait_for_cancellation`` (bool), ``retry_policy``.

    Workflows, both starts: ``id``, ``execution_timeout``, ``run_timeout``,
    ``task_timeout``, ``id_reuse_policy`` (``allow_duplicate`` |
    ``allow_duplicate_failed_only`` | ``reject_duplicate``), ``retry_policy``,
    ``cron_schedule``, ``memo``. Only from outside (:func:`start_options`):
    ``task_queue``, ``start_delay``, ``id_conflict_policy`` (``use_existing`` | ``fail`` |
    ``terminate_existing``; default ``use_existing`` for a named start, so it is
    idempotent, else ``fail``), ``execution_error_when_already_started`` (``true``: a
    named start fails instead of reaching the running workflow); a named start's
    ``id_reuse_policy`` defaults to ``reject_duplicate`` (a name means once).
    Only for children (:func:`child_options`; a child's task queue is its host's):
    ``parent_close_policy`` (``terminate`` | ``abandon`` | ``request_cancel``),
    ``wait_for_cancellation`` (``false``: cancel without waiting).

    ``retry_policy`` = {``initial_interval``, ``backoff_coefficient``,
    ``maximum_interval``, ``maximum_attempts``, ``non_retryable_error_types``}, or a
    ready ``temporalio.common.RetryPolicy``.

Durations
    :func:`beamish.actors.parse_duration`, the one parser of every layer: a Go duration
    string (``"500ms"``, ``"1m30s"``), a :class:`~datetime.timedelta`, or a bare number
    of **milliseconds** — Wippy's rule for Temporal options (``parseDuration`` in its
    ``service/temporal/options``). Only the ``timeout`` argument of ``Context.call`` is
    in seconds, as everywhere in the Context API.

Errors
    A bad value raises ``Error(INVALID)``, not retryable, naming the option as Wippy
    spells it (``activity.retry_policy.initial_interval``) and the accepted values.

Pure functions, trio-free: the workflow context calls them inside workflows.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

import temporalio.common
import temporalio.workflow as workflow

from beamish.actors import Error, ErrorKind, parse_duration

__all__ = [
    "DEFAULT_START_TO_CLOSE",
    "activity_options",
    "child_options",
    "duration",
    "retry_policy",
    "start_options",
    "strip_prefixes",
]

#: Default activity start-to-close timeout (Wippy's default).
DEFAULT_START_TO_CLOSE = datetime.timedelta(minutes=10)

_ACTIVITY_TIMEOUTS = (
    "start_to_close_timeout",
    "schedule_to_close_timeout",
    "schedule_to_start_timeout",
    "heartbeat_timeout",
)
_WORKFLOW_TIMEOUTS = ("execution_timeout", "run_timeout", "task_timeout")

_CONFLICT = {
    "use_existing": temporalio.common.WorkflowIDConflictPolicy.USE_EXISTING,
    "fail": temporalio.common.WorkflowIDConflictPolicy.FAIL,
    "terminate_existing": temporalio.common.WorkflowIDConflictPolicy.TERMINATE_EXISTING,
}
_REUSE = {
    "allow_duplicate": temporalio.common.WorkflowIDReusePolicy.ALLOW_DUPLICATE,
    "allow_duplicate_failed_only": (
        temporalio.common.WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY
    ),
    "reject_duplicate": temporalio.common.WorkflowIDReusePolicy.REJECT_DUPLICATE,
}
_PARENT_CLOSE = {
    "terminate": workflow.ParentClosePolicy.TERMINATE,
    "abandon": workflow.ParentClosePolicy.ABANDON,
    "request_cancel": workflow.ParentClosePolicy.REQUEST_CANCEL,
}


def duration(value: Any, field: str) -> datetime.timedelta:
    """``value`` as a timedelta, bare numbers in milliseconds (Wippy's Temporal rule).

    Raises ``Error(INVALID)`` naming ``field`` for anything else than a Go duration
    string, a number or a timedelta (and for negative values)."""
    return datetime.timedelta(seconds=parse_duration(value, field=field, number_unit="ms"))


def strip_prefixes(options: Mapping[str, Any], *prefixes: str) -> dict[str, Any]:
    """``options`` with each of ``prefixes`` removed from the keys, in that order
    (``"temporal.workflow.id"`` -> ``"id"`` for ``("temporal.", "workflow.")``)."""
    out: dict[str, Any] = {}
    for key, value in options.items():
        k = key
        for p in prefixes:
            if k.startswith(p):
                k = k[len(p) :]
        out[k] = value
    return out


def retry_policy(
    spec: Mapping[str, Any] | temporalio.common.RetryPolicy | None, field: str = "retry_policy"
) -> temporalio.common.RetryPolicy | None:
    """A ``RetryPolicy`` from Wippy's mapping (see the module docstring); ``None`` stays
    ``None``. ``field`` names the option in errors."""
    if spec is None or isinstance(spec, temporalio.common.RetryPolicy):
        return spec
    if not isinstance(spec, Mapping):
        raise _invalid(f"{field} must be a mapping, got {type(spec).__name__}")
    kw: dict[str, Any] = {}
    for name in ("initial_interval", "maximum_interval"):
        if spec.get(name) is not None:
            kw[name] = duration(spec[name], f"{field}.{name}")
    try:
        if spec.get("backoff_coefficient") is not None:
            kw["backoff_coefficient"] = float(spec["backoff_coefficient"])
        if spec.get("maximum_attempts") is not None:
            kw["maximum_attempts"] = int(spec["maximum_attempts"])
    except (TypeError, ValueError):
        raise _invalid(
            f"{field}: backoff_coefficient must be a number and maximum_attempts an "
            f"integer, got {dict(spec)!r}"
        ) from None
    if spec.get("non_retryable_error_types") is not None:
        kw["non_retryable_error_types"] = [str(t) for t in spec["non_retryable_error_types"]]
    return temporalio.common.RetryPolicy(**kw)


def activity_options(
    options: Mapping[str, Any] | None, timeout: float | None = None
) -> dict[str, Any]:
    """Keyword arguments for ``workflow.start_activity``.

    ``timeout`` is the ``timeout`` argument of ``Context.call`` (seconds): the
    schedule-to-close timeout, over any option."""
    o = strip_prefixes(options or {}, "temporal.", "activity.")
    kw: dict[str, Any] = {}
    for name in _ACTIVITY_TIMEOUTS:
        if o.get(name) is not None:
            kw[name] = duration(o[name], f"activity.{name}")
    if timeout is not None:
        kw["schedule_to_close_timeout"] = datetime.timedelta(
            seconds=parse_duration(timeout, field="timeout", number_unit="s")
        )
    if "start_to_close_timeout" not in kw and "schedule_to_close_timeout" not in kw:
        kw["start_to_close_timeout"] = DEFAULT_START_TO_CLOSE
    if o.get("task_queue"):
        kw["task_queue"] = str(o["task_queue"])
    if o.get("id"):
        kw["activity_id"] = str(o["id"])
    if o.get("retry_policy") is not None:
        kw["retry_policy"] = retry_policy(o["retry_policy"], "activity.retry_policy")
    if o.get("wait_for_cancellation"):
        kw["cancellation_type"] = workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED
    return kw


def _workflow_options(o: Mapping[str, Any]) -> dict[str, Any]:
    """The options both workflow starts share (``o`` already stripped of prefixes)."""
    kw: dict[str, Any] = {}
    if o.get("id"):
        kw["id"] = str(o["id"])
    for name in _WORKFLOW_TIMEOUTS:
        if o.get(name) is not None:
            kw[name] = duration(o[name], f"workflow.{name}")
    if o.get("id_reuse_policy"):
        kw["id_reuse_policy"] = _choice(_REUSE, o["id_reuse_policy"], "workflow.id_reuse_policy")
    if o.get("retry_policy") is not None:
        kw["retry_policy"] = retry_policy(o["retry_policy"], "workflow.retry_policy")
    if o.get("cron_schedule"):
        kw["cron_schedule"] = str(o["cron_schedule"])
    if o.get("memo"):
        kw["memo"] = dict(o["memo"])
    return kw


def child_options(options: Mapping[str, Any] | None) -> dict[str, Any]:
    """Keyword arguments for ``workflow.start_child_workflow`` (with ``id`` if given)."""
    if not options:
        return {}
    o = strip_prefixes(options, "temporal.", "workflow.")
    kw = _workflow_options(o)
    if o.get("parent_close_policy"):
        kw["parent_close_policy"] = _choice(
            _PARENT_CLOSE, o["parent_close_policy"], "workflow.parent_close_policy"
        )
    if o.get("wait_for_cancellation") is False:
        kw["cancellation_type"] = workflow.ChildWorkflowCancellationType.TRY_CANCEL
    return kw


def start_options(
    options: Mapping[str, Any] | None, *, task_queue: str, named: bool = False
) -> dict[str, Any]:
    """Keyword arguments for ``Client.start_workflow`` (with ``id`` if given).

    ``task_queue`` is the worker's, unless the ``task_queue`` option overrides it.
    ``named``: the caller gives the workflow a name. A named start (or one with an
    ``id`` option) is a singleton: conflict policy USE_EXISTING and reuse policy
    REJECT_DUPLICATE unless given, so a second spawn reaches the running workflow and a
    finished one is not run again (across restarts too). A start with a fresh ID
    defaults to FAIL. ``execution_error_when_already_started`` (bool, default: not
    named) picks FAIL over USE_EXISTING when no conflict policy is given.
    Raises ``Error(INVALID)`` for a bad policy name or a non-boolean flag.
    """
    o = strip_prefixes(options or {}, "temporal.", "workflow.")
    kw = _workflow_options(o)
    kw["task_queue"] = str(o.get("task_queue") or task_queue)
    manual = named or "id" in kw
    error_when_started = o.get("execution_error_when_already_started")
    if error_when_started is None:
        error_when_started = not manual
    elif not isinstance(error_when_started, bool):
        raise _invalid(
            "workflow.execution_error_when_already_started must be true or false, got "
            f"{error_when_started!r}"
        )
    if o.get("id_conflict_policy"):
        kw["id_conflict_policy"] = _choice(
            _CONFLICT, o["id_conflict_policy"], "workflow.id_conflict_policy"
        )
    elif error_when_started:
        kw["id_conflict_policy"] = temporalio.common.WorkflowIDConflictPolicy.FAIL
    else:
        kw["id_conflict_policy"] = temporalio.common.WorkflowIDConflictPolicy.USE_EXISTING
    if manual and "id_reuse_policy" not in kw:
        # A name means once: a finished workflow is not run again unless asked.
        kw["id_reuse_policy"] = temporalio.common.WorkflowIDReusePolicy.REJECT_DUPLICATE
    if o.get("start_delay") is not None:
        kw["start_delay"] = duration(o["start_delay"], "workflow.start_delay")
    return kw


def _choice(table: Mapping[str, Any], value: Any, field: str) -> Any:
    try:
        return table[str(value).lower()]
    except KeyError:
        raise _invalid(
            f"invalid {field} {value!r}: use one of {', '.join(sorted(table))}"
        ) from None


def _invalid(message: str) -> Error:
    return Error(message, kind=ErrorKind.INVALID, retryable=False)
