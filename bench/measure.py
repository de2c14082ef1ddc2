"""What the loader benchmark measures besides time: table state, connections, memory.

Kept apart from the cases so the smoke test (``tests/bench``) checks the
same state comparison the benchmark relies on.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pymysql

from reliability.mariadb import INSTALL_DB, MARIADBD, PrivateMariaDB


@dataclass(frozen=True)
class TableState:
    """Row count and an order-independent checksum of (key, item) pairs."""

    rows: int
    checksum: int


def row_digest(key: str, item: str) -> int:
    """The per-row term of ``TableState.checksum``, as ``table_state`` computes it in SQL."""
    return int(hashlib.md5(f"{key}\0{item}".encode(), usedforsecurity=False).hexdigest()[:16], 16)


def expected_state(rows: Mapping[str, str]) -> TableState:
    """The state a table of ``key -> item`` rows must have."""
    checksum = 0
    for key, item in rows.items():
        checksum ^= row_digest(key, item)
    return TableState(len(rows), checksum)


def table_state(
    conn: pymysql.Connection, table: str, key_column: str, item_column: str
) -> TableState:
    with conn.cursor() as cur:
        cur.execute(
            # As bytes: the loader's key column collates differently from its JSON column.
            "SELECT COUNT(*), COALESCE(BIT_XOR(CAST(CONV(LEFT(MD5(CONCAT("
            f"CAST(`{key_column}` AS BINARY), CHAR(0), CAST(`{item_column}` AS BINARY)"
            f")), 16), 16, 10) AS UNSIGNED)), 0) FROM `{table}`"
        )
        rows, checksum = cur.fetchone()
    return TableState(int(rows), int(checksum))


@contextmanager
def scratch_database(params: dict, *, reset_binlog: bool = False) -> Iterator[dict]:
    """A fresh uniquely named database, dropped afterwards; yields its connection params.

    ``reset_binlog``: empty the server's binary log afterwards too (a private server
    only), so a run with the binary log on never fills the disk.
    """
    name = f"ddbbench_{uuid.uuid4().hex[:12]}"
    admin = pymysql.connect(**params)
    try:
        with admin.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
        yield {**params, "database": name}
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
            if reset_binlog:
                cur.execute("RESET MASTER")
        admin.close()


# The binary log as RDS keeps it once automated backups are on: every row change
# logged as rows and the log synced to disk at each commit.
BINLOG_OPTIONS = ("--binlog-format=ROW", "--sync-binlog=1", "--server-id=1")


@contextmanager
def private_server(buffer_pool: str = "2G", *, binlog: bool = False) -> Iterator[dict]:
    """A mariadbd of the benchmark's own, configured like production; yields its params.

    RDS sizes the InnoDB buffer pool to ~75% of the instance's memory; a shared
    development server keeps the 128 MiB default, which turns every merge into a
    target larger than the cache. ``binlog``: the binary log on (``BINLOG_OPTIONS``).
    Its own datadir in a temp dir, a free port on 127.0.0.1, no config files read;
    stopped and removed at the end.
    """
    if shutil.which(INSTALL_DB) is None or not Path(MARIADBD).exists():
        raise RuntimeError(
            f"a private MariaDB needs {INSTALL_DB} and {MARIADBD}; "
            "set BENCH_SERVER=shared to use the shared server instead"
        )
    root = Path(tempfile.mkdtemp(prefix="ddbbench-mariadb-"))
    options = [f"--innodb-buffer-pool-size={buffer_pool}", "--local-infile=1"]
    if binlog:
        options += [f"--log-bin={root / 'binlog'}", *BINLOG_OPTIONS]
    server = PrivateMariaDB(root, options=tuple(options))
    try:
        server.install()
        server.start(timeout=60.0)
        yield {"host": "127.0.0.1", "port": server.port, "user": "root", "password": ""}
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def server_settings(params: dict) -> dict[str, str]:
    """The server settings the figures depend on most, as the server reports them."""
    conn = pymysql.connect(**params)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT VERSION(), @@innodb_buffer_pool_size, @@innodb_flush_log_at_trx_commit, "
                "@@innodb_log_file_size, @@log_bin, @@binlog_format, @@sync_binlog"
            )
            version, pool, flush, redo, log_bin, binlog_format, sync_binlog = cur.fetchone()
    finally:
        conn.close()
    return {
        "version": str(version),
        "buffer_pool_mib": str(int(pool) // 2**20),
        "innodb_flush_log_at_trx_commit": str(flush),
        "redo_log_mib": str(int(redo) // 2**20),
        "log_bin": str(log_bin),
        "binlog_format": str(binlog_format),
        "sync_binlog": str(sync_binlog),
    }


class ConnectionCounter:
    """Counts connections opened by this process (any thread, any caller of PyMySQL)."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def bump(self) -> None:
        with self._lock:
            self.count += 1


