"""beamish.actors — the trio actor kernel.

Layering (like trio's ``_core``): private modules hold one concept each; this facade
re-exports the public names. Extension points for other layers (hosts, the context
machinery) are public here too but documented as such.

* :class:`Node` — the runtime: processes, names, hosts, functions; ``async with``.
* :class:`Context` — what a process body talks to; :class:`Process` is the kernel's.
* :class:`Pid`, :class:`Message`, :class:`Event`, :class:`EventKind` — values.
* :class:`Channel`, :func:`select`, :data:`CLOSED` — mailbox channels.
* :class:`Call` (:data:`CALL_TOPIC`, :data:`CAST_TOPIC`) — a request from ``ask``,
  answered with ``call.reply``; ``cast`` is its fire-and-forget sibling.
* :class:`Error` and friends — errors with a kind.
* :class:`Entry`, :class:`KindHandler` (+ :class:`AppLike`, :class:`RegistryLike`,
  :func:`import_handler`, :func:`process_host`) — app entries and the protocol of the
  handlers every layer contributes for its entry kinds.
* :func:`crash_report`, :func:`supervisor_report`, :func:`user_stack` — SASL-style
  reports through ``logging`` (``beamish.crash``, ``beamish.supervisor``).
* :class:`ClusterConfig`, :class:`Cluster`, :class:`PoolHost`, :func:`list_nodes`,
  :data:`NODE_DISCONNECTED`, :class:`NatsServer` — nodes joined through NATS
  (``Node(name=..., cluster=...)``), worker pools, the embedded NATS server.
* :class:`ProcessGroups`, :class:`PgScope` — process groups (``node.groups``).
* :func:`die_with_parent`, :func:`free_port`, :func:`port_in_use`,
  :func:`accepts_connections`, :func:`start_on_port`, :func:`wait_listening`,
  :func:`stop_child`, :func:`kill_child`, :func:`log_tail` — for layers that start
  child servers or workers.
* :func:`publish` — for the other layers' facades: names report the facade as module.
* :func:`pending_start`, :func:`set_pending_start` (:data:`PendingStart`) — for hosts
  whose start is confirmed later (workflows) and yielding callers that wait for it.
* :class:`Limits`, :func:`limits_of`, :func:`limit_error`, :func:`spawn_messages_error`,
  :data:`MAX_DEPTH` — host limits and their errors, for layers that enforce them too
  (the Lua bridge counts timers, calls and payload depth against the same limits).
"""

