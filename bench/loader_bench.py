"""Loader benchmark (``python -m bench loader``): the bulk loader against the designs it replaces.

The same changes (``bench.workload``) go into MariaDB by: per-row autocommit
upserts on one connection (the old design), the same on 8 connections,
batched ``executemany`` upserts, a raw ``LOAD DATA`` of a prepared file with
no merge (the ceiling), the same into a table keyed like the target (a second
ceiling, for reference), and the loader from the staging objects' gzip bytes
to COMMIT; then the loader again into a table already holding 1,000,000 rows.
By default every case runs against a private mariadbd the run starts with a
production-like buffer pool (``BENCH_SERVER=shared`` for the shared server).
Each case runs in its own fresh database and must end in the state the
workload's model predicts (row count + checksum), so the rates compare the
same work. Figures go to ``bench/results.json`` through ``bench.results``.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import pymysql

from bench import baselines, measure
from bench.measure import PeakMemory, StatementTimes, TableState
from bench.results import Results
from bench.workload import Change, Workload, generate, replay
from contract import settings
from contract.config import PipelineConfig, parse_config
from loaders.db import open_connection
from loaders.engine import load_staging_bytes

FULL_SIZES = (100_000, 1_000_000)
QUICK_SIZES = (20_000,)
# Issue 3's targets for the loader's ratio against each baseline.
_TARGETS = {"raw": 0.8, "per-row": 25, "batched": 3}
# How long a slow baseline may run before it stops; it then reports the rate
# and checks the state of the prefix it applied (a busy shared machine can make
# per-row writes 10x slower, and the suite must stay within its time).
FULL_BUDGETS_S = {"per-row": 75.0, "batched": 120.0}
QUICK_BUDGETS_S = {"per-row": 30.0, "batched": 30.0}
# Which server the run uses: a private mariadbd (default) or the shared one.
SERVER_ENV = "BENCH_SERVER"
POOL_ENV = "BENCH_BUFFER_POOL"
# The seed of the rows already in the target for the "into a full table" case;
# its keys never meet the measured workload's.
PREFILL_SEED = 777


@dataclass
class Outcome:
    """One timed case: how long, what it left in its table, what it used."""

    changes: int
    seconds: float
    state: TableState
    connections: int
    memory: PeakMemory | None = None
    statements: StatementTimes | None = None
    detail: dict = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.changes / self.seconds


def server_params() -> dict:
    """Connection parameters of the benchmark server (``MARIADB_URL`` or root@127.0.0.1)."""
    url = urlparse(os.environ.get(settings.ENV_MARIADB_URL, "mysql://root@127.0.0.1:3306"))
    return {
        "host": url.hostname or "127.0.0.1",
        "port": url.port or 3306,
        "user": url.username or "root",
        "password": url.password or "",
    }


def _state(params: dict, table: str, key_column: str, item_column: str) -> TableState:
    conn = pymysql.connect(**params)
    try:
        return measure.table_state(conn, table, key_column, item_column)
    finally:
        conn.close()


Writer = Callable[[dict, str, list[Change], float | None], Sequence[Change]]


def _baseline(
    params: dict, workload: Workload, table: str, write: Writer, budget_s: float | None
) -> Outcome:
    """Time one baseline; ``detail["expected"]`` is the model state of what it applied."""
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
    return Outcome(
        len(applied), seconds, state, counter.count, detail={"expected": expected, "whole": whole}
    )


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


def case_raw_load(params: dict, workload: Workload, table: str = "raw_load") -> Outcome:
    """The ceiling; its table holds every change, so its state is (changes, 0)."""
    conn = pymysql.connect(**params)
    try:
        baselines.create_raw_table(conn, table)
    finally:
        conn.close()
    with tempfile.TemporaryDirectory(prefix="ddbbench-") as tmp:
        path = Path(tmp) / "changes.tsv"
        baselines.write_raw_file(workload.changes, path)
        with measure.counting_connections() as counter:
            started = time.perf_counter()
            loaded = baselines.raw_load(params, table, path)
            seconds = time.perf_counter() - started
    conn = pymysql.connect(**params)
    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT COUNT(*) FROM `{table}`")
            rows = int(cur.fetchone()[0])
    finally:
        conn.close()
    return Outcome(
        len(workload.changes),
        seconds,
        TableState(rows, 0),
        counter.count,
        detail={"loaded": loaded},
    )


def case_raw_load_keyed(params: dict, workload: Workload, table: str = "raw_keyed") -> Outcome:
    """The second ceiling: the same file into a table keyed like the target (``id``).

    ``REPLACE``: each change replaces its key's row in arrival order, no version
    guard, deletes kept as rows; what it measures is the primary-key B-tree work
    every keyed design pays and the unkeyed ceiling does not.
    """
    conn = pymysql.connect(**params)
    try:
        baselines.create_raw_table(conn, table, keyed=True)
    finally:
        conn.close()
    with tempfile.TemporaryDirectory(prefix="ddbbench-") as tmp:
        path = Path(tmp) / "changes.tsv"
        baselines.write_raw_file(workload.changes, path)
        with measure.counting_connections() as counter:
            started = time.perf_counter()
            baselines.raw_load(params, table, path, replace=True)
            seconds = time.perf_counter() - started
    conn = pymysql.connect(**params)
    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT COUNT(*) FROM `{table}`")
            rows = int(cur.fetchone()[0])
    finally:
        conn.close()
    return Outcome(len(workload.changes), seconds, TableState(rows, 0), counter.count)


def bench_config() -> PipelineConfig:
    """No declared tables: the workload's table loads with the lossless default mapping."""
    return parse_config({})


