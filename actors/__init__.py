"""beamish.actors — the trio actor kernel.

Layering (like trio's ``_core``): private modules hold one concept each; this facade
re-exports the public names. Extension points for other layers (hosts, the context
machinery) are public here too but documented as such.

* :class:`Node` — the runtime: processes, names, hosts, functions; ``async with``.
* :class:`Context` — what a process body talks to; :class:`Process` is the kernel's.
* :class:`Pid`, :class:`Message`, :class:`Event`, :class:`EventKind` — values.
* :class:`Channel`, :func:`select`, :data:`CLOSED` — mailbox channels.
* :class:`Error` and friends — errors with a kind.
"""

from ._channel import CLOSED as CLOSED
from ._channel import Channel as Channel
from ._channel import WouldBlock as WouldBlock
from ._channel import select as select
from ._context import ChannelLike as ChannelLike
from ._context import Context as Context
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
from ._exports import publish
from ._functions import FunctionRegistry as FunctionRegistry
from ._functions import KernelFuture as KernelFuture
from ._functions import check_function_id as check_function_id
from ._future import Future as Future
from ._host import Host as Host
from ._host import LocalHost as LocalHost
from ._host import SpawnRequest as SpawnRequest
from ._isolate import isolate as isolate
from ._limits import DEFAULT_LIMITS as DEFAULT_LIMITS
from ._limits import Limits as Limits
from ._message import Event as Event
from ._message import EventKind as EventKind
from ._message import Message as Message
from ._node import DEFAULT_HOST as DEFAULT_HOST
from ._node import Node as Node
from ._pid import Pid as Pid
from ._process import LINK_FAILED as LINK_FAILED
from ._process import SYSTEM_PID as SYSTEM_PID
from ._process import TERMINATED as TERMINATED
from ._process import Process as Process
from ._process import ProcessState as ProcessState

__all__ = [
    "CLOSED",
    "DEFAULT_HOST",
    "DEFAULT_LIMITS",
    "LINK_FAILED",
    "SYSTEM_PID",
    "TERMINATED",
    "Channel",
    "ChannelLike",
    "Context",
    "DurationSyntaxError",
    "Error",
    "ErrorKind",
    "Event",
    "EventKind",
    "FunctionRegistry",
    "Future",
    "Host",
    "KernelFuture",
    "Limits",
    "LoadError",
    "LocalHost",
    "Message",
    "Node",
    "Pid",
    "Process",
    "ProcessExit",
    "ProcessNotFound",
    "ProcessState",
    "SpawnRequest",
    "Timeout",
    "WouldBlock",
    "as_error",
    "check_function_id",
    "current_context",
    "current_values",
    "go_duration",
    "isolate",
    "parse_duration",
    "select",
]

publish(globals())
