"""beamish.supervision — services with restart policies, OTP supervisors, app lifecycle.

Two layers on top of the kernel (``beamish.actors``), one concept per private module:

* **Services** (Wippy's ``process.service``): a process kept running by a controller
  with backoff restarts, attempt limits and a stop protocol, started and stopped in
  dependency order by the node's :class:`ServiceManager` (:func:`services`).
  ``_lifecycle`` (the ``lifecycle`` block), ``_service`` (state machine, controller),
  ``_manager`` (the set, ordering, state tables), ``_deps`` (pure graph functions).
* **Supervisors** (Erlang/OTP, beyond Wippy): :class:`Supervisor` with strategies
  one_for_one / one_for_all / rest_for_one, :class:`DynamicSupervisor`, restart
  intensity and escalation, optional backoff. ``_child_spec`` (:class:`ChildSpec`,
  :func:`check_child_specs`), ``_flags`` (:class:`SupervisorSpec`), ``_intensity``
  (pure), ``_backoff`` (pure, shared with services), ``_supervisor`` (the engine).
* **Servers** (OTP's ``gen_server``): :class:`Server`, a class whose callbacks
  (``init``, ``handle_call``, ``handle_cast``, ``handle_info``, ``terminate``) the
  runtime drives, with :class:`NoReply` and :class:`Stop` as callback results
  (``_server``). Callers use ``ctx.ask`` / ``ctx.cast``.
* ``_kinds``: the YAML kinds ``process.service`` and ``process.supervisor``
  (``KIND_HANDLERS``, picked up by the shell), which also hook the services into the
  app's start and stop.

Service states are readable from Python (``services(node).status(id)``) and, for Lua
and any process, through two functions the manager registers on its node:
``system.supervisor:state`` (argument: a service ID) and ``system.supervisor:states``,
returning Wippy's ``system.supervisor.state()`` tables (id, status, desired,
retry_count, last_update, started_at, details). The Lua bridge can expose them as
``system.supervisor.state(id)`` / ``states()``; ``funcs.call`` reaches them today.

Quick start::

    spec = SupervisorSpec(
        children=[ChildSpec("db", db_body), ChildSpec("web", web_body, args=(8080,))],
        strategy="rest_for_one", intensity=3, period=10,
    )
    async with Node() as node:
        sup = await start_supervisor(node, spec)
        ...
        await sup.stop()
"""

from beamish.actors import parse_duration as parse_duration
from beamish.actors import publish

from ._backoff import Backoff as Backoff
from ._child_spec import BRUTAL_KILL as BRUTAL_KILL
from ._child_spec import DEFAULT_SHUTDOWN as DEFAULT_SHUTDOWN
from ._child_spec import INFINITY as INFINITY
from ._child_spec import ChildSpec as ChildSpec
from ._child_spec import ChildType as ChildType
from ._child_spec import RestartType as RestartType
from ._child_spec import SpecError as SpecError
from ._child_spec import check_child_specs as check_child_specs
from ._child_spec import is_abnormal as is_abnormal
from ._deps import DependencyError as DependencyError
from ._flags import DynamicSupervisorSpec as DynamicSupervisorSpec
from ._flags import Strategy as Strategy
from ._flags import SupervisorSpec as SupervisorSpec
from ._intensity import RestartIntensity as RestartIntensity
from ._intensity import add_restart as add_restart
from ._kinds import KIND_HANDLERS as KIND_HANDLERS
from ._lifecycle import Lifecycle as Lifecycle
from ._lifecycle import RestartPolicy as RestartPolicy
from ._lifecycle import lifecycle_from_config as lifecycle_from_config
from ._manager import CONTROL_HOST as CONTROL_HOST
from ._manager import ServiceManager as ServiceManager
from ._manager import services as services
from ._server import NoReply as NoReply
from ._server import Server as Server
from ._server import Stop as Stop
from ._service import STOP_REASON as STOP_REASON
from ._service import Service as Service
from ._service import ServiceSpec as ServiceSpec
from ._service import ServiceState as ServiceState
from ._service import ServiceStatus as ServiceStatus
from ._service import is_terminal_error as is_terminal_error
from ._supervisor import SHUTDOWN_REASON as SHUTDOWN_REASON
from ._supervisor import ChildCounts as ChildCounts
from ._supervisor import ChildInfo as ChildInfo
from ._supervisor import ChildState as ChildState
from ._supervisor import DynamicSupervisor as DynamicSupervisor
from ._supervisor import Supervisor as Supervisor
from ._supervisor import SupervisorState as SupervisorState
from ._supervisor import SupervisorStatistics as SupervisorStatistics
from ._supervisor import start_supervisor as start_supervisor
from ._supervisor import supervisor_at as supervisor_at

__all__ = [
    "BRUTAL_KILL",
    "CONTROL_HOST",
    "DEFAULT_SHUTDOWN",
    "INFINITY",
    "KIND_HANDLERS",
    "SHUTDOWN_REASON",
    "STOP_REASON",
    "Backoff",
    "ChildCounts",
    "ChildInfo",
    "ChildSpec",
    "ChildState",
    "ChildType",
    "DependencyError",
    "DynamicSupervisor",
    "DynamicSupervisorSpec",
    "Lifecycle",
    "NoReply",
    "RestartIntensity",
    "RestartPolicy",
    "RestartType",
    "Server",
    "Service",
    "ServiceManager",
    "ServiceSpec",
    "ServiceState",
    "ServiceStatus",
    "SpecError",
    "Stop",
    "Strategy",
    "Supervisor",
    "SupervisorSpec",
    "SupervisorState",
    "SupervisorStatistics",
    "add_restart",
    "check_child_specs",
    "is_abnormal",
    "is_terminal_error",
    "lifecycle_from_config",
    "parse_duration",
    "services",
    "start_supervisor",
    "supervisor_at",
]

publish(globals())
