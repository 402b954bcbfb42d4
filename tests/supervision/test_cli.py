"""``beamish run DIR`` with services: start in order, stop in reverse on SIGINT/SIGTERM,
exit code 0 when clean, 1 when a process had to be terminated, 130 on a second signal.

Real subprocesses and real signals, so real time: each test waits on output lines with
generous limits, never asserts durations.
"""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

CODE = """
import os, sys, trio

def note(line):
    with open(os.path.join(os.path.dirname(__file__), "events.log"), "a") as f:
        f.write(line + "\\n")

async def worker(ctx, name):
    note(f"start {name}")
    ev = await ctx.events().receive()
    note(f"stop {name} {ev.reason}")

async def stubborn(ctx):
    note("start stubborn")
    await trio.sleep_forever()
"""

APP = """
namespace: app
entries:
  - name: processes
    kind: process.host
  - name: worker
    kind: process.py
    handler: cli_code:worker
  - name: stubborn
    kind: process.py
    handler: cli_code:stubborn
  - name: db
    kind: process.service
    process: worker
    input: [db]
    lifecycle: {auto_start: true}
  - name: cache
    kind: process.service
    process: worker
    input: [cache]
    lifecycle: {auto_start: true}
  - name: web
    kind: process.service
    process: worker
    input: [web]
    lifecycle: {auto_start: true, requires: [db, cache]}
"""

STUBBORN = """
  - name: stuck
    kind: process.service
    process: stubborn
    lifecycle: {auto_start: true, stop_timeout: %s}
"""


def make_app(tmp: Path, extra: str = "") -> Path:
    (tmp / "app.yaml").write_text(textwrap.dedent(APP) + extra)
    (tmp / "cli_code.py").write_text(CODE)
    return tmp


class Run:
    """``beamish run`` in a subprocess; always killed on the way out."""

    def __init__(self, directory: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "beamish._cli", "run", str(directory)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=directory,
        )
        self.lines: list[str] = []

    def wait_for(self, text: str, limit: float = 60.0) -> None:
        deadline = time.monotonic() + limit
        assert self.proc.stderr is not None
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                break
            self.lines.append(line)
            if text in line:
                return
        raise AssertionError(f"never saw {text!r}; stderr so far: {''.join(self.lines)}")

    def finish(self, limit: float = 60.0) -> int:
        try:
            _, err = self.proc.communicate(timeout=limit)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        self.lines.append(err)
        return self.proc.returncode

    def __enter__(self) -> "Run":
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


def events(directory: Path) -> list[str]:
    return (directory / "events.log").read_text().splitlines()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_clean_shutdown_stops_services_in_reverse_and_exits_0(tmp_path, signum):
    app = make_app(tmp_path)
    with Run(app) as run:
        run.wait_for("running")
        run.proc.send_signal(signum)
        code = run.finish()
    assert code == 0, "".join(run.lines)
    assert "stopped (clean)" in "".join(run.lines)
    log = events(app)
    starts = [line for line in log if line.startswith("start")]
    stops = [line for line in log if line.startswith("stop")]
    assert starts[-1] == "start web"  # after both of its dependencies
    assert stops[0] == "stop web service stopping"  # before both of them
    assert sorted(stops[1:]) == ["stop cache service stopping", "stop db service stopping"]


def test_a_process_that_must_be_terminated_makes_exit_code_1(tmp_path):
    app = make_app(tmp_path, STUBBORN % "300ms")
    with Run(app) as run:
        run.wait_for("running")
        run.proc.send_signal(signal.SIGTERM)
        code = run.finish()
    assert code == 1, "".join(run.lines)
    assert "stopped (forced)" in "".join(run.lines)


def test_a_second_signal_forces_exit(tmp_path):
    app = make_app(tmp_path, STUBBORN % "1h")
    with Run(app) as run:
        run.wait_for("running")
        run.proc.send_signal(signal.SIGINT)
        run.wait_for("shutting down")
        time.sleep(0.2)
        os.kill(run.proc.pid, signal.SIGINT)
        code = run.finish(limit=30)
    assert code == 130, "".join(run.lines)
    assert "forced exit" in "".join(run.lines)


class FailingServiceKind:
    """A third-party kind (``register_kind``) adding a service whose process cannot
    spawn: YAML validation cannot catch that, so the app's start fails at run time."""

    kind = "test.failing_service"
    order = 30

    def validate(self, entry, registry):
        pass

    async def install(self, entry, app):
        from beamish.supervision import ServiceSpec, lifecycle_from_config, services

        mgr = services(app.node)
        mgr.add(
            ServiceSpec(
                entry.id,
                "app:not_registered",
                lifecycle=lifecycle_from_config({"auto_start": True}),
            )
        )
        if mgr.app is not app:  # hook the manager as the YAML kinds do
            mgr.app = app
            app.on_start(mgr.start_all)


def test_a_required_service_that_cannot_start_fails_the_run_with_exit_1(tmp_path, capsys):
    from beamish import _kinds
    from beamish._cli import main

    (tmp_path / "app.yaml").write_text(
        "namespace: app\nentries:\n  - {name: bad, kind: test.failing_service}\n"
    )
    _kinds.register_kind(FailingServiceKind())
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        code = main(["run", str(tmp_path)])
    finally:
        _kinds._extra.pop(FailingServiceKind.kind, None)
        for signum, handler in saved.items():  # main() ignores signals once it is done
            signal.signal(signum, handler)
    err = capsys.readouterr().err
    assert code == 1
    assert "error: NotFound: service 'app:bad' failed to start" in err
