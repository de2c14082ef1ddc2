"""Lanes benchmark (``python -m bench lanes``): four tables, one lane in turn against four lanes.

Four tables of 250,000 changes each (``bench.workload``, one seed and key prefix per
table) are loaded into one private mariadbd (``bench.loader_cases.bench_server``) two
ways, from the staging objects' gzip bytes to COMMIT:

* one lane: one process, one connection, the four tables one after the other, as the
  single loader did before lanes;
* four lanes: four processes, each with its own connection and one table, started
  together, as four Lambda runs of four lanes are.

Every case runs in its own fresh database and must leave each target in the state the
workload model predicts (row count + checksum). The processes are started (Python and
the workload loaded) before the clock starts; the clock stops when the last lane is
done. The cases alternate round after round (one lane, four lanes, one lane, ...), and
the ratio is that of the medians, with the per-round ratios beside it. Each run also
counts the CPU time its lanes (every thread) and the server spent, so a note says how
many of the machine's CPUs the case kept busy: what is left for more lanes to use.

The whole comparison runs twice: with the server's data on the machine's disk, as the
loader benchmark keeps it, then in memory (``/dev/shm``; entries end in ", datadir in
memory"), where no write waits on a disk other jobs share. ``BENCH_LANES_DATADIR``
= disk | memory | both (default) picks.

Entries: ``4 tables, one lane`` and ``4 tables, 4 lanes`` (changes/s over all four
tables), their ratio (goal >= 1.5x on a two-core machine), each lane's own rate while
four run, and the per-lane ceiling: what one lane loads alone, which ``ops.measured_rates``
reads (an entry of this suite with "ceiling" in its name, unit changes/s).
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import queue
import resource
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymysql

from bench import measure
from bench.loader_cases import bench_config, bench_server, loader_columns
from bench.measure import Spread, TableState
from bench.results import Results
from bench.workload import Workload, generate

TABLES = 4
FULL_CHANGES = 250_000
QUICK_CHANGES = 20_000
FULL_ROUNDS = 3
QUICK_ROUNDS = 2
ROUNDS_ENV = "BENCH_ROUNDS"
GOAL_RATIO = 1.5
ONE_LANE = "4 tables, one lane"
FOUR_LANES = "4 tables, 4 lanes"
CEILING = "per-lane ceiling (one lane alone)"
# Where the private server keeps its data: on disk (default) and in memory (/dev/shm).
DATADIR_ENV = "BENCH_LANES_DATADIR"
MEMORY_DIR = "/dev/shm"
MEMORY_SUFFIX = ", datadir in memory"
# How long a case may take before the benchmark gives up on it (a loaded machine is slow).
CASE_TIMEOUT_S = 1800.0
# Workers start from a fresh interpreter: no pyarrow thread pool or open socket of this
# process is copied into them, as fork would.
_CONTEXT = multiprocessing.get_context("spawn")


@dataclass
class CaseRun:
    """One timed case: the whole span, each lane's own span inside it, and the CPU time
    the lanes (all their threads) and the server spent in it."""

    seconds: float
    lane_seconds: list[float]
    changes: int
    lanes_cpu: float = 0.0
    server_cpu: float | None = None

    @property
    def rate(self) -> float:
        return self.changes / self.seconds

    def cores(self) -> str:
        """How many CPUs the case kept busy on average, lanes and server."""
        used = f"lanes {self.lanes_cpu / self.seconds:.2f}"
        if self.server_cpu is not None:
            used += f" + server {self.server_cpu / self.seconds:.2f}"
        return used + " CPUs"


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def server_pid(port: int) -> int | None:
    """The pid of the mariadbd listening on ``port`` (the private server), if found."""
    wanted = f"--port={port}".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if wanted in f.read().split(b"\0"):
                    return int(entry)
        except OSError:
            continue
    return None


def process_cpu(pid: int | None) -> float | None:
    """CPU seconds (user + system, all threads) a process has used so far."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _lane(
    params: dict[str, Any],
    paths: list[str],
    ready: Any,
    go: Any,
    done: Any,
) -> None:
    """A lane's process: load its tables in turn on one connection once told to go."""
    from loaders.db import open_connection
    from loaders.engine import load_staging_bytes

    config = bench_config()
    objects = []
    for path in paths:
        with open(path, "rb") as f:
            objects.append(pickle.load(f))
    conn = open_connection(params)
    try:
        ready.put(os.getpid())
        if not go.wait(timeout=CASE_TIMEOUT_S):
            return
        started, cpu = time.perf_counter(), _cpu_seconds()
        failed = []
        for table_objects in objects:
            jobs = load_staging_bytes(conn, config, table_objects)
            failed += [f"{j.key}: {j.status}: {j.error}" for j in jobs if j.status != "loaded"]
        done.put((started, time.perf_counter(), _cpu_seconds() - cpu, failed))
    finally:
        conn.close()


