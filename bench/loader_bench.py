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
same work. Figures go to ``bench/results.json`` through ``bench.results``.
"""

from __future__ import annotations

import gc
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pymysql

from bench import baselines, measure
from bench.measure import PeakMemory, Spread, StatementTimes, TableState
from bench.results import Results
from bench.workload import Change, Workload, generate, replay
from contract.config import PipelineConfig, parse_config
from loaders.db import open_connection
from loaders.engine import load_staging_bytes
from loaders.settings import mariadb_server
from loaders.sql import Target, tombstone_name
from loaders.target import prepare_target

FULL_SIZES = (100_000, 1_000_000)
QUICK_SIZES = (20_000,)
# Rounds per size: every case of the size runs once per round, in the same order.
FULL_ROUNDS = 3
QUICK_ROUNDS = 2
# Issue 14's goals for the loader's ratio against each baseline.
TARGETS = {"ceiling": 0.8, "per-row": 25.0, "batched": 3.0, "full": 0.85}
# How long one run of a slow baseline may take before it stops; it then reports the
# rate and checks the state of the prefix it applied, so the suite keeps its time
# on a busy machine. Per-row writes run at ~3,000/s, batched at ~20,000/s.
FULL_BUDGETS_S = {"per-row": 12.0, "per-row-8": 8.0, "batched": 25.0}
QUICK_BUDGETS_S = {"per-row": 5.0, "per-row-8": 3.0, "batched": 10.0}
# Rows already in the target for the "into a full table" case.
FULL_PREFILL = 1_000_000
# Which server the run uses: a private mariadbd (default) or the shared one.
SERVER_ENV = "BENCH_SERVER"
POOL_ENV = "BENCH_BUFFER_POOL"
# Which binary-log settings to run: both (default), off or on.
BINLOG_ENV = "BENCH_BINLOG"
ROUNDS_ENV = "BENCH_ROUNDS"
BINLOG_SUFFIX = ", binlog on"
# The seed of the rows already in the target for the "into a full table" case;
# its keys never meet the measured workload's.
PREFILL_SEED = 777


@dataclass
class Outcome:
    """One timed case: how long, what it left in its table, what it used."""

    changes: int
    seconds: float
    state: TableState
    expected: TableState
    connections: int
    memory: PeakMemory | None = None
    statements: StatementTimes | None = None
    detail: dict = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.changes / self.seconds


def server_params() -> dict:
    """Connection parameters of the benchmark server (``MARIADB_URL`` or root@127.0.0.1;
    the benchmark's databases are its own, never the URL's)."""
    return mariadb_server().connect_kwargs()


def _state(params: dict, table: str, key_column: str, item_column: str) -> TableState:
    conn = pymysql.connect(**params)
    try:
        return measure.table_state(conn, table, key_column, item_column)
    finally:
        conn.close()


def _count(params: dict, table: str) -> int:
    conn = pymysql.connect(**params)
    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT COUNT(*) FROM `{table}`")
            return int(cur.fetchone()[0])
    finally:
        conn.close()


Writer = Callable[[dict, str, list[Change], float | None], Sequence[Change]]


def _baseline(
    params: dict, workload: Workload, table: str, write: Writer, budget_s: float | None
) -> Outcome:
    """Time one old design; ``expected`` is the model state of the changes it applied."""
    conn = pymysql.connect(**params)
    try:
        baselines.create_table(conn, table)
    finally:
        conn.close()
    with measure.counting_connections() as counter:
        started = time.perf_counter()
        deadline = None if budget_s is None else started + budget_s
        applied = write(params, table, workload.changes, deadline)
        seconds = time.perf_counter() - started
    state = _state(params, table, baselines.KEY_COLUMN, baselines.ITEM_COLUMN)
    whole = len(applied) == len(workload.changes)
    expected = measure.expected_state(workload.expected if whole else replay(applied))
    return Outcome(len(applied), seconds, state, expected, counter.count, detail={"whole": whole})


def case_per_row(
    params: dict, workload: Workload, table: str = "per_row", budget_s: float | None = None
) -> Outcome:
    return _baseline(params, workload, table, baselines.per_row, budget_s)


def case_per_row_concurrent(
    params: dict, workload: Workload, table: str = "per_row_8", budget_s: float | None = None
) -> Outcome:
    return _baseline(params, workload, table, baselines.per_row_concurrent, budget_s)


def case_batched(
    params: dict, workload: Workload, table: str = "batched", budget_s: float | None = None
) -> Outcome:
    return _baseline(params, workload, table, baselines.batched, budget_s)


def case_raw_load(params: dict, workload: Workload, path: Path, table: str = "raw_load") -> Outcome:
    """The raw ceiling: every change (``path``, from ``baselines.write_raw_file``), unkeyed."""
    conn = pymysql.connect(**params)
    try:
        baselines.create_raw_table(conn, table)
    finally:
        conn.close()
    with measure.counting_connections() as counter:
        started = time.perf_counter()
        baselines.raw_load(params, table, path)
        seconds = time.perf_counter() - started
    n = len(workload.changes)
    # Nothing is merged: the table holds every change, and the check is their count.
    return Outcome(
        n, seconds, TableState(_count(params, table), 0), TableState(n, 0), counter.count
    )


def bench_config() -> PipelineConfig:
    """No declared tables: the workload's table loads with the lossless default mapping."""
    return parse_config({})


