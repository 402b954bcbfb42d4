"""The public surface of beamish.durable: the list is pinned and every name is reported
under the package (not its private module)."""

import beamish.durable as durable

EXPECTED = {
    "DATA_CONVERTER",
    "KIND_HANDLERS",
    "AsyncioBridge",
    "ClientConfig",
    "DevServer",
    "ServerState",
    "TemporalClient",
    "WorkerHost",
    "WorkflowChannel",
    "WorkflowContext",
    "WorkflowEntry",
    "WorkflowEnv",
    "WorkflowFuture",
    "WorkflowWorker",
    "connect_client",
    "find_temporal_binary",
    "lua_workflow_body",
}


def test_exports_are_pinned():
    assert set(durable.__all__) == EXPECTED
    for name in durable.__all__:
        assert hasattr(durable, name)


def test_public_classes_report_the_package_as_their_module():
    for name in durable.__all__:
        obj = getattr(durable, name)
        if isinstance(obj, type) or (callable(obj) and hasattr(obj, "__module__")):
            assert obj.__module__ == "beamish.durable", name


def test_workflow_context_is_a_kernel_context():
    from beamish.actors import Context

    assert issubclass(durable.WorkflowContext, Context)
    assert durable.WorkflowContext.kind == "workflow"


def test_the_app_shell_finds_the_durable_kinds():
    kinds = {h.kind for h in durable.KIND_HANDLERS}
    assert kinds == {"temporal.client", "temporal.worker", "workflow.py", "workflow.lua"}
