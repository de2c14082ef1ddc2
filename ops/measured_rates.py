"""The measured rates ``ops.estimate`` prices a load with, read from ``bench/results.json``.

``make bench`` writes that file; the entries named here are the ones the estimate
uses (per-row writes, the loader into a full table, one lane's ceiling, the
transform's CPU). When the file is absent, as in an installed package, the
figures of a named earlier run stand in, and each ``Measured`` says which it is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH_RESULTS_PATH = Path(__file__).resolve().parent.parent / "bench" / "results.json"

# Benchmark figures this estimate reads from bench/results.json, by entry name,
# with the values of the `make bench` run of 2026-11-25 (2 CPUs shared by the
# client and MariaDB 10.11) for when that file is absent, as in an installed package.
PER_ROW_PARALLEL = "100k per-row autocommit, 8 connections"
PER_ROW_SINGLE = "100k per-row autocommit, 1 connection"
BULK_LOAD = "1M loader into a 1M-row table"
LOADER_ALONE = "1M loader (gzip bytes -> COMMIT)"
TRANSFORM_CPU = "transform 1MiB handler CPU"
LANES_SUITE = "lanes"
LANES_ONE_LANE = "4 tables, one lane"
BENCH_FALLBACK = {
    PER_ROW_PARALLEL: 7737.058,
    PER_ROW_SINGLE: 3133.691,
    BULK_LOAD: 38644.792,
    LOADER_ALONE: 48977.197,
    TRANSFORM_CPU: 13.414,
}
BENCH_FALLBACK_CPUS = 2


@dataclass(frozen=True)
class Measured:
    """A measured rate and where it came from."""

    value: float
    unit: str
    source: str


@dataclass(frozen=True)
class Rates:
    """The measured figures the estimate uses."""

    per_row_parallel: Measured  # per-row writes, 8 connections: the seed database's work
    per_row_single: Measured  # per-row writes, 1 connection: one write's latency
    bulk: Measured  # the loader into a populated table: this design's database work
    lane: Measured  # one loader lane's ceiling
    transform_ms_per_mib: Measured  # transform CPU per MiB of Kinesis records
    bench_cpus: int  # CPUs of the machine that measured them (client and server)


def load_rates(path: Path = BENCH_RESULTS_PATH) -> Rates:
    """The measured rates from ``bench/results.json``, else the named fallback figures."""
    entries: dict[str, dict[str, Any]] = {}
    cpus = BENCH_FALLBACK_CPUS
    where = f"{path.parent.name}/{path.name}"
    if path.is_file():
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        entries = {e["name"]: e for e in doc.get("entries", []) if isinstance(e, dict)}
        cpus = int(doc.get("machine", {}).get("cpus") or BENCH_FALLBACK_CPUS)

    def rate(name: str, unit: str) -> Measured:
        entry = entries.get(name)
        if entry is not None and isinstance(entry.get("value"), int | float) and entry["value"] > 0:
            return Measured(float(entry["value"]), unit, f"{where}: {name!r}")
        return Measured(BENCH_FALLBACK[name], unit, f"make bench of 2026-11-25: {name!r}")

    return Rates(
        per_row_parallel=rate(PER_ROW_PARALLEL, "changes/s"),
        per_row_single=rate(PER_ROW_SINGLE, "changes/s"),
        bulk=rate(BULK_LOAD, "changes/s"),
        lane=_lane_rate(entries, where) or rate(LOADER_ALONE, "changes/s"),
        transform_ms_per_mib=rate(TRANSFORM_CPU, "ms CPU per MiB"),
        bench_cpus=cpus,
    )


def _lane_rate(entries: dict[str, dict[str, Any]], where: str) -> Measured | None:
    """The lanes suite's own figure for one lane: a stated ceiling, else one lane alone."""
    lanes = [e for e in entries.values() if e.get("suite") == LANES_SUITE]
    stated = [e for e in lanes if "ceiling" in e["name"].lower() and e.get("unit") == "changes/s"]
    for entry in stated + [e for e in lanes if e["name"] == LANES_ONE_LANE]:
        if isinstance(entry.get("value"), int | float) and entry["value"] > 0:
            return Measured(float(entry["value"]), "changes/s", f"{where}: {entry['name']!r}")
    return None
