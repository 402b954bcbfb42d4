"""The ``beamish`` command.

``beamish run DIR [--strict] [--source-root FOLDER]...``
    Load the app in DIR, start it (auto_start services in dependency order) and run
    until SIGINT or SIGTERM; then shut down gracefully (services stop in reverse order
    within their stop timeouts, then every process gets CANCEL "scheduler shutdown").
    A second signal forces an immediate exit. Exit code 0 when shutdown was clean,
    1 when something had to be forced or failed.

``beamish run DIR -x ns:entry [ARG...]``
    Run one function or process entry and print its result as JSON on stdout (exit 0).
    Each ARG is parsed as JSON where it parses, else taken as a string.

    What stdout gets is strict JSON (RFC 8259) or nothing at all:

    * tables/dicts become objects, lists/tuples/sets arrays; PIDs their string,
      errors ``{kind, message, retryable, details}``, dates ISO 8601 strings, bytes
      their UTF-8 text;
    * object keys must be strings or integers; integer keys become their decimal string
      (``{[1] = "a"}`` from Lua, ``{1: "a"}`` from Python print ``{"1": "a"}``). Any
      other key (boolean, float, tuple...) is an error, as are two keys that print
      the same (``1`` and ``"1"``);
    * NaN and +/-Infinity are errors (JSON has neither), and so is any value with no
      JSON form (a Python object, bytes that are not UTF-8, a cyclic structure).

    On any error (the entry failed, the result cannot be printed as JSON, anything
    unexpected) stdout stays empty, stderr gets one line ``error: <Kind>: <message>``
    naming the entry and what to do, and the exit code is 1. No Python traceback is
    printed; with ``BEAMISH_LOG_LEVEL=DEBUG`` it is logged after that line.

``--source-root FOLDER`` (repeatable)
    Allow ``source: file://...`` paths to point into FOLDER too. By default every file
    an entry loads must lie inside DIR after following symlinks (a path or link leading
    out of it is a load error): Lua scripts are untrusted code, and this keeps the YAML
    from pulling host files into the sandbox. ``App(DIR, source_roots=[...])`` is the
    same from Python.

Logs (Lua ``logger``, Python ``logging``) go to stderr at the level given by
``--log-level LEVEL`` or else ``BEAMISH_LOG_LEVEL`` (default INFO), one line each with
the Lua fields appended. Temporal's own log lines (its Rust core: poll errors,
connection retries, payload-size warnings) are forwarded to the logger
``beamish.temporal.core`` at that level; the embedded Temporal server writes to a log
file beside its database. stdout carries only the user's output.
``--log-format json`` (or ``BEAMISH_LOG_FORMAT=json``) writes one JSON object per line
instead: ``time``, ``level``, ``logger``, ``message`` and the record's structured fields
(a Lua logger's fields, or a crash or supervisor report's ``pid``, ``entry``, ``reason``
...). Crash reports (``beamish.crash``) are ERROR for a crash nobody watched, INFO for
one a monitor, link or caller was told of; supervisor reports (``beamish.supervisor``)
say which child was restarted, killed or made the supervisor give up.

Entries beamish cannot run (a kind it does not implement such as ``http.service``, a
Lua module it lacks, an import of a missing entry, a Lua syntax error, a bad field, or a
dependency on such an entry) are reported once at boot, one WARNING line each naming the
YAML file, the entry, the reason and what to do; the rest of the app loads and runs.
Using such an entry fails with that reason (kind ``NotFound``): ``funcs.call`` returns
``nil, err``, spawning it fails, and ``-x`` on it exits 1.

``--strict``
    Fail instead: the first entry that cannot be loaded is a load error and nothing
    starts. Also on when the environment has ``BEAMISH_STRICT=1`` or the app's root
    folder has a ``beamish.yaml`` saying ``strict: true``.

Load errors (malformed YAML, a duplicate entry ID, bad app settings, and in strict mode
any entry that cannot be loaded) are printed naming the file and entry, with exit code
2, before anything starts. Ctrl-C during ``-x`` exits with 130.
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import math
import os
import signal
import sys
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import trio

from beamish.actors import ClusterConfig, Error, ErrorKind, LoadError, Pid, as_error, list_nodes

from ._app import App

__all__ = ["main", "parse_arg", "to_json", "to_plain_json"]

log = logging.getLogger("beamish")

#: Deeper results than this are refused (they would overflow the encoder's stack).
_MAX_DEPTH = 200


def parse_arg(text: str) -> Any:
    """A CLI argument: JSON where it parses (``3``, ``"x"``, ``{"a":1}``), else the string."""
    try:
        return json.loads(text)
    except ValueError:
        return text


class _NotJSON(Exception):
    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path} {problem}")


def _key(path: str, key: Any) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, int) and not isinstance(key, bool):
        return str(key)
    shown = f" {key!r}" if isinstance(key, float | bool) or key is None else ""
    raise _NotJSON(
        path,
        f"has a {type(key).__name__} key{shown}: only string and integer keys can be "
        "printed (integer keys become strings); use string keys",
    )


def _plain(value: Any, path: str, active: set[int], depth: int) -> Any:
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            name = "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
            raise _NotJSON(
                path, f"is {name}: JSON has no NaN or Infinity; return null or a string instead"
            )
        return float(value)
    if depth > _MAX_DEPTH:
        raise _NotJSON(path, f"is nested deeper than {_MAX_DEPTH} levels")
    if isinstance(value, Pid):
        return str(value)
    if isinstance(value, bytes | bytearray):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise _NotJSON(
                path, "is binary data that is not UTF-8 text; encode it (e.g. base64) first"
            ) from None
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, Error):
        value = value.to_dict()
    is_map = isinstance(value, Mapping)
    if not is_map and not isinstance(value, list | tuple | set | frozenset):
        raise _NotJSON(
            path,
            f"is a {type(value).__module__}.{type(value).__qualname__}, which has no JSON "
            "form; return plain data (tables/dicts, lists, strings, numbers, booleans, nil)",
        )
    if id(value) in active:
        raise _NotJSON(path, "contains itself (a cycle); return a tree, not a graph")
    active.add(id(value))
    try:
        if not is_map:
            return [_plain(v, f"{path}[{i}]", active, depth + 1) for i, v in enumerate(value)]
        out: dict[str, Any] = {}
        for k, v in value.items():
            name = _key(path, k)
            if name in out:
                raise _NotJSON(path, f"has two keys that both print as {name!r}; keep one of them")
            out[name] = _plain(v, f"{path}.{name}", active, depth + 1)
        return out
    finally:
        active.discard(id(value))


def to_plain_json(value: Any) -> Any:
    """``value`` as plain JSON data (the rules in the module docstring).

    Raises :class:`Error` (kind INVALID) naming the path of the first part that has no
    JSON form (e.g. ``result.totals[2] is NaN: ...``).
    """
    try:
        return _plain(value, "result", set(), 0)
    except _NotJSON as exc:
        raise Error(str(exc), kind=ErrorKind.INVALID, retryable=False) from None


def to_json(value: Any) -> str:
    """``value`` as one line of strict JSON; raises :class:`Error` when it has no JSON form."""
    return json.dumps(to_plain_json(value), ensure_ascii=False, allow_nan=False)


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    """The structured fields of ``record``: a Lua logger call's, or a beamish report's."""
    return getattr(record, "lua_fields", None) or getattr(record, "beamish_fields", None) or {}


class _ConsoleFormatter(logging.Formatter):
    """``12:00:01 INFO  orders.intake  order o-1 priced {total=25.0}``: the message, then
    the structured fields a Lua ``logger:info(msg, fields)`` call attached."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = getattr(record, "lua_fields", None)
        if fields:
            line += "  " + " ".join(f"{k}={v}" for k, v in sorted(fields.items()))
        return line


