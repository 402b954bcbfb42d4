"""Temporal's core logs: through Python ``logging``, never onto the user's stdout.

What it is for
    The temporalio SDK runs a Rust core (``temporalio_sdk_core``, ``temporalio_client``)
    whose default runtime prints its ``WARN`` lines (poll errors, connection retries, the
    ``TMPRL1103`` payload-size warning) straight to the process's stdout. stdout belongs
    to the user: ``beamish run DIR -x ns:entry`` must print its JSON result and nothing
    else. :func:`core_runtime` builds the one temporalio ``Runtime`` beamish uses, whose
    telemetry forwards every core log record to the Python logger :data:`CORE_LOGGER`
    (``beamish.temporal.core``); beamish's logging handlers write to stderr.

Design chosen
    * One runtime per process (each ``Runtime`` owns a thread pool), created lazily on
      first use, under a lock (clients connect from several bridge threads).
    * The core filters records before they cross into Python, so its level is fixed when
      the runtime is made: the effective level of :data:`CORE_LOGGER` at that moment
      (``BEAMISH_LOG_LEVEL`` / ``--log-level``), never finer than ``DEBUG`` (``TRACE``
      would flood Python); the core's dependencies (gRPC, HTTP/2) at ``WARN`` at most.
      Records below the logger's level are dropped by ``logging``.
    * The runtime is also installed as temporalio's default, so a client or worker made
      without an explicit runtime (a test, a tool) does not print to stdout either.

Threads: :func:`core_runtime` is safe from any thread. Not workflow code.
"""

from __future__ import annotations

import logging
import threading

import temporalio.runtime

__all__ = ["CORE_LOGGER", "core_level", "core_runtime"]

#: The Python logger that receives Temporal core's log records.
CORE_LOGGER = "beamish.temporal.core"

_lock = threading.Lock()
_runtime: temporalio.runtime.Runtime | None = None


def core_level(level: int) -> str:
    """The core filter name for a Python logging ``level``: ``DEBUG``, ``INFO``,
    ``WARN`` or ``ERROR`` (levels below DEBUG map to DEBUG, above ERROR to ERROR)."""
    if level <= logging.DEBUG:
        return "DEBUG"
    if level <= logging.INFO:
        return "INFO"
    if level <= logging.WARNING:
        return "WARN"
    return "ERROR"


def core_runtime() -> temporalio.runtime.Runtime:
    """The process's temporalio ``Runtime``, forwarding core logs to :data:`CORE_LOGGER`.

    Returns the same runtime on every call; the first call creates it (filtering the core
    at the logger's effective level then) and makes it temporalio's default runtime.
    Pass it as ``runtime=`` to every ``Client.connect``; workers use their client's.
    """
    global _runtime
    with _lock:
        if _runtime is None:
            logger = logging.getLogger(CORE_LOGGER)
            level = core_level(logger.getEffectiveLevel())
            telemetry = temporalio.runtime.TelemetryConfig(
                logging=temporalio.runtime.LoggingConfig(
                    filter=temporalio.runtime.TelemetryFilter(
                        core_level=level,
                        # other crates (gRPC, HTTP/2) are chatty below WARN
                        other_level=level if level in ("WARN", "ERROR") else "WARN",
                    ),
                    forwarding=temporalio.runtime.LogForwardingConfig(
                        logger=logger, append_target_to_name=False
                    ),
                )
            )
            _runtime = temporalio.runtime.Runtime(telemetry=telemetry)
            temporalio.runtime.Runtime.set_default(_runtime, error_if_already_set=False)
        return _runtime
