"""The cases the loader benchmark times (``bench.loader_bench``), and the server they run on.

Each case puts one workload (``bench.workload``) into MariaDB one way and returns an
``Outcome``: how long it took, the state it left (row count + checksum) beside the
state the workload's model predicts, and the connections, memory and statement
times it used. The old designs' writers live in ``bench.baselines``; the loader
case calls the real ``loaders.engine`` on the staging objects' gzip bytes.
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pymysql

from bench import baselines, measure
from bench.measure import PeakMemory, StatementTimes, TableState
from bench.workload import Change, Workload, replay
from contract.config import PipelineConfig, parse_config
from loaders.db import open_connection
from loaders.engine import load_staging_bytes
from loaders.settings import mariadb_server
from loaders.sql import Target, tombstone_name
from loaders.target import prepare_target

# Which server the run uses: a private mariadbd (default) or the shared one.
SERVER_ENV = "BENCH_SERVER"
POOL_ENV = "BENCH_BUFFER_POOL"


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


def server_choice() -> str:
    choice = os.environ.get(SERVER_ENV, "private").strip().lower()
    if choice not in ("private", "shared"):
        raise SystemExit(f"{SERVER_ENV} must be 'private' or 'shared', not {choice!r}")
    return choice


@contextmanager
def bench_server(binlog: bool = False) -> Iterator[tuple[dict, str]]:
    """The server every case of a run uses, and how to name it in the results.

    Default: a private mariadbd started for this run with a production-like buffer
    pool (``BENCH_BUFFER_POOL``, 2G), the binary log on if ``binlog``;
    ``BENCH_SERVER=shared`` uses the shared server (``MARIADB_URL`` or
    root@127.0.0.1:3306) as configured.
    """
    if server_choice() == "shared":
        params = server_params()
        yield params, f"shared server {params['host']}:{params['port']}"
        return
    pool = os.environ.get(POOL_ENV, "2G")
    with measure.private_server(pool, binlog=binlog) as params:
        yield params, f"private mariadbd on 127.0.0.1:{params['port']} (buffer pool {pool})"