def run_case(params: dict[str, Any], lanes: list[list[str]], server: int | None = None) -> CaseRun:
    """Load the pickled workloads, ``lanes[i]`` by process ``i``, all at once; time it
    (and the CPU of the server process ``server``, when given)."""
    ready, done, go = _CONTEXT.Queue(), _CONTEXT.Queue(), _CONTEXT.Event()
    conn_params = {k: v for k, v in params.items() if k != "autocommit"}
    workers = [
        _CONTEXT.Process(target=_lane, args=(conn_params, paths, ready, go, done))
        for paths in lanes
    ]
    for w in workers:
        w.start()
    try:
        for _ in workers:
            ready.get(timeout=CASE_TIMEOUT_S)
        started, server_before = time.perf_counter(), process_cpu(server)
        go.set()
        finished = []
        for _ in workers:
            try:
                finished.append(done.get(timeout=CASE_TIMEOUT_S))
            except queue.Empty:
                raise RuntimeError("a lane did not finish in time") from None
        seconds = time.perf_counter() - started
        server_after = process_cpu(server)
    finally:
        for w in workers:
            w.join(timeout=60)
            if w.is_alive():
                w.terminate()
    failed = [f for *_, fs in finished for f in fs]
    if failed:
        raise RuntimeError(f"{len(failed)} staging objects did not load; first: {failed[0]}")
    server_cpu = None
    if server_before is not None and server_after is not None:
        server_cpu = server_after - server_before
    return CaseRun(
        seconds,
        [end - begin for begin, end, _, _ in finished],
        0,
        lanes_cpu=sum(cpu for _, _, cpu, _ in finished),
        server_cpu=server_cpu,
    )


def _states(params: dict[str, Any], workloads: list[Workload]) -> list[TableState]:
    config = bench_config()
    conn = pymysql.connect(**params)
    try:
        return [measure.table_state(conn, *loader_columns(config, w)) for w in workloads]
    finally:
        conn.close()


@contextmanager
def lanes_server(in_memory: bool) -> Iterator[tuple[dict[str, Any], str]]:
    """The private mariadbd of ``bench_server``, its data on disk or in memory (/dev/shm).

    On disk, as the loader benchmark runs it: on this machine a disk every other job
    writes to as well. In memory, writes cost no I/O wait, which shows what the lanes
    do when the database is not waiting on a shared disk.
    """
    with ExitStack() as stack:
        saved = tempfile.tempdir
        if in_memory:
            tempfile.tempdir = MEMORY_DIR
        try:
            server, label = stack.enter_context(bench_server())
        finally:
            tempfile.tempdir = saved
        yield server, label + (f", datadir in {MEMORY_DIR}" if in_memory else "")


def _datadirs() -> tuple[bool, ...]:
    choice = os.environ.get(DATADIR_ENV, "both").strip().lower()
    options = {"both": (False, True), "disk": (False,), "memory": (True,)}
    if choice not in options:
        raise SystemExit(f"{DATADIR_ENV} must be 'both', 'disk' or 'memory', not {choice!r}")
    return options[choice]


