"""Reports of a suite run: the console table, JSON, the PNG chart and BENCHMARKS.md.

All functions take the JSON-ready dict that :func:`benchmarks._harness.run_suite`
returns (plus ``"machine"`` from :func:`machine_info`), so a report can be rebuilt from
``benchmarks/results/latest.json`` without measuring again (``--from-json``).

The table has one block per scenario and one row per implementation: median, min–max
over the samples, the number of samples, and ``beamish ÷ this``. Every unit is "lower is
better", so a ratio below 1 means beamish is faster (or smaller) than that row; the
``floor`` row's ratio is the price of beamish's features over the bare mechanism.
The targets the issues name (issues 2, 3 and 5) follow each block, marked met / MISSED
/ n/a, and are gathered again in one list (:func:`target_summary`) at the end of the
console output and near the top of BENCHMARKS.md.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import platform
import subprocess
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from ._harness import IMPL_LABELS, REPO_ROOT

__all__ = [
    "console_table",
    "machine_info",
    "markdown_report",
    "target_summary",
    "write_chart",
    "write_json",
]

PEER_PACKAGES = ("trio", "pykka", "thespian", "triotp", "matplotlib", "psutil", "beamish")


def machine_info() -> dict[str, Any]:
    """CPU model, cores, memory, OS, Python and package versions, git commit."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    info: dict[str, Any] = {
        "cpu": cpu,
        "logical_cores": os.cpu_count(),
        "os": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "packages": {},
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
    try:
        import psutil

        info["physical_cores"] = psutil.cpu_count(logical=False)
        info["memory_gib"] = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:  # pragma: no cover - psutil is in the bench extra
        pass
    for pkg in PEER_PACKAGES:
        try:
            info["packages"][pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            info["packages"][pkg] = None
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO_ROOT, capture_output=True, text=True, timeout=5, check=False,
        )
        if out.returncode == 0:
            info["commit"] = out.stdout.strip()
    return info


# -- numbers ------------------------------------------------------------------------------


def fmt(value: float | None) -> str:
    """Three significant digits, thousands separated; '—' for None."""
    if value is None:
        return "—"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def fmt_ratio(ratio: float | None) -> str:
    if ratio is None:
        return "—"
    if ratio < 0.1:  # two significant digits, not "0.00×"
        return f"{ratio:.2g}×"
    return f"{ratio:.2f}×" if ratio < 10 else f"{ratio:.1f}×" if ratio < 100 else f"{ratio:.0f}×"


def _rows(scenario: Mapping[str, Any]) -> list[list[str]]:
    """Table rows of one scenario: impl, median, min–max, n, beamish ÷ this, note."""
    rows = []
    base_params = scenario.get("params", {})
    for name, r in scenario["results"].items():
        if "median" in r:
            median = fmt(r["median"])
            spread = f"{fmt(r['min'])}–{fmt(r['max'])}"
        else:
            median, spread = "—", ""
        ratio = "" if name == "beamish" else fmt_ratio(scenario["ratios"].get(name))
        notes = []
        if r.get("skipped"):
            notes.append(f"skipped: {r['skipped']}")
        if r.get("errors"):
            notes.append(f"error: {r['errors'][-1]}")
        if r.get("scaled_down"):
            diff = {k: v for k, v in r["params"].items() if base_params.get(k) != v}
            notes.append("run at " + ", ".join(f"{k}={v:,}" for k, v in diff.items()))
        extra = r.get("extra") or {}
        if "spawn_us" in extra:
            notes.append(f"spawn {fmt(extra['spawn_us'])} µs each")
        if extra.get("lua_heap_bytes"):
            notes.append(f"of which Lua heap {fmt(extra['lua_heap_bytes'])} B")
        if "workflows_per_s" in extra and r.get("median"):  # the figure is 1000 / rate
            notes.append(f"{fmt(1000 / r['median'])} workflows/s")
        rows.append([r["label"], median, spread, str(len(r["samples"])), ratio, "; ".join(notes)])
    return rows


def _verdict(t: Mapping[str, Any]) -> str:
    if t["met"] is None:
        return "n/a (missing measurement)"
    return f"{'met' if t['met'] else 'MISSED'} (measured {_measured(t)})"


def _measured(t: Mapping[str, Any], unit: str = "") -> str:
    if t["measured"] is None:
        return "—"
    if t["kind"] == "max_value":
        return fmt(t["measured"]) + (f" {unit}" if unit else "")
    return fmt(t["measured"]) + "×"


