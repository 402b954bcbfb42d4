"""examples/shop (a Lua process service and a Python function) runs as documented."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SHOP = Path(__file__).resolve().parents[2] / "examples" / "shop"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "beamish._cli", "run", str(SHOP), "-x", "shop:demo", *args],
        capture_output=True, text=True, timeout=120,
    )


def test_the_demo_prints_the_totals_computed_by_python():
    out = run()
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"subtotal": 44.6, "tax": 2.62, "total": 47.22}


def test_the_demo_takes_items_as_an_argument():
    out = run('[["book", 12.5, 2], ["pen", 1.25, 4]]')
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"subtotal": 30.0, "tax": 1.0, "total": 31.0}
