"""The typed user program (checked by mypy --strict in CI) also runs as written."""

import subprocess
import sys
from pathlib import Path


def test_the_typed_user_program_runs():
    program = Path(__file__).with_name("user_program.py")
    done = subprocess.run([sys.executable, str(program)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["1", "child failed: Internal"]