@contextmanager
def counting_connections() -> Iterator[ConnectionCounter]:
    # Every PyMySQL connection, however it is created, goes through
    # Connection.connect; counting there sees the loader's own connects too.
    counter = ConnectionCounter()
    original = pymysql.connections.Connection.connect

    def connect(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        counter.bump()
        return original(self, *args, **kwargs)

    pymysql.connections.Connection.connect = connect  # type: ignore[method-assign]
    try:
        yield counter
    finally:
        pymysql.connections.Connection.connect = original  # type: ignore[method-assign]


def server_connections(conn: pymysql.Connection) -> int:
    """The server's ``Connections`` counter (server-wide: other clients count too)."""
    with conn.cursor() as cur:
        cur.execute("SHOW GLOBAL STATUS LIKE 'Connections'")
        return int(cur.fetchone()[1])


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        match = re.search(rf"^{field}:\s+(\d+) kB", f.read(), re.MULTILINE)
    return int(match.group(1)) if match else 0


@dataclass
class PeakMemory:
    before_mb: float = 0.0
    peak_mb: float = 0.0

    @property
    def growth_mb(self) -> float:
        return max(0.0, self.peak_mb - self.before_mb)


@contextmanager
def peak_rss() -> Iterator[PeakMemory]:
    """Peak resident memory of this process during the block (Linux).

    Resets the kernel's high-water mark first (``clear_refs`` 5), so the peak
    is the block's own, not left over from generating the workload.
    """
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    box = PeakMemory(before_mb=_status_kb("VmRSS") / 1024)
    yield box
    box.peak_mb = _status_kb("VmHWM") / 1024


_TABLE_AFTER = {
    "LOAD DATA": re.compile(r"INTO\s+TABLE\s+`?(\w+)", re.I),
    "INSERT": re.compile(r"INTO\s+`?(\w+)", re.I),
    "DELETE": re.compile(r"FROM\s+`?(\w+)", re.I),
    "UPDATE": re.compile(r"UPDATE\s+`?(\w+)", re.I),
    "SELECT": re.compile(r"\bFROM\s+`?(\w+)", re.I),
}
MERGE_KINDS = ("INSERT", "DELETE", "UPDATE")


def statement_kind(sql: str) -> str:
    """What a statement does and to which table, from its text: ``DELETE bench_items``."""
    words = sql.lstrip().split(None, 2)
    head = " ".join(words[:2]).upper()
    if head.startswith("LOAD DATA"):
        kind = "LOAD DATA"
    elif head.startswith("INSERT") and re.search(r"\bSELECT\b", sql, re.I):
        kind = "INSERT...SELECT"
    else:
        kind = next(
            (k for k in ("INSERT", "DELETE", "UPDATE", "SELECT", "COMMIT") if head.startswith(k)),
            words[0].upper() if words else "other",
        )
    pattern = _TABLE_AFTER.get(kind.split("...")[0])
    match = pattern.search(sql) if pattern else None
    return f"{kind} {match.group(1)}" if match else kind


@dataclass
class StatementTimes:
    """Wall time spent waiting on the server, per statement kind."""

    seconds: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, seconds: float) -> None:
        self.seconds[kind] = self.seconds.get(kind, 0.0) + seconds
        self.counts[kind] = self.counts.get(kind, 0) + 1

    @property
    def total(self) -> float:
        return sum(self.seconds.values())


@contextmanager
def timing_statements() -> Iterator[StatementTimes]:
    """Time every query and COMMIT sent by PyMySQL in this process during the block.

    What is left of a run's time is the client's own work (reading gzip,
    building the load file).
    """
    times = StatementTimes()
    connection = pymysql.connections.Connection
    original_query, original_commit = connection.query, connection.commit

    def query(self, sql, unbuffered=False):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        try:
            return original_query(self, sql, unbuffered)
        finally:
            text = sql.decode(errors="replace") if isinstance(sql, bytes) else sql
            times.add(statement_kind(text), time.perf_counter() - started)

    def commit(self):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        try:
            return original_commit(self)
        finally:
            times.add("COMMIT", time.perf_counter() - started)

    connection.query, connection.commit = query, commit  # type: ignore[method-assign]
    try:
        yield times
    finally:
        connection.query, connection.commit = original_query, original_commit  # type: ignore[method-assign]


@dataclass(frozen=True)
class Spread:
    """The median of repeated measurements and how far they ranged."""

    median: float
    low: float
    high: float
    count: int

    @classmethod
    def of(cls, values: list[float]) -> Spread:
        if not values:
            raise ValueError("a spread needs at least one value")
        return cls(statistics.median(values), min(values), max(values), len(values))

    def describe(self, unit: str, digits: int = 0) -> str:
        if self.count == 1:
            return f"one run: {self.median:,.{digits}f} {unit}"
        return f"median of {self.count} runs; {self.low:,.{digits}f}-{self.high:,.{digits}f} {unit}"
