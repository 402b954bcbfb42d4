"""The beamish benchmark suite: beamish against the raw trio floor and its peers.

What it is for: to say, with numbers measured in one run on one machine, where beamish
stands — against the *floor* (the fastest hand-written pure-Python-on-trio code for the
same job, see ``_floor.py``) and against the *peers* a user
would pick instead (trio memory channels, asyncio, Pykka, Thespian, triotp).

Layout:

* ``bench_<scenario>.py`` — one file per measured operation. Each defines ``SCENARIOS``,
  a list of :class:`Scenario`, whose ``implementations`` map a name (``"beamish"``,
  ``"floor"``, ``"trio_channels"``, ``"asyncio"``, ``"pykka"``, ``"thespian_simple"``,
  ``"thespian_mp"``, ``"triotp"``, ...) to a plain function ``impl(**params) -> float``
  that sets up, times its own hot loop and returns the figure in the scenario's unit.
* ``_harness.py`` — discovery, the interleaved runner (every sample in a fresh
  interpreter), statistics and the ratios.
* ``_worker.py`` — the child side: ``python -m benchmarks._worker MODULE SCENARIO IMPL
  PARAMS`` runs one implementation once and prints one result line.
* ``_report.py`` — the console table, JSON, the PNG chart and ``BENCHMARKS.md``.
* ``_floor.py`` — the hand-written deque + ``trio.lowlevel`` park/unpark mailbox.

Design chosen: a subprocess per sample, implementations alternated across repetitions,
medians with min–max. The machine is shared and noisy; a fresh interpreter removes
warm-cache and leftover-garbage effects between implementations, and alternating
spreads drift (another job on the box) over all of them instead of one. Only ratios
measured in the same run are meaningful; absolute times across runs are not.

Alternatives rejected: ``timeit``/pytest-benchmark in one process (state leaks from one
implementation to the next, and Pykka's threads and Thespian's processes outlive a
sample); running implementations in parallel (two cores: they would measure each other).

Run it: ``python -m benchmarks`` from the repository root (``--quick`` for a smoke run).
"""

from ._harness import Scenario as Scenario
from ._harness import Skip as Skip
from ._harness import Target as Target

__all__ = ["Scenario", "Skip", "Target"]