def loader_columns(config: PipelineConfig, workload: Workload) -> tuple[str, str, str]:
    """(target table, key column, item column) the loader writes the workload into."""
    mapping = config.mapping_for(workload.table, {"id": "S"})
    assert mapping.overflow_column is not None
    return mapping.target, mapping.keys[0].column, mapping.overflow_column


def case_loader(params: dict, workload: Workload, config: PipelineConfig | None = None) -> Outcome:
    """The loader, from the staging objects' gzip bytes to COMMIT, on one connection."""
    config = config or bench_config()
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
    target, key_column, item_column = loader_columns(config, workload)
    state = _state(params, target, key_column, item_column)
    return Outcome(
        len(workload.changes),
        seconds,
        state,
        counter.count,
        memory,
        statements,
        detail={"jobs": jobs, "server_connections": server_delta},
    )


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


def _timed_note(outcome: Outcome, check: str) -> str:
    return f"{outcome.changes:,} changes in {outcome.seconds:.1f} s; {check}"


Databases = Callable[[], AbstractContextManager[dict]]


def _server_choice() -> str:
    choice = os.environ.get(SERVER_ENV, "private").strip().lower()
    if choice not in ("private", "shared"):
        raise SystemExit(f"{SERVER_ENV} must be 'private' or 'shared', not {choice!r}")
    return choice


@contextmanager
def bench_server() -> Iterator[tuple[dict, str]]:
    """The server every case of a run uses, and how to name it in the results.

    Default: a private mariadbd started for this run with a production-like buffer
    pool (``BENCH_BUFFER_POOL``, 2G); ``BENCH_SERVER=shared`` uses the shared server
    (``MARIADB_URL`` or root@127.0.0.1:3306) as configured.
    """
    if _server_choice() == "shared":
        params = server_params()
        yield params, f"shared server {params['host']}:{params['port']}"
        return
    pool = os.environ.get(POOL_ENV, "2G")
    with measure.private_server(pool) as params:
        yield params, f"private mariadbd on 127.0.0.1:{params['port']} (buffer pool {pool})"


def run(results: Results, quick: bool) -> None:
    sizes = QUICK_SIZES if quick else FULL_SIZES
    with results.suite("loader"), bench_server() as (server, label):
        settings = measure.server_settings(server)
        print(
            f"  server: {label}; MariaDB {settings['version']}, buffer pool "
            f"{settings['buffer_pool_mib']} MiB",
            flush=True,
        )
        load_before = os.getloadavg()[0]
        run_suite(
            results,
            sizes,
            prefill=sizes[-1] if quick else 1_000_000,
            databases=lambda: measure.scratch_database(server),
            budgets_s=QUICK_BUDGETS_S if quick else FULL_BUDGETS_S,
        )
        _record_context(results, label, settings, load_before)


