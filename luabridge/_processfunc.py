"""Process entries callable as functions (Wippy's "process functions").

What it is for: in Wippy a ``process.lua`` entry whose metadata names a
``default_host`` (``meta.default_host``, or ``meta.options.default_host``) is also a
function under the same ID: ``funcs.call("ns:proc", ...)`` starts the process on that
host with the call's arguments as its spawn arguments, waits for it to exit and returns
its result; the process's error is the call's error. Entries without a ``default_host``
are not functions (calling them is ``NOT_FOUND``).

Contract of the function :func:`process_function` builds:

* returns the process's return value (converted like any function result);
* raises the process's :class:`~beamish.actors.Error` (its kind and message kept) when it
  fails, and what ``spawn`` raises when it cannot start (unknown host, limits);
* when the caller is cancelled (its own cancel, a ``timeout``, a cancelled future), the
  process gets a CANCEL event (``"caller context canceled"``), as in Wippy, and the call
  ends at once; the process then winds down on its own (cooperative cancel).

The process is started from the node (it is nobody's child, as in Wippy where a fresh
caller PID monitors it) and sees the caller's context values.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

import trio

from beamish.actors import Error, ErrorKind, Node, current_values

__all__ = ["default_host_of", "process_function"]

#: The reason of the CANCEL a process function gets when its caller is cancelled.
CANCEL_REASON = "caller context canceled"


def default_host_of(entry_id: str, meta: Mapping[str, Any]) -> str | None:
    """The ``default_host`` of a process entry's ``meta`` (``options.default_host``
    first, then ``default_host``), resolved in the entry's namespace; ``None`` if unset
    or not a non-empty string."""
    options = meta.get("options")
    host = options.get("default_host") if isinstance(options, Mapping) else None
    if not isinstance(host, str) or not host:
        host = meta.get("default_host")
    if not isinstance(host, str) or not host:
        return None
    if ":" not in host and ":" in entry_id:
        host = f"{entry_id.rsplit(':', 1)[0]}:{host}"
    return host


def process_function(
    node: Node, entry_id: str, host: str
) -> Callable[..., Coroutine[Any, Any, Any]]:
    """``async def fn(*args)``: run process entry ``entry_id`` on ``host`` with ``args``
    and return its result (see the module docstring). Holds ``node`` weakly."""
    node_ref = weakref.ref(node)

    async def lua_process_function(*args: Any) -> Any:
        node = node_ref()
        if node is None:
            raise Error(f"cannot call process {entry_id!r}: its node is gone",
                        kind=ErrorKind.UNAVAILABLE)
        values = dict(current_values())
        pid = node.spawn(entry_id, *args, host=host, context=values or None)
        try:
            value, error = await node.wait(pid)
        except trio.Cancelled:
            if node.is_alive(pid):
                try:
                    node.cancel(pid, CANCEL_REASON)
                except Error:
                    pass  # mailbox full or gone: it is ending anyway
            raise
        if error is not None:
            raise error
        return value

    lua_process_function.__qualname__ = f"lua_process_function[{entry_id}]"
    return lua_process_function