class _JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, then its fields."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in _fields(record).items():
            out.setdefault(key, value)
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


#: The levels ``--log-level`` / ``BEAMISH_LOG_LEVEL`` accept.
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _log_level(value: str) -> str:
    """``--log-level`` values: a level name, any case (argparse type)."""
    level = value.strip().upper()
    if level == "WARN":
        level = "WARNING"
    if level not in _LOG_LEVELS:
        raise argparse.ArgumentTypeError(
            f"unknown log level {value!r}; use one of {', '.join(_LOG_LEVELS)}"
        )
    return level


def _configure_logging(level: str | None = None, fmt: str | None = None) -> None:
    """Log to stderr at ``level`` (else ``BEAMISH_LOG_LEVEL``, else INFO), as text or
    ``json`` (``fmt``, else ``BEAMISH_LOG_FORMAT``). Temporal core's own lines arrive on
    the ``beamish.temporal.core`` logger at that level too."""
    root = logging.getLogger()
    if root.handlers:  # configured by the embedding program
        return
    handler = logging.StreamHandler(sys.stderr)
    fmt = (fmt or os.environ.get("BEAMISH_LOG_FORMAT") or "text").strip().lower()
    if fmt == "json":
        handler.setFormatter(_JsonFormatter())
    else:
        if fmt != "text":
            print(f"beamish: log format {fmt!r} unknown; using text", file=sys.stderr)
        handler.setFormatter(
            _ConsoleFormatter("%(asctime)s %(levelname)-5s %(name)s  %(message)s", "%H:%M:%S")
        )
    root.addHandler(handler)
    if level is None:
        try:
            level = _log_level(os.environ.get("BEAMISH_LOG_LEVEL") or "INFO")
        except argparse.ArgumentTypeError as e:
            print(f"beamish: BEAMISH_LOG_LEVEL: {e}; using INFO", file=sys.stderr)
            level = "INFO"
    root.setLevel(level)
    for noisy in ("temporalio", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _one_line(text: str) -> str:
    return " | ".join(line.strip() for line in str(text).splitlines() if line.strip())


def _leaf(exc: BaseException) -> BaseException:
    """The one exception inside (nested) single-member exception groups."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def _print_error(exc: BaseException, context: str = "") -> None:
    """``error: <Kind>: <message>`` on one line; the traceback only at DEBUG level."""
    if log.isEnabledFor(logging.DEBUG):
        # Where it failed: the traceback the error captured (a Python or Lua stack), else
        # the exception's own.
        tb = exc.stack if isinstance(exc, Error) else None
        if not tb and exc.__traceback__ is not None:
            tb = "".join(traceback.format_exception(exc))
        log.debug("traceback of the error below:\n%s", (tb or "(none)").rstrip())
    err = as_error(exc)
    print(_one_line(f"error: {err.kind.value}: {context}{err.message}"), file=sys.stderr)


def _write_result(text: str) -> None:
    try:
        sys.stdout.write(text + "\n")
    except UnicodeEncodeError:  # a stdout that cannot encode the text: escape instead
        sys.stdout.write(json.dumps(json.loads(text), ensure_ascii=True) + "\n")
    sys.stdout.flush()


async def _exec(directory: str, entry_id: str, args: Sequence[str], app_kw: dict[str, Any]) -> int:
    async with App(directory, **app_kw) as app:
        with trio.CancelScope() as failed:  # a fatal app failure ends the run
            app.on_failure(lambda _error: failed.cancel())
            try:
                result = await app.run_entry(entry_id, [parse_arg(a) for a in args])
            except Exception as exc:
                _print_error(exc)
                return 1
        if failed.cancelled_caught and app.failure is not None:
            _print_error(app.failure, f"entry {entry_id!r} did not finish: ")
            return 1
    try:
        text = to_json(result)
    except Error as exc:
        _print_error(exc, f"entry {entry_id!r} returned a result that cannot be printed as JSON: ")
        return 1
    _write_result(text)
    return 0


async def _serve(directory: str, app_kw: dict[str, Any]) -> int:
    stop = trio.Event()
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        app = App(directory, **app_kw)
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
                    left_out = f", {len(app.unavailable)} unavailable" if app.unavailable else ""
                    where = f" as node {app.node.node_name}" if app.node.node_name else ""
                    pool = f", {len(app.pool.names)} worker nodes" if app.pool else ""
                    if app.worker_of is None:
                        print(
                            f"beamish: app {app.directory.name} running{where} "
                            f"({len(app.registry)} entries{left_out}{pool}); Ctrl-C to stop",
                            file=sys.stderr,
                            flush=True,
                        )
                    app.on_failure(lambda _error: stop.set())  # e.g. Temporal server lost
                    await stop.wait()
            except Error as exc:  # the app failed to start (e.g. a required service)
                _print_error(exc)
                nursery.cancel_scope.cancel()
                return 1
            nursery.cancel_scope.cancel()
    state = "clean" if app.clean else "forced"
    if app.failure is not None:
        state = f"failed: {_one_line(str(app.failure))}"
    if app.worker_of is None:
        print(f"beamish: stopped ({state})", file=sys.stderr, flush=True)
    return 0 if app.clean else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``beamish`` command with ``argv`` (default ``sys.argv[1:]``); the exit code."""
    parser = argparse.ArgumentParser(
        prog="beamish",
        description="Run beamish apps.",
        epilog="Details (what -x prints, --source-root): python -m pydoc beamish._cli",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser(
        "run",
        help="run an app directory",
        description="Run the app in DIRECTORY, or with -x one entry of it.",
        epilog="-x prints strict JSON on stdout: integer keys become strings; other "
        "non-string keys, NaN/Infinity and values with no JSON form are an error (exit 1, "
        "one line on stderr, nothing on stdout). Entries beamish cannot run (unsupported "
        "kinds or modules, missing imports, Lua syntax errors, and what depends on them) "
        "are reported once at boot and left out; using one fails with that reason.",
    )
    run.add_argument("directory", help="the app folder (YAML entries and code)")
    run.add_argument(
        "-x",
        "--exec",
        dest="entry",
        nargs="+",
        metavar=("ENTRY", "ARG"),
        help="run one entry (ns:name) with ARGs (JSON or strings), print its result as JSON, exit",
    )
    run.add_argument(
        "--source-root",
        dest="source_roots",
        action="append",
        default=[],
        metavar="FOLDER",
        help="also allow 'source: file://...' paths inside FOLDER (repeatable); by default "
        "sources must lie inside the app directory, symlinks followed",
    )
    run.add_argument(
        "--strict",
        action="store_true",
        help="fail the load (exit 2) on the first entry beamish cannot run, instead of "
        "reporting it and running the rest; also on with BEAMISH_STRICT=1 or 'strict: true' "
        "in DIR/beamish.yaml",
    )
    run.add_argument(
        "--log-level",
        dest="log_level",
        type=_log_level,
        default=None,
        metavar="LEVEL",
        help="log to stderr at LEVEL (DEBUG, INFO, WARNING, ERROR); default "
        "BEAMISH_LOG_LEVEL or INFO. Temporal's own log lines follow it too "
        "(logger beamish.temporal.core)",
    )
    run.add_argument(
        "--log-format",
        dest="log_format",
        choices=("text", "json"),
        default=None,
        help="text lines (default) or one JSON object per line with the structured "
        "fields; default BEAMISH_LOG_FORMAT or text",
    )
    worker = sub.add_parser(
        "worker",
        help="run as a worker node of a pool (started by 'beamish run')",
        description="Run the app in DIRECTORY as a worker node of main node MAIN: hosts, "
        "functions and process entries only; 'beamish run' starts these itself.",
    )
    worker.add_argument("directory")
    worker.add_argument("--main", required=True, help="the main node of the pool")
    for name in ("source_roots", "log_level", "log_format"):
        worker.set_defaults(**{name: None})
    worker.set_defaults(source_roots=[])
    worker.add_argument("--strict", action="store_true")
    nodes = sub.add_parser(
        "nodes",
        help="list the nodes of a cluster and their hosts",
        description="Print the nodes heard on the cluster's NATS server as JSON: "
        "name -> {hosts, pid}.",
    )
    nodes.add_argument("--cluster", required=True, metavar="URL", help="the NATS server")
    nodes.add_argument("--cluster-name", default="beamish", metavar="NAME")
    nodes.add_argument("--wait", type=float, default=None, metavar="SECONDS",
                       help="how long to listen for heartbeats (default 1.2)")
    for p in (run, worker):
        p.add_argument("--node", default=None, metavar="NAME",
                       help="this node's name in its cluster (PIDs read {NAME@host|id}); "
                       "default: beamish.yaml 'node', else HOSTNAME-PID in a cluster")
        p.add_argument("--cluster", default=None, metavar="URL",
                       help="join the cluster on this NATS server (nats://host:4222, "
                       "comma-separated for several; 'embedded' starts one); default: "
                       "beamish.yaml 'cluster', else none (or an embedded one for a pool)")
        p.add_argument("--cluster-name", default=None, metavar="NAME",
                       help="the cluster's name: nodes of other clusters on the same NATS "
                       "server are refused (default 'beamish')")
    run.add_argument("--workers", type=int, default=None, metavar="N",
                     help="start at most N worker nodes for hosts that ask for 'workers' "
                     "(1: run every host in this process); default BEAMISH_WORKERS, else "
                     "one per core")
    ns = parser.parse_args(argv)
    if ns.command == "nodes":
        return _nodes(ns)
    _configure_logging(ns.log_level, ns.log_format)
    # worker nodes a pool starts log as this process was told to
    if ns.log_level:
        os.environ["BEAMISH_LOG_LEVEL"] = ns.log_level
    if ns.log_format:
        os.environ["BEAMISH_LOG_FORMAT"] = ns.log_format
    app_kw: dict[str, Any] = {
        "source_roots": [str(Path(r)) for r in ns.source_roots],
        "strict": ns.strict,
        "node": ns.node,
        "cluster": _cluster_arg(ns.cluster, ns.cluster_name),
    }
    if ns.command == "worker":
        app_kw["worker_of"] = ns.main
    else:
        app_kw["workers"] = ns.workers
    try:
        if ns.command == "run" and ns.entry:
            return trio.run(_exec, ns.directory, ns.entry[0], ns.entry[1:], app_kw)
        # Signals that arrive once shutdown is over (while the interpreter exits) are
        # ignored: trio restores this disposition when its signal receiver closes.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        return trio.run(_serve, ns.directory, app_kw)
    except KeyboardInterrupt:
        print("beamish: interrupted", file=sys.stderr)
        return 130
    except BaseException as group:
        exc = _leaf(group)
        if isinstance(exc, LoadError):
            print(_one_line(f"error: {exc.message}"), file=sys.stderr)
            return 2
        if isinstance(exc, KeyboardInterrupt):
            print("beamish: interrupted", file=sys.stderr)
            return 130
        if not isinstance(exc, Exception):  # SystemExit and the like: not ours to handle
            raise
        _print_error(exc)
        return 1


def _cluster_arg(url: str | None, name: str | None) -> Any:
    if url is None and name is None:
        return None
    return ClusterConfig(url=url, cluster=name or "beamish")


def _nodes(ns: argparse.Namespace) -> int:
    import asyncio

    try:
        found = asyncio.run(list_nodes(_cluster_arg(ns.cluster, ns.cluster_name), ns.wait))
    except Exception as exc:
        _print_error(exc, f"cannot list the nodes on {ns.cluster}: ")
        return 1
    _write_result(json.dumps(found, indent=2))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
