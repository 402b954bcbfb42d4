"""The public surface of beamish.supervision is pinned: additions are deliberate."""

import beamish.supervision as sup

EXPECTED = {
    "BRUTAL_KILL", "CONTROL_HOST", "DEFAULT_SHUTDOWN", "INFINITY", "KIND_HANDLERS",
    "SHUTDOWN_REASON", "STOP_REASON", "Backoff", "ChildCounts", "ChildInfo", "ChildSpec",
    "ChildState", "ChildType", "DependencyError", "DynamicSupervisor",
    "DynamicSupervisorSpec", "Lifecycle", "NoReply", "RestartIntensity", "RestartPolicy",
    "RestartType", "Server", "Service", "ServiceManager", "ServiceSpec", "ServiceState",
    "ServiceStatus", "SpecError", "Stop", "Strategy", "Supervisor", "SupervisorSpec",
    "SupervisorState", "SupervisorStatistics", "add_restart", "check_child_specs",
    "is_abnormal", "is_terminal_error", "lifecycle_from_config", "parse_duration",
    "services", "start_supervisor", "supervisor_at",
}  # fmt: skip


def test_all_is_pinned():
    assert set(sup.__all__) == EXPECTED
    assert sorted(sup.__all__) == sorted(set(sup.__all__))


def test_public_classes_claim_the_package_as_their_module():
    for name in sup.__all__:
        obj = getattr(sup, name)
        if isinstance(obj, type):
            assert obj.__module__ == "beamish.supervision", name


def test_kind_handlers_are_found_by_the_shell():
    from beamish._kinds import default_handlers

    handlers = default_handlers()
    assert {"process.service", "process.supervisor"} <= set(handlers)
    assert handlers["process.service"].order > handlers["process.py"].order
