"""``python -m bench [SUITE ...] [--quick]``: run the benchmark suites, write bench/results.json.

The measured rates feed ``ddbload estimate``, so docs/SCALE.md's table is rewritten too.

A suite is a module ``bench/<name>_bench.py`` with ``run(results, quick)``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
import time
from pathlib import Path

from bench.results import Results
from ops.estimate_report import write_doc


def main(argv: list[str] | None = None) -> int:
    suites = sorted(
        m.name[: -len("_bench")]
        for m in pkgutil.iter_modules([os.path.dirname(__file__)])
        if m.name.endswith("_bench")
    )
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("suites", nargs="*", help="suites to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="smaller data sets, for a smoke run")
    args = parser.parse_args(argv)
    results = Results()
    started = time.monotonic()
    for name in args.suites or suites:
        print(f"== {name}", flush=True)
        with results.suite(name):
            importlib.import_module(f"bench.{name}_bench").run(results, args.quick)
    results.write()
    # docs/SCALE.md's cost table uses the measured rates just written: keep it current.
    doc = Path(__file__).resolve().parent.parent / "docs" / "SCALE.md"
    print(f"{doc.name}: {'rewritten' if write_doc(doc) else 'already current'}")
    print()
    print(results.table())
    print(
        f"\nwrote bench/results.json ({len(results.entries)} entries) in {time.monotonic() - started:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