def loader_target(config: PipelineConfig, workload: Workload) -> Target:
    """The target the loader creates for the workload's table."""
    return Target.of(config.mapping_for(workload.table, {"id": "S"}))


def loader_columns(config: PipelineConfig, workload: Workload) -> tuple[str, str, str]:
    """(target table, key column, item column) the loader writes the workload into."""
    mapping = loader_target(config, workload).mapping
    assert mapping.overflow_column is not None
    return mapping.target, mapping.keys[0].column, mapping.overflow_column


@dataclass(frozen=True)
class WinnerFiles:
    """The fair ceiling's prepared input: live rows and tombstones, in key order."""

    rows: Path
    tombs: Path
    live: int
    deleted: int
    expected: TableState


def winner_files(
    changes: Sequence[Change], folder: Path, name: str, *, ordered: bool = True
) -> WinnerFiles:
    """Write the rows a merge of ``changes`` into an empty target keeps (``folder/name-*``).

    ``ordered=False`` keeps arrival order instead of key order (for changes that are
    already one per key): rows then land as random inserts, as in a table that grew
    over time.
    """
    winners = baselines.newest_per_key(changes) if ordered else list(changes)
    rows, tombs = folder / f"{name}-rows.tsv", folder / f"{name}-tombs.tsv"
    live, deleted = baselines.write_winner_files(winners, rows, tombs)
    expected = measure.expected_state({c.key: c.item for c in winners if c.item is not None})
    return WinnerFiles(rows, tombs, live, deleted, expected)


def _load_winners(
    params: dict, config: PipelineConfig, workload: Workload, files: WinnerFiles
) -> float:
    """Create the loader's target (untimed), then time the ceiling's load into it."""
    target = loader_target(config, workload)
    conn = pymysql.connect(**params)
    try:
        prepare_target(conn, target)
    finally:
        conn.close()
    table, key_column, item_column = loader_columns(config, workload)
    started = time.perf_counter()
    loaded = baselines.load_winners(
        params,
        table=table,
        tomb=tombstone_name(table),
        key_column=key_column,
        item_column=item_column,
        rows=files.rows,
        tombs=files.tombs,
    )
    seconds = time.perf_counter() - started
    if loaded != (files.live, files.deleted):
        raise AssertionError(f"the ceiling loaded {loaded}, not {(files.live, files.deleted)}")
    return seconds


def case_ceiling(
    params: dict, workload: Workload, files: WinnerFiles, config: PipelineConfig | None = None
) -> Outcome:
    """The fair ceiling: deduplicated winners, keyed, into the loader's target shape."""
    config = config or bench_config()
    seconds = _load_winners(params, config, workload, files)
    table, key_column, item_column = loader_columns(config, workload)
    state = _state(params, table, key_column, item_column)
    return Outcome(
        len(workload.changes), seconds, state, files.expected, 1,
        detail={"tombstones": _count(params, tombstone_name(table))},
    )  # fmt: skip