def _record_context(
    results: Results, label: str, settings: dict[str, str], load_before: float
) -> None:
    """What the figures depend on most: how busy the machine was, which server, its cache."""
    results.record(
        "machine load average (1 min) at the end",
        os.getloadavg()[0],
        "load",
        note=f"{load_before:.1f} at the start, on {len(os.sched_getaffinity(0))} CPUs",
    )
    results.record(
        "server innodb_buffer_pool_size",
        float(settings["buffer_pool_mib"]),
        "MiB",
        note=f"{label}; MariaDB {settings['version']}, innodb_flush_log_at_trx_commit="
        f"{settings['innodb_flush_log_at_trx_commit']}, redo log {settings['redo_log_mib']} MiB, "
        f"log_bin={settings['log_bin']}; every case of the run used this server. A target "
        "larger than the pool makes every merge read and write pages on disk",
    )


def run_suite(
    results: Results,
    sizes: tuple[int, ...],
    *,
    prefill: int,
    databases: Databases,
    budgets_s: dict[str, float] | None = None,
) -> None:
    """Every case at every size (per-row at the smallest), each in a database from ``databases``."""
    workload = None
    for n in sizes:
        started = time.perf_counter()
        workload = generate(n)
        print(
            f"  ({_label(n)}: {len(workload.objects)} staging objects, "
            f"{workload.staged_bytes / 2**20:.0f} MiB gzip, generated in "
            f"{time.perf_counter() - started:.0f} s, not timed)",
            flush=True,
        )
        _run_size(results, databases, workload, per_row=n == sizes[0], budgets_s=budgets_s or {})
    assert workload is not None
    _run_into_full_table(results, databases, workload, prefill=prefill)


def _run_size(
    results: Results,
    databases: Databases,
    workload: Workload,
    *,
    per_row: bool,
    budgets_s: dict[str, float],
) -> None:
    label = _label(len(workload.changes))
    raw_name = f"{label} raw LOAD DATA, no merge (ceiling)"
    with databases() as db:
        raw = case_raw_load(db, workload)
    if raw.state.rows != len(workload.changes):
        raise AssertionError(f"raw LOAD DATA loaded {raw.state.rows} of {raw.changes} rows")
    results.record(raw_name, raw.rate, "changes/s", note=_timed_note(raw, "unkeyed table"))
    keyed_name = f"{label} raw LOAD DATA REPLACE, keyed like the target (ceiling 2)"
    with databases() as db:
        keyed = case_raw_load_keyed(db, workload)
    keys = len({c.key for c in workload.changes})
    if keyed.state.rows != keys:
        raise AssertionError(f"keyed raw LOAD DATA left {keyed.state.rows} rows, not {keys}")
    results.record(
        keyed_name,
        keyed.rate,
        "changes/s",
        note=_timed_note(keyed, f"{keys:,} rows, one per key (primary key id)"),
    )
    cases: list[tuple[str, Callable[..., Outcome], str]] = []
    if per_row:
        cases += [
            (f"{label} per-row autocommit, 1 connection", case_per_row, "per-row"),
            (f"{label} per-row autocommit, 8 connections", case_per_row_concurrent, "per-row"),
        ]
    cases.append((f"{label} batched executemany, 1000/txn", case_batched, "batched"))
    for name, case, kind in cases:
        with databases() as db:
            outcome = case(db, workload, budget_s=budgets_s.get(kind))
        check = _check(name, outcome.state, outcome.detail["expected"])
        if not outcome.detail["whole"]:
            check += (
                f" of the {outcome.changes:,}-change prefix applied within the "
                f"{budgets_s[kind]:.0f} s budget"
            )
        results.record(name, outcome.rate, "changes/s", note=_timed_note(outcome, check))

    want = measure.expected_state(workload.expected)
    with databases() as db:
        loaded = case_loader(db, workload)
    loader_name = f"{label} loader (gzip bytes -> COMMIT)"
    note = _timed_note(loaded, _check(loader_name, loaded.state, want))
    note += f"; target: ratio >= {_TARGETS['raw']}"
    results.record(loader_name, loaded.rate, "changes/s", baseline=raw_name, note=note)
    results.record(
        f"{label} loader vs raw LOAD DATA keyed like the target",
        loaded.rate,
        "changes/s",
        baseline=keyed_name,
        note="second ceiling, for reference (the defined target is against the unkeyed one)",
    )
    _compare(results, label, loaded.rate)
    _record_breakdown(results, f"{label} loader", loaded)
    results.record(
        f"{label} loader connections",
        loaded.connections,
        "connections",
        note=(
            "PyMySQL connects by this process during the run, the loader's own included; "
            f"server 'Connections' grew by {loaded.detail['server_connections']} "
            "(server-wide: other clients of this shared server count too)"
        ),
    )
    assert loaded.memory is not None
    results.record(
        f"{label} loader peak memory (RSS growth)",
        loaded.memory.growth_mb,
        "MiB",
        note=(
            f"peak RSS {loaded.memory.peak_mb:.0f} MiB over {loaded.memory.before_mb:.0f} MiB "
            f"before the run (which holds {workload.staged_bytes / 2**20:.0f} MiB of gzip input)"
        ),
    )


