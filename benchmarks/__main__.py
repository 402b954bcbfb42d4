"""``python -m benchmarks``: run the suite, print the table, write JSON, chart, markdown.

Run from the repository root. Options::

    --quick               smaller sizes, one sample each: a smoke run under a minute
    --reps N              samples per implementation (default 5; ring, lua_spawn and the
                          workflows 3, memory 2; slow peers capped at 3)
    --only NAME ...       scenarios to run (see --list: pingpong, throughput, call,
                          request_reply, fanout, ring, spawn, memory, supervisor_restart,
                          lua_pingpong, lua_spawn, lua_memory, lua_call,
                          workflow_latency, workflow_throughput)
    --impl NAME ...       implementations to run (beamish always runs)
    --list                list scenarios and implementations, run nothing
    --out DIR             where latest.json and ratios.png go (benchmarks/results)
    --markdown [PATH]     also write BENCHMARKS.md (default: at the repository root)
    --from-json PATH      measure nothing: rebuild the table/chart/markdown from a JSON
    --no-chart            skip the PNG
    --module MOD          scenarios from this module only (the harness test uses it)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import _report
from ._harness import REPO_ROOT, discover, load_module_scenarios, run_suite

DEFAULT_OUT = REPO_ROOT / "benchmarks" / "results"
DEFAULT_MARKDOWN = REPO_ROOT / "BENCHMARKS.md"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="beamish vs the raw trio floor vs the peers, measured in one run.",
    )
    p.add_argument("--quick", action="store_true", help="smoke run: small sizes, 1 sample")
    p.add_argument("--reps", type=int, default=None, help="samples per implementation")
    p.add_argument("--only", nargs="+", metavar="NAME", help="scenarios to run")
    p.add_argument("--impl", nargs="+", metavar="NAME", help="implementations to run")
    p.add_argument("--list", action="store_true", help="list scenarios and exit")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results directory")
    p.add_argument(
        "--markdown", nargs="?", type=Path, const=DEFAULT_MARKDOWN, default=None,
        metavar="PATH", help="also write BENCHMARKS.md (default path: repo root)",
    )
    p.add_argument("--from-json", type=Path, default=None, metavar="PATH",
                   help="rebuild reports from a results JSON; measure nothing")
    p.add_argument("--no-chart", action="store_true", help="do not write the PNG chart")
    p.add_argument("--module", default=None, help="load scenarios from this module only")
    p.add_argument("-q", "--quiet", action="store_true", help="no per-sample progress")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.from_json:
        run = json.loads(args.from_json.read_text())
    else:
        scenarios = load_module_scenarios(args.module) if args.module else discover()
        if args.list:
            for sc in scenarios:
                print(f"{sc.name:<20} {sc.title}  [{sc.unit}]")
                print(f"{'':<20} {', '.join(sc.implementations)}")
            return 0
        if args.only:
            unknown = set(args.only) - {s.name for s in scenarios}
            if unknown:
                print(f"unknown scenario(s): {', '.join(sorted(unknown))}; see --list",
                      file=sys.stderr)
                return 2
            scenarios = [s for s in scenarios if s.name in args.only]
        progress = None if args.quiet else (lambda m: print(m, file=sys.stderr, flush=True))
        run = run_suite(
            scenarios, quick=args.quick, reps=args.reps, impls=args.impl, progress=progress
        )
        run["machine"] = _report.machine_info()
        run["command"] = "python -m benchmarks " + " ".join(argv if argv is not None
                                                             else sys.argv[1:])
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    if not args.from_json:
        _report.write_json(run, out / "latest.json")
    chart_path = out / "ratios.png"
    chart_ok = False if args.no_chart else _report.write_chart(run, chart_path)
    print(_report.console_table(run))
    written = [] if args.from_json else [out / "latest.json"]
    if chart_ok:
        written.append(chart_path)
    if args.markdown:
        md: Path = args.markdown
        chart_rel = _report.relpath(chart_path, md.parent) if chart_ok else None
        md.write_text(_report.markdown_report(run, chart=chart_rel))
        written.append(md)
    if written:
        print("wrote: " + ", ".join(str(p) for p in written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