def case_loader(
    params: dict,
    workload: Workload,
    config: PipelineConfig | None = None,
    expected: TableState | None = None,
) -> Outcome:
    """The loader, from the staging objects' gzip bytes to COMMIT, on one connection.

    ``expected``: the state the target must end in (default: the workload's model).
    """
    config = config or bench_config()
    # Memory the previous run freed goes back to the system first, so this run's
    # peak counts what it needs itself.
    gc.collect()
    pa.default_memory_pool().release_unused()
    admin = pymysql.connect(**params)
    server_before = measure.server_connections(admin)
    with (
        measure.counting_connections() as counter,
        measure.peak_rss() as memory,
        measure.timing_statements() as statements,
    ):
        conn = open_connection({k: v for k, v in params.items() if k != "autocommit"})
        try:
            # The clock starts once the connection is open: the timed span is
            # gzip bytes -> COMMIT, as for the baselines' statements.
            statements.seconds.clear()
            statements.counts.clear()
            started = time.perf_counter()
            jobs = load_staging_bytes(conn, config, workload.objects)
            seconds = time.perf_counter() - started
        finally:
            conn.close()
    server_delta = measure.server_connections(admin) - server_before
    admin.close()
    failed = [job for job in jobs if job.status != "loaded"]
    if failed:
        raise RuntimeError(
            f"the loader did not load {len(failed)} of {len(jobs)} staging objects; "
            f"first: {failed[0].status}: {failed[0].error}"
        )
    state = _state(params, *loader_columns(config, workload))
    return Outcome(
        len(workload.changes),
        seconds,
        state,
        expected or measure.expected_state(workload.expected),
        counter.count,
        memory,
        statements,
        detail={"jobs": jobs, "server_connections": server_delta},
    )


def case_into_full(
    params: dict, workload: Workload, prefill: Workload, files: WinnerFiles, expected: TableState
) -> Outcome:
    """The loader into a target already holding ``prefill``'s rows (loaded untimed);
    ``expected``: the state of both together."""
    config = bench_config()
    _load_winners(params, config, prefill, files)
    return case_loader(params, workload, config, expected)


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


def _server_choice() -> str:
    choice = os.environ.get(SERVER_ENV, "private").strip().lower()
    if choice not in ("private", "shared"):
        raise SystemExit(f"{SERVER_ENV} must be 'private' or 'shared', not {choice!r}")
    return choice


def _binlog_choice() -> tuple[bool, ...]:
    choice = os.environ.get(BINLOG_ENV, "both").strip().lower()
    options = {"both": (False, True), "off": (False,), "on": (True,)}
    if choice not in options:
        raise SystemExit(f"{BINLOG_ENV} must be 'both', 'off' or 'on', not {choice!r}")
    return options[choice]


@contextmanager
def bench_server(binlog: bool = False) -> Iterator[tuple[dict, str]]:
    """The server every case of a run uses, and how to name it in the results.

    Default: a private mariadbd started for this run with a production-like buffer
    pool (``BENCH_BUFFER_POOL``, 2G), the binary log on if ``binlog``;
    ``BENCH_SERVER=shared`` uses the shared server (``MARIADB_URL`` or
    root@127.0.0.1:3306) as configured.
    """
    if _server_choice() == "shared":
        params = server_params()
        yield params, f"shared server {params['host']}:{params['port']}"
        return
    pool = os.environ.get(POOL_ENV, "2G")
    with measure.private_server(pool, binlog=binlog) as params:
        yield params, f"private mariadbd on 127.0.0.1:{params['port']} (buffer pool {pool})"


def run(results: Results, quick: bool) -> None:
    sizes = QUICK_SIZES if quick else FULL_SIZES
    rounds = int(os.environ.get(ROUNDS_ENV, QUICK_ROUNDS if quick else FULL_ROUNDS))
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
    shared = _server_choice() == "shared"
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
    rounds: int = FULL_ROUNDS,
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
            series = _rounds(databases, cases, rounds, _label(len(workload.changes)))
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
