"""Interceptors that carry context values and the signal sender in the ``wippy-context`` header.

What it is for
    temporalio's public calls (``start_workflow``, ``signal``, ``start_activity``,
    ``start_child_workflow``, external signals) take no headers; interceptors are the
    SDK's one door to them. :class:`ContextInterceptor` is both a client and a worker
    interceptor (temporalio hands a client interceptor that is also a worker interceptor
    to every worker of that client), and does four things:

    * client ``start_workflow`` / ``signal_workflow``: put :data:`client_header` (set by
      the kernel host around the call: the spawner's context values, the sender PID) into
      the header;
    * workflow inbound ``execute_workflow``: read the header into the workflow context's
      ``values``; ``handle_signal``: read the sender PID for the signal handler;
    * workflow outbound ``start_activity`` / ``start_child_workflow``: send the workflow's
      context values on (or the per-call values in
      :data:`~beamish.durable._context.outbound_values`); external/child signals, and
      child starts (the child's ``parent``): our PID as ``temporal.signal.from``;
    * activity inbound: expose the header's values as :data:`activity_values` to the
      activity dispatcher.

Design: contextvars, not globals — each asyncio task (and each workflow task) sees only
the values set on its own path. Workflows that are not beamish's (no ``_beamish_ctx`` on
the instance) pass through untouched.

Imports no trio itself: it runs inside workflows. (The ``beamish`` package, whose
kernel does import trio, is passed through Temporal's sandbox, never re-imported.)
"""

from __future__ import annotations

import contextvars
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import temporalio.client
import temporalio.worker
import temporalio.workflow as workflow

from beamish.actors import Pid

from ._context import outbound_values
from ._convert import SIGNAL_FROM, decode_header, with_header

__all__ = ["ContextInterceptor", "activity_values", "client_header"]

#: Set by the kernel host around a client call: the values to send in the header.
client_header: contextvars.ContextVar[Mapping[str, Any] | None] = contextvars.ContextVar(
    "beamish_client_header", default=None
)
#: Inside an activity: the context values its workflow (or starter) sent.
activity_values: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar(
    "beamish_activity_values", default=MappingProxyType({})
)


class ContextInterceptor(temporalio.client.Interceptor, temporalio.worker.Interceptor):
    """Client + worker interceptor for the ``wippy-context`` header."""

    def intercept_client(
        self, next: temporalio.client.OutboundInterceptor
    ) -> temporalio.client.OutboundInterceptor:
        return _ClientOutbound(next)

    def intercept_activity(
        self, next: temporalio.worker.ActivityInboundInterceptor
    ) -> temporalio.worker.ActivityInboundInterceptor:
        return _ActivityInbound(next)

    def workflow_interceptor_class(
        self, input: temporalio.worker.WorkflowInterceptorClassInput
    ) -> type[temporalio.worker.WorkflowInboundInterceptor]:
        return _WorkflowInbound


class _ClientOutbound(temporalio.client.OutboundInterceptor):
    async def start_workflow(
        self, input: temporalio.client.StartWorkflowInput
    ) -> temporalio.client.WorkflowHandle[Any, Any]:
        values = client_header.get()
        if values:
            input.headers = with_header(input.headers, values)
        return await self.next.start_workflow(input)

    async def signal_workflow(self, input: temporalio.client.SignalWorkflowInput) -> None:
        values = client_header.get()
        if values:
            input.headers = with_header(input.headers, values)
        await self.next.signal_workflow(input)


class _ActivityInbound(temporalio.worker.ActivityInboundInterceptor):
    async def execute_activity(self, input: temporalio.worker.ExecuteActivityInput) -> Any:
        token = activity_values.set(decode_header(input.headers))
        try:
            return await self.next.execute_activity(input)
        finally:
            activity_values.reset(token)


def _ctx() -> Any:
    return getattr(workflow.instance(), "_beamish_ctx", None)


class _WorkflowInbound(temporalio.worker.WorkflowInboundInterceptor):
    def init(self, outbound: temporalio.worker.WorkflowOutboundInterceptor) -> None:
        super().init(_WorkflowOutbound(outbound))

    async def execute_workflow(self, input: temporalio.worker.ExecuteWorkflowInput) -> Any:
        ctx = _ctx()
        if ctx is not None:
            values = decode_header(input.headers)
            values.pop(SIGNAL_FROM, None)
            ctx.values = values
        return await self.next.execute_workflow(input)

    async def handle_signal(self, input: temporalio.worker.HandleSignalInput) -> None:
        instance = workflow.instance()
        if hasattr(instance, "_beamish_ctx"):
            sender = decode_header(input.headers).get(SIGNAL_FROM)
            pid = None
            if isinstance(sender, str) and Pid.looks_like(sender):
                try:
                    pid = Pid.parse(sender)
                except Exception:
                    pid = None
            instance._beamish_sender = pid
        await self.next.handle_signal(input)


class _WorkflowOutbound(temporalio.worker.WorkflowOutboundInterceptor):
    def _values(self) -> Mapping[str, Any] | None:
        ctx = _ctx()
        if ctx is None:
            return None
        values = outbound_values.get()
        return values if values is not None else ctx.values

    def start_activity(
        self, input: temporalio.worker.StartActivityInput
    ) -> workflow.ActivityHandle[Any]:
        values = self._values()
        if values:
            input.headers = with_header(input.headers, values)
        return self.next.start_activity(input)

    async def start_child_workflow(
        self, input: temporalio.worker.StartChildWorkflowInput
    ) -> workflow.ChildWorkflowHandle[Any, Any]:
        values = self._values()
        ctx = _ctx()
        if ctx is not None:  # the child reads its parent's PID from the sender
            values = {**(values or {}), SIGNAL_FROM: str(ctx.pid)}
        if values:
            input.headers = with_header(input.headers, values)
        return await self.next.start_child_workflow(input)

    def _sender(self) -> dict[str, Any] | None:
        ctx = _ctx()
        return {SIGNAL_FROM: str(ctx.pid)} if ctx is not None else None

    async def signal_external_workflow(
        self, input: temporalio.worker.SignalExternalWorkflowInput
    ) -> None:
        sender = self._sender()
        if sender:
            input.headers = with_header(input.headers, sender)
        await self.next.signal_external_workflow(input)

    async def signal_child_workflow(
        self, input: temporalio.worker.SignalChildWorkflowInput
    ) -> None:
        sender = self._sender()
        if sender:
            input.headers = with_header(input.headers, sender)
        await self.next.signal_child_workflow(input)
