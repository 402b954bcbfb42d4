"""The ``beamish`` command.

``beamish run DIR``
    Load the app in DIR, start it (auto_start services in dependency order) and run
    until SIGINT or SIGTERM; then shut down gracefully (services stop in reverse order
    within their stop timeouts, then every process gets CANCEL "scheduler shutdown").
    A second signal forces an immediate exit. Exit code 0 when shutdown was clean,
    1 when something had to be forced or failed.

``beamish run DIR -x ns:entry [ARG...]``
    Run one function or process entry and print its result as JSON on stdout (exit 0);
    on error print ``error: <Kind>: <message>`` on stderr (exit 1). Each ARG is parsed as
    JSON where it parses, else taken as a string.

Logs (Lua ``logger``, Python ``logging``) go to stderr at the level in
``BEAMISH_LOG_LEVEL`` (default INFO), one line each with the Lua fields appended.

Load errors (malformed YAML, unknown kinds, bad handlers, Lua syntax errors) are
printed naming the file and entry, with exit code 2, before anything starts.
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any

import trio

from beamish.actors import Error, LoadError, Pid, as_error

from ._app import App

__all__ = ["main", "parse_arg", "to_json"]


def parse_arg(text: str) -> Any:
    """A CLI argument: JSON where it parses (``3``, ``"x"``, ``{"a":1}``), else the string."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _default(obj: Any) -> Any:
    if isinstance(obj, Pid):
        return str(obj)
    if isinstance(obj, Error):
        return obj.to_dict()
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    if isinstance(obj, bytes):
        return obj.decode("utf-8", "replace")
    if isinstance(obj, (datetime.datetime, datetime.date)):
        return obj.isoformat()
    return repr(obj)


def to_json(value: Any) -> str:
    return json.dumps(value, default=_default, ensure_ascii=False)


class _ConsoleFormatter(logging.Formatter):
    """``12:00:01 INFO  orders.intake  order o-1 priced {total=25.0}``: the message, then
    the structured fields a Lua ``logger:info(msg, fields)`` call attached."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = getattr(record, "lua_fields", None)
        if fields:
            line += "  " + " ".join(f"{k}={v}" for k, v in sorted(fields.items()))
        return line


def _configure_logging() -> None:
    root = logging.getLogger()
    if root.handlers:  # configured by the embedding program
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        _ConsoleFormatter("%(asctime)s %(levelname)-5s %(name)s  %(message)s", "%H:%M:%S")
    )
    root.addHandler(handler)
    root.setLevel(os.environ.get("BEAMISH_LOG_LEVEL", "INFO").upper())
    for noisy in ("temporalio", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _print_error(exc: BaseException) -> None:
    err = as_error(exc)
    print(f"error: {err.kind.value}: {err.message}", file=sys.stderr)


async def _exec(directory: str, entry_id: str, args: Sequence[str]) -> int:
    async with App(directory) as app:
        try:
            result = await app.run_entry(entry_id, [parse_arg(a) for a in args])
        except Exception as exc:
            _print_error(exc)
            return 1
    print(to_json(result))
    return 0


async def _serve(directory: str) -> int:
    stop = trio.Event()
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        app = App(directory)
        async with trio.open_nursery() as nursery:

            async def watch_signals() -> None:
                async for signum in signals:
                    if not stop.is_set():
                        print(
                            f"beamish: {signal.Signals(signum).name}, shutting down "
                            "(signal again to force)",
                            file=sys.stderr,
                            flush=True,
                        )
                        stop.set()
                    else:
                        print("beamish: forced exit", file=sys.stderr, flush=True)
                        os._exit(130)

            nursery.start_soon(watch_signals)
            try:
                async with app:
                    print(
                        f"beamish: app {app.directory.name} running "
                        f"({len(app.registry)} entries); Ctrl-C to stop",
                        file=sys.stderr,
                        flush=True,
                    )
                    await stop.wait()
            except Error as exc:  # the app failed to start (e.g. a required service)
                _print_error(exc)
                nursery.cancel_scope.cancel()
                return 1
            nursery.cancel_scope.cancel()
    state = "clean" if app.clean else "forced"
    print(f"beamish: stopped ({state})", file=sys.stderr, flush=True)
    return 0 if app.clean else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="beamish", description="Run beamish apps.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run an app directory")
    run.add_argument("directory", help="the app folder (YAML entries and code)")
    run.add_argument(
        "-x",
        "--exec",
        dest="entry",
        nargs="+",
        metavar=("ENTRY", "ARG"),
        help="run one entry (ns:name) with ARGs (JSON or strings), print its result, exit",
    )
    ns = parser.parse_args(argv)
    _configure_logging()
    try:
        if ns.entry:
            return trio.run(_exec, ns.directory, ns.entry[0], ns.entry[1:])
        # Signals that arrive once shutdown is over (while the interpreter exits) are
        # ignored: trio restores this disposition when its signal receiver closes.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        return trio.run(_serve, ns.directory)
    except LoadError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    except Error as exc:
        _print_error(exc)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
