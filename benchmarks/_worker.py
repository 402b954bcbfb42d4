"""The child side of the harness: run one implementation once, print one result line.

``python -m benchmarks._worker MODULE SCENARIO IMPL PARAMS_JSON`` imports ``MODULE``,
finds ``SCENARIO`` in its ``SCENARIOS``, calls the implementation with the parameters
and prints ``BENCH-RESULT {json}`` on stdout: ``{"value": x}`` (plus ``"extra"`` when the
implementation returned a dict), ``{"skip": reason}`` or ``{"error": message}``.

Why a separate interpreter per sample: see the package docstring. Anything else the
implementation or a library prints is ignored; the runner reads only the marked line.
An ImportError counts as a skip (a beamish layer that has not landed yet, or a peer that
is not installed), with the import message as the reason, so the table says what is
missing rather than failing.

:func:`finish_now` lets an implementation end the sample as soon as it has its figure:
the result line is printed and the interpreter ends with ``os._exit``, skipping the
tear-down of what it built (100,000 idle processes take longer to cancel than to
spawn, and that time is measured nowhere). Only for in-process work (tasks, objects):
never with threads or OS processes that must be shut down (Pykka, Thespian). Outside
a worker (a test calling an implementation directly) it returns the value unchanged.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import traceback
from typing import Any

from ._harness import RESULT_MARKER, Skip

#: True in the interpreter that ``python -m benchmarks._worker`` started.
_in_worker = False


def _as_result(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        value = dict(value)
        return {"value": float(value.pop("value")), "extra": value}
    return {"value": float(value)}


def _emit(result: dict[str, Any]) -> None:
    sys.stdout.write(RESULT_MARKER + json.dumps(result) + "\n")
    sys.stdout.flush()


def finish_now(value: Any) -> Any:
    """In a worker: print ``value`` as the sample's result and end the interpreter now,
    without tear-down. Elsewhere: return ``value`` (the caller tears down as usual)."""
    if not _in_worker:
        return value
    _emit(_as_result(value))
    sys.stderr.flush()
    os._exit(0)


def run(module_name: str, scenario_name: str, impl: str, params: dict[str, Any]) -> dict:
    import importlib

    module = importlib.import_module(module_name)
    scenario = next(s for s in module.SCENARIOS if s.name == scenario_name)
    func = scenario.implementations[impl]
    gc.collect()
    try:
        value = func(**params)
    except Skip as exc:
        return {"skip": str(exc)}
    except ImportError as exc:
        return {"skip": f"import failed: {exc}"}
    except Exception as exc:  # reported in the table, with the traceback on stderr
        traceback.print_exc()
        return {"error": f"{type(exc).__name__}: {exc}"}
    return _as_result(value)


def main(argv: list[str]) -> int:
    import importlib

    # Under ``-m`` this file runs as ``__main__``; implementations import it by name.
    importlib.import_module(__spec__.name if __spec__ else "benchmarks._worker")._in_worker = True
    module_name, scenario_name, impl, params_json = argv
    _emit(run(module_name, scenario_name, impl, json.loads(params_json)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