def _target_lines(scenario: Mapping[str, Any]) -> list[str]:
    return [f"target: {t['label']}: {_verdict(t)}" for t in scenario.get("targets", [])]


def target_summary(run: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every target of the run, in table order: scenario name, label, measured, verdict."""
    out = []
    for sc in run["scenarios"]:
        for t in sc.get("targets", []):
            verdict = "n/a" if t["met"] is None else "met" if t["met"] else "MISSED"
            out.append({"scenario": sc["name"], "label": t["label"],
                        "measured": _measured(t, sc["unit"]), "verdict": verdict})
    return out


HEADERS = ["implementation", "median", "min–max", "n", "beamish ÷ this", "notes"]


def console_table(run: Mapping[str, Any]) -> str:
    """The plain-text table printed at the end of a run."""
    out: list[str] = []
    for sc in run["scenarios"]:
        params = ", ".join(f"{k}={v:,}" for k, v in sc["params"].items())
        out.append(f"\n== {sc['title']} [{sc['unit']}, lower is better] ({params})")
        rows = [HEADERS, *_rows(sc)]
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        for row in rows:
            cells = [row[0].ljust(widths[0])]
            cells += [row[i].rjust(widths[i]) for i in range(1, 5)]
            out.append("  " + "  ".join(cells) + ("  " + row[5] if row[5] else ""))
        for line in _target_lines(sc):
            out.append("  " + line)
        if sc.get("note"):
            out.append(f"  note: {sc['note']}")
    summary = target_summary(run)
    if summary:
        met = sum(t["verdict"] == "met" for t in summary)
        out.append(f"\n== targets: {met} of {len(summary)} met")
        for t in summary:
            out.append(f"  {t['verdict']:<6}  {t['label']}  [{t['scenario']}: {t['measured']}]")
    mode = "quick" if run.get("quick") else "full"
    out.append(
        f"\n({mode} run, {run.get('duration_s', 0):.0f}s; ratios < 1 mean beamish is faster or "
        "smaller; medians of samples, each in a fresh interpreter, implementations interleaved)"
    )
    return "\n".join(out)


def markdown_table(run: Mapping[str, Any]) -> str:
    out: list[str] = []
    for sc in run["scenarios"]:
        params = ", ".join(f"{k}={v:,}" for k, v in sc["params"].items())
        out.append(f"### {sc['title']}\n")
        out.append(f"Unit: **{sc['unit']}** (lower is better); {params}.\n")
        out.append("| " + " | ".join(HEADERS) + " |")
        out.append("|---|---:|---:|---:|---:|---|")
        for row in _rows(sc):
            cells = [c.replace("|", "\\|") for c in row]
            if row[0] == "beamish":
                cells[0], cells[1] = "**beamish**", f"**{cells[1]}**"
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
        for line in _target_lines(sc):
            out.append(f"- {line}")
        if sc.get("note"):
            out.append(f"- note: {sc['note']}")
        out.append("")
    return "\n".join(out)


def markdown_report(run: Mapping[str, Any], *, chart: str | None) -> str:
    """The whole BENCHMARKS.md."""
    m = run.get("machine", {})
    pk = m.get("packages", {})
    versions = ", ".join(f"{k} {v}" for k, v in pk.items() if v)
    missing = ", ".join(k for k, v in pk.items() if not v)
    mode = "quick (smoke) run" if run.get("quick") else "full run"
    lines = [
        "# beamish benchmarks",
        "",
        "beamish against the raw trio floor (a hand-written deque mailbox with",
        "`trio.lowlevel` park/unpark) and against the peers, all measured in the same run.",
        "Every sample runs in a fresh interpreter; implementations alternate across",
        "repetitions; figures are medians with min–max. **Every unit is lower-is-better;",
        "`beamish ÷ this` below 1 means beamish is faster or smaller than that row.**",
        "The machine is shared and noisy: compare ratios within one run, not absolute",
        "times across runs.",
        "",
        "## How to reproduce",
        "",
        "```sh",
        "pip install -e '.[bench]'",
        "pip install --no-deps 'triotp==0.2.1'  # its trio<0.20 pin is stale; runs on trio 0.35",
        "python -m benchmarks                 # full suite, ~5 min (2 cores); --quick: < 1 min",
        "python -m benchmarks --markdown      # also rewrite this file",
        "```",
        "",
        "Details: `benchmarks/README.md`. Raw numbers: `benchmarks/results/latest.json`.",
        "",
        "## Machine",
        "",
        f"- CPU: {m.get('cpu', '?')}, {m.get('logical_cores', '?')} logical cores"
        + (f" ({m['physical_cores']} physical)" if m.get("physical_cores") else "")
        + (f", {m['memory_gib']} GiB RAM" if m.get("memory_gib") else ""),
        f"- OS: {m.get('os', '?')}; {m.get('python', '?')}",
        f"- Packages: {versions}" + (f" (not installed: {missing})" if missing else ""),
        f"- Date: {m.get('date', '?')}"
        + (f"; commit {m['commit']}" if m.get("commit") else "")
        + f"; {mode}, {run.get('duration_s', 0):.0f} s",
        "",
    ]
    summary = target_summary(run)
    if summary:
        met = sum(t["verdict"] == "met" for t in summary)
        lines += [f"## Targets ({met} of {len(summary)} met)", "",
                  "| target | scenario | measured | verdict |", "|---|---|---:|---|"]
        for t in summary:
            verdict = f"**{t['verdict']}**" if t["verdict"] == "MISSED" else t["verdict"]
            lines.append(f"| {t['label']} | {t['scenario']} | {t['measured']} | {verdict} |")
        lines.append("")
    if chart:
        lines += ["## At a glance", "", f"![beamish ÷ each implementation]({chart})", ""]
    lines += ["## Results", "", markdown_table(run)]
    return "\n".join(lines).rstrip() + "\n"


# -- files ---------------------------------------------------------------------------------


def write_json(run: Mapping[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(run, indent=2, ensure_ascii=False) + "\n")


def write_chart(run: Mapping[str, Any], path: Path) -> bool:
    """A heat map of ``beamish ÷ x``: one row per scenario, one column per implementation.

    Green below 1 (beamish faster or smaller), red above, on a log scale; each cell
    shows the ratio. Returns False (and writes nothing) when matplotlib is missing or
    no ratio exists.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import numpy as np
    except ImportError:
        return False
    scenarios = [sc for sc in run["scenarios"] if any(v for v in sc["ratios"].values())]
    if not scenarios:
        return False
    names: list[str] = []
    for sc in scenarios:
        for name, v in sc["ratios"].items():
            if v and name not in names:
                names.append(name)
    order = {n: i for i, n in enumerate(IMPL_LABELS)}
    names.sort(key=lambda n: order.get(n, len(order)))
    grid = np.full((len(scenarios), len(names)), np.nan)
    for r, sc in enumerate(scenarios):
        for c, name in enumerate(names):
            v = sc["ratios"].get(name)
            if v:
                grid[r, c] = v
    logs = np.log10(grid)
    fig, ax = plt.subplots(figsize=(0.95 * len(names) + 4.2, 0.42 * len(scenarios) + 2.0))
    cmap = matplotlib.colormaps["RdYlGn_r"].with_extremes(bad="#dddddd")
    ax.imshow(np.ma.masked_invalid(logs), cmap=cmap, vmin=-1.5, vmax=1.5, aspect="auto")
    for r in range(len(scenarios)):
        for c in range(len(names)):
            v = grid[r, c]
            text = "—" if np.isnan(v) else fmt_ratio(float(v))
            dark = not np.isnan(v) and abs(logs[r, c]) > 1.0  # deep colour: white text
            ax.text(c, r, text, ha="center", va="center", fontsize=9,
                    color="white" if dark else "black")
    ax.set_xticks(range(len(names)), [_short(n) for n in names], fontsize=8)
    ax.xaxis.tick_top()
    ax.set_yticks(range(len(scenarios)), [f"{sc['title']}" for sc in scenarios], fontsize=8)
    ax.set_title("beamish ÷ each implementation (lower is better: green < 1 < red)",
                 fontsize=10, pad=12)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


_SHORT = {
    "floor": "trio floor\n(deque)",
    "trio_channels": "trio\nchannels",
    "pykka": "Pykka",
    "thespian_simple": "Thespian\nsimple",
    "thespian_mp": "Thespian\nmultiproc",
    "direct": "direct\ncall",
    "direct_async": "direct\nawait",
    "python": "beamish\n(Python)",
    "beamish_lua": "beamish\n(Lua)",
    "beamish_timeout": "beamish\ntimeout=5",
    "lua_to_python": "Lua ->\nPython fn",
    "python_to_lua": "Python ->\nLua fn",
    "temporalio_unsandboxed": "temporalio\nunsandboxed",
}


def _short(name: str) -> str:
    return _SHORT.get(name, name.replace("_", "\n", 1))


def relpath(path: Path, start: Path) -> str:
    try:
        return os.path.relpath(path, start)
    except ValueError:  # pragma: no cover - other drive on Windows
        return str(path)
