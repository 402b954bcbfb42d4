"""Every example runs, as a user would run it."""

import json
import queue
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quickstart_prints_42():
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "quickstart.py")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "42"


def test_orders_pipeline_runs_all_three_units_and_stops_cleanly(tmp_path):
    """The README's main job: every order settles as its path says, then Ctrl-C."""
    app = tmp_path / "orders"
    shutil.copytree(ROOT / "examples" / "orders", app, ignore=shutil.ignore_patterns(".beamish"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "beamish._cli", "run", str(app)],
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        for line in proc.stderr:
            lines.put(line)
        lines.put(None)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    log = ""
    try:
        while "all 6 orders settled" not in log:
            line = lines.get(timeout=120)
            if line is None:
                break
            log += line
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(timeout=60)
    finally:
        proc.kill()
        proc.wait()
    reader.join(timeout=10)
    while not lines.empty():
        log += lines.get() or ""
    assert "all 6 orders settled" in log, log
    assert "compensated=2 failed=0 received=6 rejected=1 shipped=3" in log
    assert "order rejected" in log and "over the 1000 limit" in log
    assert "checker.2 crashes after checking o-5" in log
    assert "[o-3] compensation: refunded 4.95" in log
    assert log.index("[o-3] compensation: refunded") < log.index("[o-3] compensation: released")
    assert rc == 0 and "stopped (clean)" in log, log


def test_readme_lua_example_prints_the_documented_json():
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "beamish._cli",
            "run",
            str(ROOT / "examples" / "readme"),
            "-x",
            "app:main",
            "41",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"me": "{app:processes|0x00001}", "answer": 42}


def test_the_python_only_app_serves_supervises_and_runs_a_workflow(tmp_path):
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "python_app" / "app.py")],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=tmp_path,  # its state (the embedded Temporal database) goes in ./.beamish
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {
        "left": 3,
        "short": ["short", 2],
        "crashed": "RuntimeError: asked to crash",
        "restocked": 5,  # the supervisor restarted the store with fresh stock
        "receipt": {"item": "pear", "n": 2, "total": 1.6},
    }
    assert "restarts 'store'" in out.stderr  # the supervisor report
    assert (tmp_path / ".beamish").is_dir()
