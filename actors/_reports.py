"""Crash reports: a process's abnormal exit, told to the operator through ``logging``.

OTP's SASL writes a *crash report* whenever a process dies abnormally, whoever else
learns of it; without one, a crash nobody monitors is invisible. beamish does the same
on the logger ``beamish.crash``, with levels chosen so a healthy app stays quiet:

* ERROR — a crash no one observes (no monitor, link, ``exec`` or ``ask`` waiting);
* INFO — a crash someone observes (they were told; the report is for the record);
* DEBUG — a process stopped by ``terminate`` or by a linked process's failure (the
  cause has its own report or was a deliberate act).

Each record carries structured fields in ``record.beamish_fields`` (``pid``,
``entry``, ``parent``, ``kind``, ``reason``) for JSON handlers, and the message ends
with the traceback of the user's code: the runtime's own frames before the first user
frame are cut, so the report starts where the body was entered.

Supervisors add their own reports (restarts, escalations, forced kills) on
``beamish.supervisor``; see ``beamish.supervision``.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from ._errors import Error
from ._pid import Pid

__all__ = ["crash_report", "supervisor_report", "user_stack"]

log = logging.getLogger("beamish.crash")
supervisor_log = logging.getLogger("beamish.supervisor")

def _runtime_dirs() -> tuple[str, ...]:
    """The folders of beamish's own code: frames there are the runtime's. Installed,
    the layers sit inside ``beamish/``; from a source checkout, beside it."""
    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    layers = ("actors", "supervision", "luabridge", "durable", "beamish")
    dirs = [os.path.join(top, name) + os.sep for name in layers]
    if os.path.basename(top) == "beamish":  # installed: top is the package itself
        dirs.append(top + os.sep)
    return tuple(dirs)


_RUNTIME_DIRS = _runtime_dirs()


def user_stack(error: Error) -> str | None:
    """``error``'s stack without the runtime's frames that precede the user's code."""
    stack = error.stack
    if not stack or not error.has_host_stack:
        return stack
    lines = stack.splitlines(keepends=True)
    for i, line in enumerate(lines):
        stripped = line.lstrip()
        if stripped.startswith('File "'):
            path = stripped[6 : stripped.find('"', 6)]
            if not path.startswith(_RUNTIME_DIRS):
                return "".join(lines[i:])
    return stack


def crash_report(
    pid: Pid, entry_id: str | None, parent: Pid | None, error: Error, observed: bool
) -> None:
    """Log the abnormal exit of ``pid`` with ``error`` (see the module docstring)."""
    details = error.details
    reason = details.get("reason") if isinstance(details, dict) else None
    if reason in ("terminated", "link_failed"):
        level = logging.DEBUG
    else:
        level = logging.INFO if observed else logging.ERROR
    if not log.isEnabledFor(level):
        return
    fields: dict[str, Any] = {
        "pid": str(pid),
        "entry": entry_id,
        "parent": str(parent) if parent is not None else None,
        "kind": error.kind.value,
        "reason": error.message,
    }
    stack = user_stack(error)
    log.log(
        level,
        "crash report: process %s%s exited with %s: %s%s",
        pid,
        f" ({entry_id})" if entry_id else "",
        error.kind.value,
        error.message,
        "\n" + stack.rstrip() if stack else "",
        extra={"beamish_fields": fields},
    )


def supervisor_report(level: int, msg: str, args: tuple[Any, ...], **fields: Any) -> None:
    """Log a supervisor's decision (restart, escalation, kill) on ``beamish.supervisor``,
    ``fields`` (PIDs as strings) in ``record.beamish_fields``."""
    if supervisor_log.isEnabledFor(level):
        plain = {k: str(v) if isinstance(v, Pid) else v for k, v in fields.items()}
        supervisor_log.log(level, msg, *args, extra={"beamish_fields": plain})
