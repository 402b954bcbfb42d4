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
"""

from __future__ import annotations

import gc
import json
import sys
import traceback
from typing import Any

from ._harness import RESULT_MARKER, Skip


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
    if isinstance(value, dict):
        return {"value": float(value.pop("value")), "extra": value}
    return {"value": float(value)}


def main(argv: list[str]) -> int:
    module_name, scenario_name, impl, params_json = argv
    result = run(module_name, scenario_name, impl, json.loads(params_json))
    sys.stdout.write(RESULT_MARKER + json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
