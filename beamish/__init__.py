"""beamish — an Erlang-style actor runtime in pure Python.

Three compute units share one machinery: **functions** (stateless calls run in the
caller's context), **processes** (actors with PIDs, mailboxes, links, monitors, names,
supervision) and **workflows** (processes whose state lives in Temporal). Code is
Python, or Lua scripts run through a sandboxed bridge; apps are a YAML registry of
entries run by ``beamish run DIR``.

This module is the facade users import. The layers behind it, lowest first:
``beamish.actors`` (the trio kernel), ``beamish.supervision``, ``beamish.luabridge``,
``beamish.durable``; this shell adds the entry registry, the YAML loader and the CLI.
"""

from beamish.actors import CLOSED as CLOSED
from beamish.actors import Call as Call
from beamish.actors import Channel as Channel
from beamish.actors import Context as Context
from beamish.actors import Entry as Entry
from beamish.actors import Error as Error
from beamish.actors import ErrorKind as ErrorKind
from beamish.actors import Event as Event
from beamish.actors import EventKind as EventKind
from beamish.actors import Future as Future
from beamish.actors import KindHandler as KindHandler
from beamish.actors import LoadError as LoadError
from beamish.actors import Message as Message
from beamish.actors import Node as Node
from beamish.actors import Pid as Pid
from beamish.actors import Process as Process
from beamish.actors import ProcessExit as ProcessExit
from beamish.actors import ProcessNotFound as ProcessNotFound
from beamish.actors import Timeout as Timeout
from beamish.actors import current_context as current_context
from beamish.actors import current_values as current_values
from beamish.actors import run_asyncio as run_asyncio
from beamish.supervision import NoReply as NoReply
from beamish.supervision import Server as Server
from beamish.supervision import Stop as Stop

from ._app import App as App
from ._app import AppState as AppState
from ._availability import Unavailable as Unavailable
from ._kinds import register_kind as register_kind
from ._loader import load_directory as load_directory
from ._registry import Registry as Registry

__version__ = "0.1.0"

__all__ = [
    "CLOSED",
    "App",
    "AppState",
    "Call",
    "Channel",
    "Context",
    "Entry",
    "Error",
    "ErrorKind",
    "Event",
    "EventKind",
    "Future",
    "KindHandler",
    "LoadError",
    "Message",
    "NoReply",
    "Node",
    "Pid",
    "Process",
    "ProcessExit",
    "ProcessNotFound",
    "Registry",
    "Server",
    "Stop",
    "Timeout",
    "Unavailable",
    "current_context",
    "current_values",
    "load_directory",
    "register_kind",
    "run_asyncio",
]
