"""``python -m bench`` runs every figure and writes bench/results.md and the README's table; ``--smoke`` runs
tiny sizes (seconds) and writes nothing unless ``--out`` is given; ``--only 1,3`` picks figures and writes
bench/results-partial.md (so a partial run never replaces the full results)."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import time
import traceback
from pathlib import Path

from .common import ROOT, Row, Sizes, machine_info
from .results import update_readme, write_results

FIGURES = {
    "1": ("bench.streaming", "Streaming overhead"),
    "2": ("bench.comm", "Comm traffic"),
    "3": ("bench.concurrency", "Concurrency"),
    "4": ("bench.startup", "Start-up"),
    "5": ("bench.store_bench", "Store"),
    "6": ("bench.switch", "Model switch"),
    "7": ("bench.browser", "Browser"),
    "8": ("bench.inspector_bench", "Inspector and model=auto"),
    "9": ("bench.tools_loop", "Tool loop"),
    "10": ("bench.jobs_bench", "Maps at scale"),
    "11": ("bench.tree_search", "Search and branches"),
}


def run_figures(sizes: Sizes, only: list[str] | None = None, log: bool = True) -> dict[str, list[Row]]:
    """Rows per figure number; a figure that crashes yields one failed row saying why."""
    results: dict[str, list[Row]] = {}
    for number, (module, title) in FIGURES.items():
        if only and number not in only:
            continue
        began = time.monotonic()
        if log:
            print(f"[bench] figure {number}: {title} ...", file=sys.stderr, flush=True)
        try:
            rows = importlib.import_module(module).run(sizes)
        except Exception as exc:
            traceback.print_exc()
            rows = [Row(f"{number} {title}", None, None, "", "—", False,
                        note=f"the benchmark crashed: {type(exc).__name__}: {exc}")]
        results[number] = rows
        if log:
            print(f"[bench] figure {number} done in {time.monotonic() - began:.1f} s", file=sys.stderr, flush=True)
            for row in rows:
                state = {True: "pass", False: "FAIL", None: "-"}[row.passed]
                print(f"    {state:4} {row.figure}: ours {row.ours} baseline {row.baseline}", file=sys.stderr)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks that every figure runs")
    parser.add_argument("--only", default="", help="comma-separated figure numbers, e.g. 1,3")
    parser.add_argument("--out", type=Path, default=None, help="where to write the Markdown table")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if os.environ.pop("PYTHONDONTWRITEBYTECODE", None):
        # the figures' processes (start-up, kernels, first use of an SDK) then compile every module from
        # source on every import, which no user's kernel does: measure with bytecode as users run it
        print("[bench] PYTHONDONTWRITEBYTECODE was set: unset for the figures' processes", file=sys.stderr)
    sizes = Sizes(smoke=args.smoke)
    only = [x.strip() for x in args.only.split(",") if x.strip()] or None
    began = time.monotonic()
    results = run_figures(sizes, only)
    full = not args.smoke and only is None
    out = args.out or (None if args.smoke else ROOT / "bench" / ("results.md" if full else "results-partial.md"))
    machine = machine_info()
    if out is not None:
        write_results(out, results, machine, time.monotonic() - began, smoke=args.smoke)
        print(f"[bench] wrote {out}", file=sys.stderr)
    if full and args.out is None and update_readme(results, machine):
        print("[bench] updated the table in README.md", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
