"""The benchmark harness: discovery, the interleaved runner and the reports.

Runs the machinery on the tiny scenario of ``benchmarks/_selftest.py`` (each
implementation stands for one outcome: a number, a skip, an error, a timeout) and
checks the *structure* of what comes out. No timing is asserted.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import _report  # noqa: E402
from benchmarks._harness import (  # noqa: E402
    Target,
    discover,
    load_module_scenarios,
    params_for,
    run_one,
    run_suite,
)


@pytest.fixture(scope="module")
def selftest():
    return {s.name: s for s in load_module_scenarios("benchmarks._selftest")}


@pytest.fixture(scope="module")
def suite_run(selftest):
    return run_suite([selftest["selftest"]], quick=False, reps=2)


def test_run_suite_reports_every_implementation_with_its_outcome(suite_run):
    (sc,) = suite_run["scenarios"]
    assert sc["name"] == "selftest" and sc["unit"] == "µs/op"
    assert set(sc["results"]) == {"beamish", "floor", "extra", "skipper", "broken"}
    for name in ("beamish", "floor", "extra"):
        r = sc["results"][name]
        assert len(r["samples"]) == (1 if name == "extra" else 2)  # rep_caps: extra 1
        assert len(r["walls"]) == len(r["samples"])
        assert r["min"] <= r["median"] <= r["max"]
        assert not r["errors"] and r["skipped"] is None
    skipped = sc["results"]["skipper"]
    assert skipped["skipped"] == "not available here"
    assert skipped["samples"] == [] and "median" not in skipped
    broken = sc["results"]["broken"]
    assert len(broken["errors"]) == 2 and "ValueError: boom" in broken["errors"][0]


def test_ratios_are_beamish_over_each_measured_row(suite_run):
    (sc,) = suite_run["scenarios"]
    assert set(sc["ratios"]) == {"floor", "extra"}
    beamish = sc["results"]["beamish"]["median"]
    assert sc["ratios"]["floor"] == pytest.approx(beamish / sc["results"]["floor"]["median"])


def test_targets_are_evaluated_or_marked_missing(suite_run):
    (sc,) = suite_run["scenarios"]
    by_label = {t["label"]: t for t in sc["targets"]}
    assert by_label["beamish <= 1 s"]["met"] is True
    assert isinstance(by_label["beamish <= 1000x floor"]["measured"], float)
    assert by_label["needs a missing row"]["met"] is None
    assert by_label["floor <= 1 s"]["met"] is True
    assert by_label["floor <= 1 s"]["subject"] == "floor"


def test_rep_caps_apply_to_full_runs_only(selftest):
    quick = run_suite([selftest["selftest"]], quick=True, reps=2, impls=["extra"])
    (sc,) = quick["scenarios"]
    assert len(sc["results"]["extra"]["samples"]) == 2
    assert set(sc["results"]) == {"beamish", "extra"}


def test_a_sample_can_end_itself_before_tear_down(selftest):
    result = run_one(selftest["selftest_early"], "beamish", {"n": 3})
    assert result["value"] == 7.0 and result["extra"] == {"n": 3}


def test_finish_now_outside_a_worker_returns_the_value():
    from benchmarks._common import finish_now

    assert finish_now({"value": 1.0}) == {"value": 1.0}


def test_scaled_down_rows_are_marked_with_their_params(suite_run):
    (sc,) = suite_run["scenarios"]
    extra = sc["results"]["extra"]
    assert extra["scaled_down"] is True and extra["params"] == {"n": 10}
    assert extra["extra"] == {"spawn_us": 1.5, "n": 10}
    assert sc["results"]["floor"]["scaled_down"] is False


def test_params_for_caps_overrides_and_uses_quick_sizes(selftest):
    sc = selftest["selftest"]
    assert params_for(sc, "beamish", quick=False) == {"n": 1_000}
    assert params_for(sc, "beamish", quick=True) == {"n": 100}
    assert params_for(sc, "extra", quick=False) == {"n": 10}


def test_a_worker_past_its_time_limit_is_killed_and_reported(selftest):
    result = run_one(selftest["selftest_timeout"], "beamish", {"n": 1})
    assert result["error"] == "timed out after 1s"


def test_target_kinds():
    medians = {"beamish": 2.0, "floor": 1.0, "pykka": 20.0}
    assert Target("r", "max_ratio", 1.5, "floor").evaluate(medians) == (2.0, False)
    assert Target("s", "min_speedup", 5.0, "pykka").evaluate(medians) == (10.0, True)
    assert Target("v", "max_value", 4096).evaluate(medians) == (2.0, True)
    assert Target("m", "max_ratio", 1.5, "absent").evaluate(medians) == (None, None)
    assert Target("p", "max_ratio", 0.2, "pykka", subject="floor").evaluate(medians) == (
        0.05, True)
    assert Target("a", "max_value", 1.0, subject="absent").evaluate(medians) == (None, None)
    with pytest.raises(ValueError, match="unknown kind"):
        Target("x", "bogus", 1.0, "floor").evaluate(medians)
    with pytest.raises(ValueError, match="unknown kind"):
        Target("x", "bogus", 1.0, subject="absent").evaluate(medians)


def test_console_and_markdown_reports_show_every_row(suite_run):
    run = {**suite_run, "machine": _report.machine_info()}
    table = _report.console_table(run)
    for text in ("harness self-test", "beamish ÷ this", "skipped: not available here",
                 "error: ValueError: boom", "run at n=10", "target: beamish <= 1 s: met",
                 "== targets: 3 of 4 met", "n/a     needs a missing row"):
        assert text in table
    md = _report.markdown_report(run, chart="chart.png")
    for text in ("# beamish benchmarks", "## How to reproduce", "python -m benchmarks",
                 "## Machine", "CPU:", "![", "| **beamish** |", "## Targets (3 of 4 met)",
                 "| needs a missing row | selftest | — | n/a |"):
        assert text in md


def test_target_summary_lists_every_target_in_table_order(suite_run):
    summary = _report.target_summary(suite_run)
    assert [t["label"] for t in summary] == [
        "beamish <= 1000x floor", "beamish <= 1 s", "needs a missing row", "floor <= 1 s"]
    assert summary[1]["verdict"] == "met" and summary[1]["measured"].endswith(" µs/op")
    assert summary[2]["verdict"] == "n/a" and summary[2]["measured"] == "—"


def test_chart_is_a_png_when_matplotlib_is_installed(suite_run, tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "chart.png"
    assert _report.write_chart(suite_run, png) is True
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_ratio_format_keeps_small_ratios_readable():
    assert _report.fmt_ratio(0.0036) == "0.0036×"
    assert _report.fmt_ratio(0.5) == "0.50×"
    assert _report.fmt_ratio(None) == "—"


def test_discovery_finds_the_suite_and_every_scenario_has_beamish():
    scenarios = discover()
    names = [s.name for s in scenarios]
    assert len(names) == len(set(names))
    # every scenario issue 6 names (and issues 2, 3, 5, 11 add), in table order
    assert names == ["pingpong", "throughput", "call", "request_reply", "fanout", "ring",
                     "spawn", "memory", "supervisor_restart", "lua_pingpong", "lua_spawn",
                     "lua_memory", "lua_call", "workflow_latency", "workflow_throughput",
                     "cluster_pingpong", "cluster_oneway", "pool_throughput", "lua_dialect"]
    peers = {"floor", "trio_channels", "asyncio", "pykka", "thespian_simple", "thespian_mp",
             "triotp"}
    by_name = {s.name: s for s in scenarios}
    for name in ("pingpong", "throughput", "request_reply", "fanout", "ring", "spawn",
                 "memory"):
        assert peers <= set(by_name[name].implementations), name
    targets = {t.label.split(":")[0] for s in scenarios for t in s.targets}
    assert targets == {"issue 2", "issue 3", "issue 5", "issue 13", "issue 14"}
    for sc in scenarios:
        assert "beamish" in sc.implementations, sc.name
        assert sc.module.startswith("benchmarks.bench_")


def test_cli_writes_json_chart_and_markdown_then_rebuilds_from_json(tmp_path):
    md = tmp_path / "BENCH.md"
    cmd = [sys.executable, "-m", "benchmarks", "--module", "benchmarks._selftest",
           "--only", "selftest", "--reps", "1", "--out", str(tmp_path), "--markdown", str(md),
           "-q"]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "harness self-test" in done.stdout
    data = json.loads((tmp_path / "latest.json").read_text())
    assert {"scenarios", "machine", "quick", "duration_s", "command"} <= set(data)
    assert data["machine"]["packages"]["trio"]
    png = tmp_path / "ratios.png"
    if importlib.util.find_spec("matplotlib") is not None:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert "ratios.png" in md.read_text()
    else:  # CI without the bench extra: no chart, and the markdown does not link one
        assert not png.exists() and "ratios.png" not in md.read_text()

    again = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--from-json", str(tmp_path / "latest.json"),
         "--out", str(tmp_path / "rebuilt"), "--no-chart"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert again.returncode == 0, again.stderr
    assert "harness self-test" in again.stdout


def test_cli_rejects_an_unknown_scenario():
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--only", "nope", "--out", "/nonexistent"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 2 and "unknown scenario" in done.stderr


def test_discovery_leaves_out_a_module_that_fails_to_import(tmp_path, monkeypatch, capsys):
    pkg = tmp_path / "fakebench"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "bench_ok.py").write_text(
        "from benchmarks._harness import Scenario\n"
        "def beamish(n):\n    return 1.0\n"
        "SCENARIOS = [Scenario(name='ok', title='ok', unit='µs', "
        "implementations={'beamish': beamish})]\n"
    )
    (pkg / "bench_broken.py").write_text("import no_such_module_anywhere\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    scenarios = discover("fakebench")
    assert [s.name for s in scenarios] == ["ok"]
    assert "fakebench.bench_broken not loaded: ModuleNotFoundError" in capsys.readouterr().err


def test_notes_come_from_the_median_sample():
    from benchmarks._harness import _median_extra

    runs = [{"value": 3.0, "extra": {"k": "c"}}, {"value": 1.0, "extra": {"k": "a"}},
            {"value": 2.0, "extra": {"k": "b"}}, {"error": "boom"}]
    assert _median_extra(runs) == {"k": "b"}
    assert _median_extra([{"value": 1.0}]) is None
