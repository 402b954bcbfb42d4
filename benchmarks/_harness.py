"""Scenario declarations, discovery and the interleaved, one-interpreter-per-sample runner.

A :class:`Scenario` names one measured operation (ping-pong round trip, spawn, ...), its
unit (always *lower is better*: time per operation or bytes per process), the
parameters of a full and a ``--quick`` run, and its implementations. An implementation
is a plain synchronous function ``impl(**params) -> float`` that builds what it needs,
times only the hot part and returns the figure in the scenario's unit. It raises
:class:`Skip` when it cannot run here (a layer of beamish not landed yet, a peer not
installed): the suite then shows the reason instead of a number and lights up by
itself once the import works.

The runner (:func:`run_suite`) takes, for each repetition, every implementation of a
scenario in a rotated order (so none always runs first or last), each in a fresh
interpreter (``python -m benchmarks._worker``) with a time limit, and keeps every
sample. :func:`summarize` turns samples into median, min and max and the ratios
``beamish / other``; :class:`Target` checks the goals of issues 2, 3 and 5 against them.

Peers too slow for the full size (a thread or an OS process per actor) get smaller
parameters through ``Scenario.overrides`` and, where their figure is stable anyway, fewer
samples through ``Scenario.rep_caps``; every figure is per operation, so sizes stay
comparable, and the report marks such rows with the size used. The time budget: a full
run in about five minutes on two cores, ``--quick`` under one; every sample records its
wall time (``walls`` in the JSON) so the budget can be checked per row.

Invariants: a worker prints exactly one ``BENCH-RESULT`` line; after every sample the
worker's process group (it is started in a new session, so the group is ours alone)
and any daemonized fork of it (same command line, see :func:`_kill_strays`) are
killed, so Thespian's actor processes never outlive a sample.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import pkgutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "IMPL_LABELS",
    "REPO_ROOT",
    "RESULT_MARKER",
    "Scenario",
    "Skip",
    "Target",
    "discover",
    "load_module_scenarios",
    "params_for",
    "run_one",
    "run_suite",
    "summarize",
]

#: The repository root: the worker runs with it as working directory and on sys.path.
REPO_ROOT: Path = Path(__file__).resolve().parent.parent

#: Prefix of the one line a worker prints with its JSON result.
RESULT_MARKER = "BENCH-RESULT "

#: Display names, in display order; unknown names are shown as they are.
IMPL_LABELS: dict[str, str] = {
    "beamish": "beamish",
    "floor": "raw trio floor (deque mailbox)",
    "direct": "direct Python call",
    "direct_async": "direct await of a coroutine",
    "trio_channels": "trio memory channels",
    "asyncio": "asyncio",
    "pykka": "Pykka (thread per actor)",
    "thespian_simple": "Thespian simpleSystemBase",
    "thespian_mp": "Thespian multiprocQueueBase",
    "triotp": "triotp",
    "beamish_timeout": "beamish, call(timeout=5)",
    "beamish_lua": "beamish (Lua)",
    "python": "beamish (Python)",
    "lua_to_python": "beamish, Lua -> Python function",
    "python_to_lua": "beamish, Python -> Lua function",
    "temporalio": "temporalio (default sandbox)",
    "temporalio_unsandboxed": "temporalio (sandboxed=False)",
}


class Skip(Exception):
    """Raised by an implementation that cannot run here; the message says why."""


@dataclasses.dataclass(frozen=True)
class Target:
    """A goal to report, about the ``subject`` row (``beamish`` unless said otherwise):
    ``subject / against <= value`` (``max_ratio``), ``against / subject >= value``
    (``min_speedup``) or ``subject <= value`` (``max_value``).

    ``subject`` names another implementation when a scenario has two beamish rows that
    the issues both give a goal (the Lua and the Python workflow, say)."""

    label: str
    kind: str
    value: float
    against: str | None = None
    subject: str = "beamish"

    def evaluate(self, medians: Mapping[str, float]) -> tuple[float | None, bool | None]:
        """Return (measured figure, met?) or (None, None) when a median is missing."""
        if self.kind not in ("max_value", "max_ratio", "min_speedup"):
            raise ValueError(f"target {self.label!r}: unknown kind {self.kind!r}")
        mine = medians.get(self.subject)
        if mine is None:
            return None, None
        if self.kind == "max_value":
            return mine, mine <= self.value
        other = medians.get(self.against or "")
        if other is None or other <= 0 or mine <= 0:
            return None, None
        if self.kind == "max_ratio":
            ratio = mine / other
            return ratio, ratio <= self.value
        speedup = other / mine
        return speedup, speedup >= self.value


@dataclasses.dataclass(frozen=True)
class Scenario:
    """One measured operation and its implementations.

    name: short id (``pingpong``), used on the command line and in JSON.
    title: what a reader sees in the table.
    unit: the unit of every figure (lower is better), e.g. ``"µs/round trip"``.
    implementations: name -> ``impl(**params) -> float``.
    params / quick_params: keyword arguments of a full / ``--quick`` run.
    overrides: name -> caps on the params for slow peers (applied as ``min``).
    reps / quick_reps: samples per implementation (``None``: the run's default).
    rep_caps: name -> at most this many samples of that implementation in a full run
        (slow peers whose figure is already stable; fewer samples, same interleaving).
    targets: goals reported under the table.
    timeout: seconds one sample may take before its worker is killed.
    module: the defining module (set by discovery; the worker imports it).
    """

    name: str
    title: str
    unit: str
    implementations: Mapping[str, Callable[..., float]]
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    quick_params: Mapping[str, Any] | None = None
    overrides: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)
    reps: int | None = None
    quick_reps: int | None = None
    rep_caps: Mapping[str, int] = dataclasses.field(default_factory=dict)
    targets: Sequence[Target] = ()
    timeout: float = 120.0
    note: str = ""
    module: str = ""


def params_for(scenario: Scenario, impl: str, *, quick: bool) -> dict[str, Any]:
    """The keyword arguments one sample of ``impl`` runs with."""
    base = dict(scenario.quick_params if quick and scenario.quick_params else scenario.params)
    for key, cap in scenario.overrides.get(impl, {}).items():
        current = base.get(key)
        if isinstance(current, int | float) and isinstance(cap, int | float):
            base[key] = min(current, cap)
        else:
            base[key] = cap
    return base


# -- discovery --------------------------------------------------------------------------


def load_module_scenarios(module_name: str) -> list[Scenario]:
    """The ``SCENARIOS`` of one module, each stamped with the module's name."""
    module = importlib.import_module(module_name)
    return [dataclasses.replace(s, module=module_name) for s in module.SCENARIOS]


def discover(package: str = "benchmarks") -> list[Scenario]:
    """Every scenario of every ``bench_*.py`` module of ``package``, in table order.

    A module that fails to import is reported on stderr and left out; implementations
    import their libraries lazily, so a missing layer normally shows as a skip instead.
    """
    pkg = importlib.import_module(package)
    found: list[Scenario] = []
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
        if info.name.startswith("bench_"):
            try:
                found.extend(load_module_scenarios(f"{package}.{info.name}"))
            except Exception as exc:  # one broken file must not sink the suite
                print(
                    f"warning: {package}.{info.name} not loaded: {type(exc).__name__}: {exc}",
                    file=sys.stderr,
                )
    order = {name: i for i, name in enumerate(SCENARIO_ORDER)}
    found.sort(key=lambda s: order.get(s.name, len(order)))
    return found


#: The order of the table (discovery order otherwise).
SCENARIO_ORDER = (
    "pingpong",
    "throughput",
    "call",
    "request_reply",
    "fanout",
    "ring",
    "spawn",
    "memory",
    "supervisor_restart",
    "lua_pingpong",
    "lua_spawn",
    "lua_memory",
    "lua_call",
    "workflow_latency",
    "workflow_throughput",
    "cluster_pingpong",
    "cluster_oneway",
    "pool_throughput",
)


# -- running ----------------------------------------------------------------------------


def run_one(
    scenario: Scenario, impl: str, params: Mapping[str, Any], *, timeout: float | None = None
) -> dict[str, Any]:
    """Run one sample of ``impl`` in a fresh interpreter.

    Returns ``{"value": float}``, ``{"skip": reason}`` or ``{"error": message}``, each
    with ``"wall"``: the seconds the worker took, start-up included.
    """
    limit = scenario.timeout if timeout is None else timeout
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p
    )
    env.setdefault("PYTHONHASHSEED", "0")
    cmd = [
        sys.executable,
        "-m",
        "benchmarks._worker",
        scenario.module,
        scenario.name,
        impl,
        json.dumps(dict(params)),
    ]
    start = time.perf_counter()
    started_at = time.time()
    proc = subprocess.Popen(
        cmd,
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        out, err = proc.communicate()
        return {"error": f"timed out after {limit:g}s", "wall": time.perf_counter() - start}
    finally:
        if proc.poll() is None:  # interrupted (Ctrl-C): leave nothing behind
            _kill_group(proc)
        _kill_strays(cmd, started_at)
    wall = time.perf_counter() - start
    _kill_group(proc)
    for line in reversed(out.splitlines()):
        if line.startswith(RESULT_MARKER):
            result = json.loads(line[len(RESULT_MARKER) :])
            result["wall"] = wall
            return result
    tail = (err or out).strip().splitlines()[-3:]
    return {
        "error": f"worker exited with {proc.returncode}: " + " | ".join(tail),
        "wall": wall,
    }


def _kill_strays(cmd: Sequence[str], since: float) -> None:
    """Kill forks of a finished worker that outlived it.

    Thespian's multiproc admin daemonizes (``setsid`` + double fork), so its actor
    processes leave the worker's process group; being forks, they keep the worker's
    command line, which is unique to this sample (it holds the parameters).
    """
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil is in the bench extra
        return
    for p in psutil.process_iter(["cmdline", "create_time"]):
        info = p.info
        if info["cmdline"] == list(cmd) and (info["create_time"] or 0) >= since - 1:
            try:
                p.kill()
            except psutil.Error:
                pass


def _kill_group(proc: subprocess.Popen[str]) -> None:
    """Kill the worker's own process group (it leads a session we created)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def run_suite(
    scenarios: Iterable[Scenario],
    *,
    quick: bool = False,
    reps: int | None = None,
    impls: Sequence[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run every scenario, interleaving implementations across repetitions.

    ``reps`` overrides every scenario's repetitions (``Scenario.rep_caps`` still apply in
    a full run); ``impls`` keeps only those names (``beamish`` is always kept when
    present, so ratios exist). Returns the JSON-ready
    results (see :func:`summarize` for the per-scenario shape).
    """
    say = progress or (lambda _msg: None)
    started = time.time()
    out: list[dict[str, Any]] = []
    for scenario in scenarios:
        names = [
            n
            for n in scenario.implementations
            if impls is None or n in impls or n == "beamish"
        ]
        n_reps = reps or (
            (scenario.quick_reps or 1) if quick else (scenario.reps or DEFAULT_REPS)
        )
        samples: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
        finished: set[str] = set()  # skipped: asking again would say the same
        for rep in range(n_reps):
            shift = rep % len(names) if names else 0
            for name in names[shift:] + names[:shift]:
                if name in finished:
                    continue
                if not quick and len(samples[name]) >= scenario.rep_caps.get(name, n_reps):
                    continue
                params = params_for(scenario, name, quick=quick)
                result = run_one(scenario, name, params)
                result["params"] = params
                samples[name].append(result)
                if "skip" in result:
                    finished.add(name)
                say(_progress_line(scenario, name, rep, n_reps, result))
        out.append(summarize(scenario, samples, quick=quick))
    return {
        "started": started,
        "duration_s": time.time() - started,
        "quick": quick,
        "scenarios": out,
    }


#: Samples per implementation in a full run, unless a scenario says otherwise.
DEFAULT_REPS = 5


def _progress_line(
    scenario: Scenario, name: str, rep: int, n_reps: int, result: Mapping[str, Any]
) -> str:
    if "value" in result:
        what = f"{result['value']:.4g} {scenario.unit}"
    elif "skip" in result:
        what = f"skipped: {result['skip']}"
    else:
        what = f"ERROR: {result['error']}"
    return f"  {scenario.name:<18} {name:<16} {rep + 1}/{n_reps}  {what}  ({result['wall']:.1f}s)"


def _median_extra(runs: Sequence[Mapping[str, Any]]) -> Any:
    """The ``extra`` of the sample whose value is the median (the lower middle one for
    an even count), so the notes describe the same sample as the median."""
    with_extra = sorted((r for r in runs if "value" in r and r.get("extra")),
                        key=lambda r: r["value"])
    return with_extra[(len(with_extra) - 1) // 2]["extra"] if with_extra else None


def summarize(
    scenario: Scenario, samples: Mapping[str, Sequence[Mapping[str, Any]]], *, quick: bool
) -> dict[str, Any]:
    """Median, min, max per implementation, the ratios and the targets of one scenario."""
    results: dict[str, dict[str, Any]] = {}
    medians: dict[str, float] = {}
    for name, runs in samples.items():
        values = [r["value"] for r in runs if "value" in r]
        entry: dict[str, Any] = {
            "label": IMPL_LABELS.get(name, name),
            "samples": values,
            "walls": [round(r["wall"], 2) for r in runs if "wall" in r],
            "params": params_for(scenario, name, quick=quick),
            "scaled_down": params_for(scenario, name, quick=quick)
            != params_for(scenario, "beamish", quick=quick),
            "skipped": next((r["skip"] for r in runs if "skip" in r), None),
            "errors": [r["error"] for r in runs if "error" in r],
            "extra": _median_extra(runs),
        }
        if values:
            entry["median"] = statistics.median(values)
            entry["min"] = min(values)
            entry["max"] = max(values)
            medians[name] = entry["median"]
        results[name] = entry
    mine = medians.get("beamish")
    ratios = {
        name: (mine / m if mine is not None and m > 0 else None)
        for name, m in medians.items()
        if name != "beamish"
    }
    targets = []
    for target in scenario.targets:
        measured, met = target.evaluate(medians)
        targets.append(
            {"label": target.label, "kind": target.kind, "value": target.value,
             "subject": target.subject, "against": target.against,
             "measured": measured, "met": met}
        )
    return {
        "name": scenario.name,
        "title": scenario.title,
        "unit": scenario.unit,
        "note": scenario.note,
        "params": params_for(scenario, "beamish", quick=quick),
        "results": results,
        "ratios": ratios,
        "targets": targets,
    }
