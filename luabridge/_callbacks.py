"""Python helpers that Lua module code calls directly, made to never raise.

Why: the ``time``, ``uuid``, ``json``, ``logger`` and ``registry`` modules call pure
Python helpers without a yield (they need no process, so no command goes through the
driver). A Python exception escaping such a call would reach the script as an object,
so every helper is wrapped by :func:`safe_callback`: an exception becomes whatever the
helper's ``on_error`` makes of it, usually ``nil, message``, which the Lua side turns
into its documented ``nil, err``. (The prelude's ``guard``, applied by
``_modules.guarded``, adds the heap-room and string checks of every call into Python.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["safe_callback"]


def safe_callback(fn: Callable[..., Any],
                  on_error: Callable[[Exception], Any]) -> Callable[..., Any]:
    """``fn`` as a callback for Lua: its result, or ``on_error(exc)`` if it raises any
    :class:`Exception` (``BaseException`` such as cancellation passes through)."""

    def wrapper(*args: Any) -> Any:
        try:
            return fn(*args)
        except Exception as exc:
            return on_error(exc)

    wrapper.__name__ = getattr(fn, "__name__", "callback")
    return wrapper