def _phase(kind: str) -> str:
    if kind.startswith("LOAD DATA"):
        return "LOAD DATA"
    if kind.startswith(measure.MERGE_KINDS):
        return "merge SQL"
    # The loader counts each file's winners from the stage before merging: merge work.
    if kind.startswith("SELECT _ddbload_stage"):
        return "merge SQL"
    return "other SQL+COMMIT"


def _record_breakdown(results: Results, case: str, outcome: Outcome) -> None:
    """Where the loader's time went: each phase with its costliest statements, and the client."""
    assert outcome.statements is not None
    times = outcome.statements
    for phase in ("LOAD DATA", "merge SQL", "other SQL+COMMIT"):
        kinds = sorted(
            (k for k in times.seconds if _phase(k) == phase), key=lambda k: -times.seconds[k]
        )
        seconds = sum(times.seconds[k] for k in kinds)
        top = "; ".join(f"{k}: {times.seconds[k]:.1f} s x{times.counts[k]}" for k in kinds[:4])
        results.record(
            f"{case} time: {phase}",
            seconds,
            "s",
            note=f"{seconds / outcome.seconds:.0%} of the run; {top or 'none'}",
        )
    client = max(0.0, outcome.seconds - times.total)
    results.record(
        f"{case} time: client (gzip, Arrow, file)",
        client,
        "s",
        note=f"run time minus time waiting on the server, {client / outcome.seconds:.0%}",
    )


def _compare(results: Results, label: str, rate: float) -> None:
    """The loader against each slower baseline measured so far (per-row may be on a smaller set)."""
    for entry in list(results.entries):
        if entry.unit != "changes/s" or "loader" in entry.name or "raw LOAD" in entry.name:
            continue
        if not (entry.name.startswith(label) or "per-row" in entry.name):
            continue
        case = entry.name.split(" ", 1)[1]
        target = _TARGETS["per-row" if "per-row" in case else "batched"]
        where = "" if entry.name.startswith(label) else f"; per-row measured on {entry.name}"
        results.record(
            f"{label} loader vs {case}",
            rate,
            "changes/s",
            baseline=entry.name,
            note=f"target: ratio >= {target}{where}",
        )


def _run_into_full_table(
    results: Results, databases: Databases, workload: Workload, *, prefill: int
) -> None:
    """The same load into a target that already holds ``prefill`` rows (other keys)."""
    label = _label(len(workload.changes))
    prefill_load = generate(prefill, seed=PREFILL_SEED, mix=(1.0, 0.0, 0.0, 0.0))
    want = measure.expected_state({**prefill_load.expected, **workload.expected})
    name = f"{label} loader into a {_label(prefill)}-row table"
    with databases() as db:
        case_loader(db, prefill_load)
        del prefill_load
        loaded = case_loader(db, workload)
    note = _timed_note(loaded, _check(name, loaded.state, want))
    results.record(
        name,
        loaded.rate,
        "changes/s",
        baseline=f"{label} loader (gzip bytes -> COMMIT)",
        note=note + "; target: ratio >= 0.83 (at most 20% slower)",
    )
    _record_breakdown(results, f"{label} into {_label(prefill)}", loaded)
