"""Both backends implement the whole Context and expose what the contract lists.

Statically: every abstract method of ``Context`` is implemented by ``Process`` and by
``WorkflowContext``, with the contract's parameters. Live: a running body of each backend
has every public attribute the contract documents, with values of the documented
meaning (its PID, entry ID, values, kind, flags as booleans).
"""

from __future__ import annotations

import inspect

import pytest

from beamish.actors import Context, Pid, Process
from beamish.durable import WorkflowContext

BACKEND_CLASSES = [Process, WorkflowContext]
#: Every public name of the contract: its methods and properties, and the attributes
#: it declares (annotations: pid, entry_id, values, parent, kind, the flags, ...).
CONTRACT = sorted({n for n in dir(Context) if not n.startswith("_")} | set(Context.__annotations__))
FLAGS = ["durable", "can_link", "can_monitor", "has_names", "can_hibernate"]
#: Async in the contract, a plain method returning an awaitable in a backend (the
#: kernel's ``receive`` hands back its inbox's coroutine: one frame less per process).
AWAITABLE_RETURNING = {"receive"}


def _shape(fn):
    return [(p.name, p.kind) for p in inspect.signature(fn).parameters.values()]


@pytest.mark.parametrize("cls", BACKEND_CLASSES, ids=lambda c: c.__name__)
def test_every_abstract_method_of_context_is_implemented(cls):
    assert Context.__abstractmethods__, "the contract lost its abstract methods"
    assert not getattr(cls, "__abstractmethods__", frozenset())
    for name in sorted(Context.__abstractmethods__):
        impl = getattr(cls, name)
        assert impl is not getattr(Context, name), f"{cls.__name__}.{name} is the abstract one"
        if name in AWAITABLE_RETURNING:
            continue
        assert inspect.iscoroutinefunction(impl) == inspect.iscoroutinefunction(
            getattr(Context, name)
        ), f"{cls.__name__}.{name}: async in one, plain in the other"


@pytest.mark.parametrize("cls", BACKEND_CLASSES, ids=lambda c: c.__name__)
def test_every_public_method_takes_the_contracts_parameters(cls):
    for name in CONTRACT:
        spec = inspect.getattr_static(Context, name, None)
        if not callable(spec) or isinstance(spec, type):
            continue
        assert _shape(getattr(cls, name)) == _shape(getattr(Context, name)), (
            f"{cls.__name__}.{name}{inspect.signature(getattr(cls, name))} differs from "
            f"Context.{name}{inspect.signature(getattr(Context, name))}"
        )


@pytest.mark.parametrize("cls", BACKEND_CLASSES, ids=lambda c: c.__name__)
def test_capability_flags_are_class_booleans(cls):
    for flag in FLAGS:
        assert type(inspect.getattr_static(cls, flag)) is bool, flag


async def describes_itself(ctx):
    return {
        "missing": [n for n in CONTRACT if not hasattr(ctx, n)],
        "flags_are_bool": all(type(getattr(ctx, f)) is bool for f in FLAGS),
        "kind": ctx.kind,
        "pid": str(ctx.pid),
        "entry_id": ctx.entry_id,
        "values": dict(ctx.values),
        "parent": None if ctx.parent is None else str(ctx.parent),
        "is_alive": ctx.is_alive(),
        "home_host": ctx.home_host,
        "trap_links": ctx.trap_links,
        "monotonic_is_float": isinstance(ctx.monotonic(), float),
    }


PYTHON_BODIES = {"describes_itself": describes_itself}


def test_a_running_body_exposes_every_contract_attribute(rt, backend):
    got = rt.exec(backend, "python:describes_itself", context={"k": "v"})
    pid = Pid.parse(got.pop("pid"))
    assert got == {
        "missing": [],
        "flags_are_bool": True,
        "kind": {"kernel": "process", "workflow": "workflow"}[backend],
        "entry_id": "python:describes_itself",
        "values": {"k": "v"},
        "parent": None,
        "is_alive": True,
        "home_host": pid.host,
        "trap_links": False,
        "monotonic_is_float": True,
    }
    assert pid.host == (rt.host(backend) or "node:local")
