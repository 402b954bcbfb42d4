"""Make the helper modules beside these tests (``lua_helpers``) importable by name."""

from __future__ import annotations

import sys
from pathlib import Path

# with --import-mode=importlib the test folder is not on sys.path by itself
_HERE = str(Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