def run(results: Results, quick: bool) -> None:
    n = QUICK_CHANGES if quick else FULL_CHANGES
    rounds = int(os.environ.get(ROUNDS_ENV, QUICK_ROUNDS if quick else FULL_ROUNDS))
    started = time.perf_counter()
    workloads = [
        generate(n, seed=4242 + i, table=f"bench_lane_{i}", key_prefix=f"lane{i}-")
        for i in range(TABLES)
    ]
    expected = [measure.expected_state(w.expected) for w in workloads]
    changes = sum(len(w.changes) for w in workloads)
    print(
        f"  ({TABLES} tables x {n:,} changes, {sum(len(w.objects) for w in workloads)} staging "
        f"objects, {sum(w.staged_bytes for w in workloads) / 2**20:.0f} MiB gzip, generated in "
        f"{time.perf_counter() - started:.0f} s, not timed)",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="ddbbench-lanes-") as tmp:
        paths = []
        for i, w in enumerate(workloads):
            path = Path(tmp) / f"table-{i}.pickle"
            path.write_bytes(pickle.dumps(w.objects, protocol=pickle.HIGHEST_PROTOCOL))
            paths.append(str(path))
        cases = {ONE_LANE: [paths], FOUR_LANES: [[p] for p in paths]}
        for in_memory in _datadirs():
            suffix = MEMORY_SUFFIX if in_memory else ""
            with lanes_server(in_memory) as (server, label):
                pid = server_pid(server["port"])
                load_before = os.getloadavg()[0]
                series: dict[str, list[CaseRun]] = {name: [] for name in cases}
                for r in range(rounds):
                    for name, lanes in cases.items():
                        with measure.scratch_database(server) as db:
                            outcome = run_case(db, lanes, pid)
                            states = _states(db, workloads)
                        if states != expected:
                            raise AssertionError(f"{name}: the targets differ from the model")
                        outcome.changes = changes
                        series[name].append(outcome)
                        print(
                            f"    round {r + 1}: {name}{suffix}: {outcome.seconds:.2f} s "
                            f"({outcome.rate:,.0f} changes/s; {outcome.cores()})",
                            flush=True,
                        )
                _record(results, series, n, label, load_before, suffix)


def _cpu_note(runs: list[CaseRun]) -> str:
    median = sorted(runs, key=lambda o: o.seconds)[(len(runs) - 1) // 2]
    return f"its median run kept {median.cores()} busy"


def _record(
    results: Results,
    series: dict[str, list[CaseRun]],
    n: int,
    label: str,
    load_before: float,
    suffix: str = "",
) -> None:
    """The suite's entries; the ceiling (read by ``ops.measured_rates``) from the disk run only."""
    one, four = series[ONE_LANE], series[FOUR_LANES]
    one_rates, four_rates = Spread.of([o.rate for o in one]), Spread.of([o.rate for o in four])
    pairs = Spread.of([b.rate / a.rate for a, b in zip(one, four, strict=True)])
    cpus = len(os.sched_getaffinity(0))
    where = (
        f"{TABLES} tables x {n:,} changes, {label}; each case in a fresh database, state = model"
    )
    results.record(
        ONE_LANE + suffix,
        one_rates.median,
        "changes/s",
        note=f"{one_rates.describe('changes/s')}; one process, one connection, the tables "
        f"in turn; {_cpu_note(one)} of {cpus}; {where}",
    )
    results.record(
        FOUR_LANES + suffix,
        four_rates.median,
        "changes/s",
        baseline=ONE_LANE + suffix,
        note=f"{four_rates.describe('changes/s')}; four processes, a connection and a table "
        f"each, started together; {_cpu_note(four)} of {cpus}; paired: {len(four)} "
        f"interleaved rounds, ratio of medians, per-round ratios {pairs.low:.2f}-"
        f"{pairs.high:.2f}; goal: ratio >= {GOAL_RATIO}",
    )
    each = Spread.of([n / s for o in four for s in o.lane_seconds])
    results.record(
        f"one lane's rate while 4 lanes run{suffix}",
        each.median,
        "changes/s",
        note=f"{each.describe('changes/s')} over every lane of every round; the four share "
        f"the machine's {cpus} CPUs with the server",
    )
    if not suffix:
        results.record(
            CEILING,
            one_rates.median,
            "changes/s",
            note="the most one table's lane loads, alone on the server (the one-lane case's "
            "rate: one connection, one table at a time); a table sending more falls behind "
            "whatever the schedule; ops.measured_rates reads this as the lane rate",
        )
    results.record(
        f"lanes: machine load average (1 min) at the end{suffix}",
        os.getloadavg()[0],
        "load",
        note=f"{load_before:.1f} at the start, on {cpus} CPUs; other work on the machine "
        "takes CPU and disk from both cases alike",
    )
