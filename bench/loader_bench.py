"""Loader benchmark (``python -m bench loader``): the bulk loader against the designs it replaces.

The same changes (``bench.workload``) go into MariaDB by: per-row autocommit
upserts on one connection (the old design), the same on 8 connections,
batched ``executemany`` upserts, the fair ceiling (one LOAD DATA of exactly
the rows a merge into an empty target keeps, into the loader's own target and
tombstone tables, no merge), the raw ceiling for reference (every change into
an unkeyed table), and the loader from the staging objects' gzip bytes to
COMMIT; at the largest size also the loader into a table already holding
1,000,000 rows (other keys).

Pairing: on a shared machine one timing moves by a third from run to run, so
the cases of a size run in rounds (loader, ceiling, per-row, ..., loader,
ceiling, per-row, ...), each the same number of times; a ratio is the ratio of
the medians, with the range of the per-round ratios beside it.

Every ratio is reported twice: on a private mariadbd with the binary log off,
and on one with the binary log on as RDS keeps it once backups are on
(``measure.BINLOG_OPTIONS``); entries of the second end in ", binlog on".
Each case runs in its own fresh database and must end in the state the
workload's model predicts (row count + checksum), so the rates compare the
same work. The cases themselves, and the server, are ``bench.loader_cases``; this
module runs them in rounds and records the figures in ``bench/results.json``
through ``bench.results``.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from bench import baselines, measure
from bench.loader_cases import (
    Outcome,
    WinnerFiles,
    bench_server,
    case_batched,
    case_ceiling,
    case_into_full,
    case_loader,
    case_per_row,
    case_per_row_concurrent,
    case_raw_load,
    server_choice,
    winner_files,
)
from bench.measure import Spread, TableState
from bench.results import Results
from bench.workload import Workload, generate

FULL_SIZES = (100_000, 1_000_000)
QUICK_SIZES = (20_000,)
# Rounds per size: every case of the size runs once per round, in the same order
# (fewer at 1M, where one round takes minutes; BENCH_ROUNDS sets them all).
FULL_ROUNDS = {100_000: 3, 1_000_000: 2}
QUICK_ROUNDS = 2
# Issue 14's goals for the loader's ratio against each baseline.
TARGETS = {"ceiling": 0.8, "per-row": 25.0, "batched": 3.0, "full": 0.85}
# How long one run of a slow baseline may take before it stops; it then reports the
# rate and checks the state of the prefix it applied, so the suite keeps its time
# on a busy machine. A prefix flatters the baseline (its table stays smaller: batched
# upserts measured 25,000/s over the first 15 s of 1M changes, 22,700/s over all of
# them), so on a quiet machine the budgets let every run finish: per-row writes run at
# ~1,400-3,000/s (100k: 35-70 s), 8 connections at ~4,000-7,500/s, batched at ~20,000/s.
FULL_BUDGETS_S = {"per-row": 80.0, "per-row-8": 30.0, "batched": 70.0}
QUICK_BUDGETS_S = {"per-row": 5.0, "per-row-8": 3.0, "batched": 10.0}
# Rows already in the target for the "into a full table" case.
FULL_PREFILL = 1_000_000
# Which binary-log settings to run: both (default), off or on.
BINLOG_ENV = "BENCH_BINLOG"
ROUNDS_ENV = "BENCH_ROUNDS"
BINLOG_SUFFIX = ", binlog on"
# The seed of the rows already in the target for the "into a full table" case;
# its keys never meet the measured workload's.
PREFILL_SEED = 777


def _label(n: int) -> str:
    if n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    return f"{n // 1000}k" if n % 1000 == 0 else str(n)


def _check(name: str, got: TableState, want: TableState) -> str:
    if got != want:
        raise AssertionError(
            f"{name} ended in a different state than the workload model: "
            f"{got.rows} rows (checksum {got.checksum:x}) vs {want.rows} ({want.checksum:x})"
        )
    return f"{got.rows:,} rows, state = model"


Databases = Callable[[], AbstractContextManager[dict]]


def _binlog_choice() -> tuple[bool, ...]:
    choice = os.environ.get(BINLOG_ENV, "both").strip().lower()
    options = {"both": (False, True), "off": (False,), "on": (True,)}
    if choice not in options:
        raise SystemExit(f"{BINLOG_ENV} must be 'both', 'off' or 'on', not {choice!r}")
    return options[choice]


def run(results: Results, quick: bool) -> None:
    sizes = QUICK_SIZES if quick else FULL_SIZES
    rounds: int | dict[int, int] = QUICK_ROUNDS if quick else FULL_ROUNDS
    if os.environ.get(ROUNDS_ENV):
        rounds = int(os.environ[ROUNDS_ENV])
    workloads = []
    for n in sizes:
        started = time.perf_counter()
        workloads.append(generate(n))
        print(
            f"  ({_label(n)}: {len(workloads[-1].objects)} staging objects, "
            f"{workloads[-1].staged_bytes / 2**20:.0f} MiB gzip, generated in "
            f"{time.perf_counter() - started:.0f} s, not timed)",
            flush=True,
        )
    prefill = generate(
        sizes[-1] if quick else FULL_PREFILL, seed=PREFILL_SEED, mix=(1.0, 0.0, 0.0, 0.0),
        staged=False,
    )  # fmt: skip
    shared = server_choice() == "shared"
    for binlog in _binlog_choice():
        with results.suite("loader"), bench_server(binlog) as (server, label):
            found = measure.server_settings(server)
            suffix = BINLOG_SUFFIX if binlog else ""
            print(
                f"  server: {label}; MariaDB {found['version']}, buffer pool "
                f"{found['buffer_pool_mib']} MiB, log_bin={found['log_bin']}",
                flush=True,
            )
            if binlog and found["log_bin"] != "1":
                raise SystemExit(f"the shared server has no binary log; set {BINLOG_ENV}=off")
            load_before = os.getloadavg()[0]
            run_suite(
                results,
                workloads,
                prefill=prefill,
                databases=_databases(server, reset_binlog=binlog and not shared),
                budgets_s=QUICK_BUDGETS_S if quick else FULL_BUDGETS_S,
                rounds=rounds,
                suffix=suffix,
            )
            _record_context(results, label, found, load_before, suffix)


def _databases(server: dict, *, reset_binlog: bool) -> Databases:
    return lambda: measure.scratch_database(server, reset_binlog=reset_binlog)


def _record_context(
    results: Results, label: str, found: dict[str, str], load_before: float, suffix: str
) -> None:
    """What the figures depend on most: how busy the machine was, which server, its cache."""
    results.record(
        f"machine load average (1 min) at the end{suffix}",
        os.getloadavg()[0],
        "load",
        note=f"{load_before:.1f} at the start, on {len(os.sched_getaffinity(0))} CPUs",
    )
    results.record(
        f"server innodb_buffer_pool_size{suffix}",
        float(found["buffer_pool_mib"]),
        "MiB",
        note=f"{label}; MariaDB {found['version']}, innodb_flush_log_at_trx_commit="
        f"{found['innodb_flush_log_at_trx_commit']}, redo log {found['redo_log_mib']} MiB, "
        f"log_bin={found['log_bin']}, binlog_format={found['binlog_format']}, "
        f"sync_binlog={found['sync_binlog']}; every case of these entries used this server. "
        "A target larger than the pool makes every merge read and write pages on disk",
    )


@dataclass(frozen=True)
class Case:
    """One case of a size: its entry name (after the size label) and how to run it."""

    kind: str  # loader | ceiling | raw | per-row | per-row-8 | batched | full
    name: str
    run: Callable[[dict], Outcome]
    once: bool = False  # a reference: the first round only


def run_suite(
    results: Results,
    workloads: Sequence[Workload],
    *,
    prefill: Workload,
    databases: Databases,
    budgets_s: dict[str, float] | None = None,
    rounds: int | dict[int, int] = FULL_ROUNDS,
    suffix: str = "",
) -> None:
    """Every case of every workload in ``rounds`` interleaved rounds (per-row at the
    first size, the full-table case at the last), each in a database from ``databases``."""
    budgets = budgets_s or {}
    with tempfile.TemporaryDirectory(prefix="ddbbench-") as tmp:
        folder = Path(tmp)
        # Arrival order: the prefilled table grows by random inserts, as a real one does.
        prefill_files = winner_files(prefill.changes, folder, "prefill", ordered=False)
        for i, workload in enumerate(workloads):
            cases = _cases(
                workload,
                folder,
                budgets,
                per_row=i == 0,
                full=(prefill, prefill_files) if i == len(workloads) - 1 else None,
            )
            n = len(workload.changes)
            count = rounds if isinstance(rounds, int) else rounds.get(n, QUICK_ROUNDS)
            series = _rounds(databases, cases, count, _label(n))
            _record_size(results, workload, cases, series, budgets, suffix)
            if i == len(workloads) - 1:
                _record_full(results, workload, prefill, series, suffix)


def _cases(
    workload: Workload,
    folder: Path,
    budgets: dict[str, float],
    *,
    per_row: bool,
    full: tuple[Workload, WinnerFiles] | None,
) -> list[Case]:
    size = _label(len(workload.changes))
    raw_path = folder / f"raw-{size}.tsv"
    baselines.write_raw_file(workload.changes, raw_path)
    winners = winner_files(workload.changes, folder, size)
    expected = measure.expected_state(workload.expected)
    if winners.expected != expected:
        raise AssertionError("the ceiling's rows are not the state the loader must end in")
    cases = [
        Case(
            "loader",
            "loader (gzip bytes -> COMMIT)",
            lambda db: case_loader(db, workload, expected=expected),
        ),
        Case(
            "ceiling",
            "ceiling: deduplicated winners, keyed",
            lambda db: case_ceiling(db, workload, winners),
        ),
    ]
    if per_row:
        cases += [
            Case(
                "per-row",
                "per-row autocommit, 1 connection",
                lambda db: case_per_row(db, workload, budget_s=budgets.get("per-row")),
            ),
            Case(
                "per-row-8",
                "per-row autocommit, 8 connections",
                lambda db: case_per_row_concurrent(db, workload, budget_s=budgets.get("per-row-8")),
            ),
        ]
    cases.append(
        Case(
            "batched",
            "batched executemany, 1000/txn",
            lambda db: case_batched(db, workload, budget_s=budgets.get("batched")),
        )
    )
    if full is not None:
        prefill, files = full
        both = measure.expected_state({**prefill.expected, **workload.expected})
        cases.append(
            Case(
                "full",
                f"loader into a {_label(len(prefill.changes))}-row table",
                lambda db: case_into_full(db, workload, prefill, files, both),
            )
        )
    cases.append(
        Case(
            "raw",
            "raw LOAD DATA, no merge (unkeyed ceiling, reference)",
            lambda db: case_raw_load(db, workload, raw_path),
            once=True,
        )
    )
    return cases


def _rounds(
    databases: Databases, cases: list[Case], rounds: int, label: str
) -> dict[str, list[Outcome]]:
    """Run the cases round after round (A, B, C, A, B, C, ...); outcomes per case kind."""
    series: dict[str, list[Outcome]] = {c.kind: [] for c in cases}
    for r in range(rounds):
        for case in cases:
            if case.once and r > 0:
                continue
            with databases() as db:
                outcome = case.run(db)
            _check(f"{label} {case.name}", outcome.state, outcome.expected)
            series[case.kind].append(outcome)
            print(f"    round {r + 1}: {label} {case.name}: {outcome.seconds:.2f} s", flush=True)
    return series


def _rates(outcomes: list[Outcome]) -> Spread:
    return Spread.of([o.rate for o in outcomes])


def _paired(loader: list[Outcome], baseline: list[Outcome]) -> Spread:
    """Per-round ratios of the loader's rate to a baseline's (round i with round i)."""
    return Spread.of([a.rate / b.rate for a, b in zip(loader, baseline, strict=False)])


def _run_note(outcomes: list[Outcome], budget_s: float | None = None) -> str:
    rates = _rates(outcomes)
    changes = {o.changes for o in outcomes}
    seconds = Spread.of([o.seconds for o in outcomes])
    note = (
        f"{rates.describe('changes/s')}; {min(changes):,}-{max(changes):,} changes"
        if len(changes) > 1
        else f"{rates.describe('changes/s')}; {changes.pop():,} changes"
    )
    note += f" in {seconds.median:.2f} s (median); {outcomes[0].state.rows:,} rows, state = model"
    if budget_s is not None and not all(o.detail.get("whole", True) for o in outcomes):
        note += f" of the prefix applied within the {budget_s:.0f} s budget per run"
    return note


def _record_size(
    results: Results,
    workload: Workload,
    cases: list[Case],
    series: dict[str, list[Outcome]],
    budgets: dict[str, float],
    suffix: str,
) -> None:
    label = _label(len(workload.changes))
    names = {c.kind: f"{label} {c.name}{suffix}" for c in cases}
    for case in cases:
        outcomes = series[case.kind]
        if case.kind in ("loader", "full"):
            continue
        note = _run_note(outcomes, budgets.get(case.kind))
        if case.kind == "ceiling":
            note += f", {outcomes[0].detail['tombstones']:,} tombstones; loader's target shape"
        results.record(names[case.kind], _rates(outcomes).median, "changes/s", note=note)
    loader = series["loader"]
    results.record(
        names["loader"],
        _rates(loader).median,
        "changes/s",
        baseline=names["ceiling"],
        note=f"{_run_note(loader)}; target: ratio >= {TARGETS['ceiling']} of the fair ceiling",
    )
    for case in cases:
        if case.kind in ("loader", "full"):
            continue
        target = TARGETS.get(case.kind)
        pairs = _paired(loader, series[case.kind])
        note = (
            f"paired: {len(series[case.kind])} interleaved rounds, ratio of medians; "
            f"per-round ratios {pairs.low:.2f}-{pairs.high:.2f}"
            if len(series[case.kind]) > 1
            else "one run of the reference, beside the loader's first run"
        )
        if target is not None:
            note += f"; target: ratio >= {target:g}"
        if case.kind == "per-row-8":
            note += " (reference: the old design scaled out)"
        results.record(
            f"{label} loader vs {case.name}{suffix}",
            _rates(loader).median,
            "changes/s",
            baseline=names[case.kind],
            note=note,
        )
    median = _median_run(loader)
    _record_breakdown(results, f"{label} loader", median, suffix)
    results.record(
        f"{label} loader connections{suffix}",
        max(o.connections for o in loader),
        "connections",
        note=(
            "PyMySQL connects by this process during a run (the most of any run), the "
            f"loader's own included; server 'Connections' grew by "
            f"{max(o.detail['server_connections'] for o in loader)}"
        ),
    )
    peak = max(loader, key=lambda o: o.memory.growth_mb if o.memory else 0.0).memory
    assert peak is not None
    results.record(
        f"{label} loader peak memory (RSS growth){suffix}",
        peak.growth_mb,
        "MiB",
        note=(
            f"the most of {len(loader)} runs: peak RSS {peak.peak_mb:.0f} MiB over "
            f"{peak.before_mb:.0f} MiB before the run (which holds "
            f"{workload.staged_bytes / 2**20:.0f} MiB of gzip input); limit 1024 MiB"
        ),
    )


def _record_full(
    results: Results,
    workload: Workload,
    prefill: Workload,
    series: dict[str, list[Outcome]],
    suffix: str,
) -> None:
    label, rows = _label(len(workload.changes)), _label(len(prefill.changes))
    full = series["full"]
    pairs = _paired(full, series["loader"])
    results.record(
        f"{label} loader into a {rows}-row table{suffix}",
        _rates(full).median,
        "changes/s",
        baseline=f"{label} loader (gzip bytes -> COMMIT){suffix}",
        note=(
            f"{_run_note(full)}; vs into an empty table, paired: {len(full)} interleaved rounds,"
            f" per-round ratios {pairs.low:.2f}-{pairs.high:.2f}; the {rows} rows were loaded "
            f"untimed in arrival order; target: ratio >= {TARGETS['full']}"
        ),
    )
    _record_breakdown(results, f"{label} into {rows}", _median_run(full), suffix)


def _median_run(outcomes: list[Outcome]) -> Outcome:
    ordered = sorted(outcomes, key=lambda o: o.seconds)
    return ordered[(len(ordered) - 1) // 2]


def _phase(kind: str) -> str:
    if kind.startswith("LOAD DATA"):
        return "LOAD DATA"
    if kind.startswith(measure.MERGE_KINDS):
        return "merge SQL"
    # The loader counts each file's winners from the stage before merging: merge work.
    if kind.startswith("SELECT _ddbload_stage"):
        return "merge SQL"
    return "other SQL+COMMIT"


def _record_breakdown(results: Results, case: str, outcome: Outcome, suffix: str) -> None:
    """Where the loader's time went in its median run: each phase with its costliest
    statements, and the client's own work."""
    assert outcome.statements is not None
    times = outcome.statements
    for phase in ("LOAD DATA", "merge SQL", "other SQL+COMMIT"):
        kinds = sorted(
            (k for k in times.seconds if _phase(k) == phase), key=lambda k: -times.seconds[k]
        )
        seconds = sum(times.seconds[k] for k in kinds)
        top = "; ".join(f"{k}: {times.seconds[k]:.2f} s x{times.counts[k]}" for k in kinds[:4])
        results.record(
            f"{case} time: {phase}{suffix}",
            seconds,
            "s",
            note=f"{seconds / outcome.seconds:.0%} of the median run; {top or 'none'}",
        )
    client = max(0.0, outcome.seconds - times.total)
    results.record(
        f"{case} time: client (gzip, Arrow, file){suffix}",
        client,
        "s",
        note=(
            f"run time minus time waiting on the server, {client / outcome.seconds:.0%}; "
            "client work done while the server works is not in it"
        ),
    )