from ._aio import run_asyncio as run_asyncio
from ._call import CALL_TOPIC as CALL_TOPIC
from ._call import CAST_TOPIC as CAST_TOPIC
from ._call import Call as Call
from ._channel import CLOSED as CLOSED
from ._channel import Channel as Channel
from ._channel import ChannelLike as ChannelLike
from ._channel import WouldBlock as WouldBlock
from ._channel import select as select
from ._children import accepts_connections as accepts_connections
from ._children import die_with_parent as die_with_parent
from ._children import free_port as free_port
from ._children import kill_child as kill_child
from ._children import log_tail as log_tail
from ._children import port_in_use as port_in_use
from ._children import start_on_port as start_on_port
from ._children import stop_child as stop_child
from ._children import wait_listening as wait_listening
from ._cluster import NODE_DISCONNECTED as NODE_DISCONNECTED
from ._cluster import Cluster as Cluster
from ._cluster import ClusterConfig as ClusterConfig
from ._cluster import PoolHost as PoolHost
from ._cluster import list_nodes as list_nodes
from ._context import Context as Context
from ._context import Target as Target
from ._context import current_context as current_context
from ._context import current_values as current_values
from ._duration import DurationSyntaxError as DurationSyntaxError
from ._duration import go_duration as go_duration
from ._duration import parse_duration as parse_duration
from ._errors import Error as Error
from ._errors import ErrorKind as ErrorKind
from ._errors import LoadError as LoadError
from ._errors import ProcessExit as ProcessExit
from ._errors import ProcessNotFound as ProcessNotFound
from ._errors import Timeout as Timeout
from ._errors import as_error as as_error
from ._exports import publish as publish
from ._functions import FunctionRegistry as FunctionRegistry
from ._functions import KernelFuture as KernelFuture
from ._functions import check_function_id as check_function_id
from ._future import Future as Future
from ._host import Host as Host
from ._host import LocalHost as LocalHost
from ._host import PendingStart as PendingStart
from ._host import SpawnRequest as SpawnRequest
from ._host import pending_start as pending_start
from ._host import set_pending_start as set_pending_start
from ._isolate import MAX_DEPTH as MAX_DEPTH
from ._isolate import isolate as isolate
from ._isolate import isolate_args as isolate_args
from ._kinds import AppLike as AppLike
from ._kinds import Entry as Entry
from ._kinds import KindHandler as KindHandler
from ._kinds import RegistryLike as RegistryLike
from ._kinds import import_handler as import_handler
from ._kinds import process_host as process_host
from ._limits import DEFAULT_LIMITS as DEFAULT_LIMITS
from ._limits import Limits as Limits
from ._limits import limit_error as limit_error
from ._limits import limits_of as limits_of
from ._limits import spawn_messages_error as spawn_messages_error
from ._mailbox import Mailbox as Mailbox
from ._mailbox import check_topic as check_topic
from ._message import Event as Event
from ._message import EventKind as EventKind
from ._message import Message as Message
from ._natsd import NatsServer as NatsServer
from ._node import DEFAULT_HOST as DEFAULT_HOST
from ._node import Node as Node
from ._pg import Groups as Groups
from ._pg import PgScope as PgScope
from ._pg import ProcessGroups as ProcessGroups
from ._pid import Pid as Pid
from ._process import LINK_FAILED as LINK_FAILED
from ._process import SYSTEM_PID as SYSTEM_PID
from ._process import TERMINATED as TERMINATED
from ._process import Process as Process
from ._process import ProcessState as ProcessState
from ._reports import crash_report as crash_report
from ._reports import supervisor_report as supervisor_report
from ._reports import user_stack as user_stack

__all__ = [
    "CALL_TOPIC",
    "CAST_TOPIC",
    "CLOSED",
    "DEFAULT_HOST",
    "DEFAULT_LIMITS",
    "LINK_FAILED",
    "MAX_DEPTH",
    "NODE_DISCONNECTED",
    "SYSTEM_PID",
    "TERMINATED",
    "AppLike",
    "Call",
    "Channel",
    "ChannelLike",
    "Cluster",
    "ClusterConfig",
    "Context",
    "DurationSyntaxError",
    "Entry",
    "Error",
    "ErrorKind",
    "Event",
    "EventKind",
    "FunctionRegistry",
    "Future",
    "Groups",
    "Host",
    "KernelFuture",
    "KindHandler",
    "Limits",
    "LoadError",
    "LocalHost",
    "Mailbox",
    "Message",
    "NatsServer",
    "Node",
    "PendingStart",
    "PgScope",
    "Pid",
    "PoolHost",
    "Process",
    "ProcessExit",
    "ProcessGroups",
    "ProcessNotFound",
    "ProcessState",
    "RegistryLike",
    "SpawnRequest",
    "Target",
    "Timeout",
    "WouldBlock",
    "accepts_connections",
    "as_error",
    "check_function_id",
    "check_topic",
    "crash_report",
    "current_context",
    "current_values",
    "die_with_parent",
    "free_port",
    "go_duration",
    "import_handler",
    "isolate",
    "isolate_args",
    "kill_child",
    "limit_error",
    "limits_of",
    "list_nodes",
    "log_tail",
    "parse_duration",
    "pending_start",
    "port_in_use",
    "process_host",
    "publish",
    "run_asyncio",
    "select",
    "set_pending_start",
    "spawn_messages_error",
    "start_on_port",
    "stop_child",
    "supervisor_report",
    "user_stack",
    "wait_listening",
]

publish(globals())
