"""The load engine: one job per S3 object, batched per table, one transaction per batch.

A job's id is its bucket/key/ETag (the ledger's ``job_id``); its states are
``State``; ``_Runner`` alone moves jobs between states, times them and reports
them. A batch holds up to ``batch_max_files`` jobs of one table and runs, under
the table's named lock and in one transaction: skip files already in the ledger,
stream every file through Arrow (``arrowfile``) in bounded chunks, merge each
chunk (``merge``), write each file's ledger row and quarantine, COMMIT.

Entry points: ``load_keys`` (S3 keys), ``load_refs`` (keys with known ETags,
from discovery) and ``load_staging_bytes`` (bytes already in memory, for the
benchmark and local drivers).
"""

from __future__ import annotations

import contextlib
import hashlib
import queue
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from contract.config import ConfigError, PipelineConfig, TableMapping
from loaders import ledger, sql
from loaders.arrowfile import SCHEMA, load_file, prepare, read_batches, with_position
from loaders.errors import LoaderError, TerminalError, TransientError, classify, error_code
from loaders.merge import merge_chunk
from loaders.quarantine import Quarantine, S3Quarantine
from loaders.settings import LoaderSettings
from loaders.sql import OP_DELETE, OP_EXPIRE, OP_UPSERT, Target
from loaders.target import claim_target, prepare_target


class State(StrEnum):
    PENDING = "pending"
    SKIPPED = "skipped"  # already in the ledger as loaded or quarantined
    LOADED = "loaded"
    QUARANTINED = "quarantined"  # the whole file; rows of a loaded file count in the ledger
    FAILED = "failed"  # terminal: needs an operator; the error says what to do
    RETRY = "retry"  # transient: a later run loads it
    DEFERRED = "deferred"  # the run ran out of time before reaching it
    MISSING = "missing"  # the object no longer exists


# A work item may be acknowledged once its job reached one of these.
SETTLED = (State.SKIPPED, State.LOADED, State.QUARANTINED, State.MISSING)


@dataclass
class JobResult:
    key: str
    etag: str = ""
    table: str = ""
    status: str = State.PENDING.value
    read: int = 0
    applied: int = 0
    stale: int = 0
    deleted: int = 0
    quarantined: int = 0
    error: str | None = None
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class RunReport:
    results: list[JobResult] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None  # why the run stopped early, if it did

    def by_status(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.results:
            out[r.status] = out.get(r.status, 0) + 1
        return out

    def settled_keys(self) -> set[str]:
        return {r.key for r in self.results if r.status in {s.value for s in SETTLED}}

    def as_dict(self) -> dict[str, Any]:
        totals = {
            name: sum(getattr(r, name) for r in self.results)
            for name in ("read", "applied", "stale", "deleted", "quarantined")
        }
        return {
            "files": self.by_status(),
            "rows": totals,
            "seconds": round(self.seconds, 3),
            "error": self.error,
            "failed": [
                {"key": r.key, "error": r.error}
                for r in self.results
                if r.status in (State.FAILED.value, State.RETRY.value)
            ],
        }


@dataclass(frozen=True)
class ObjectRef:
    key: str
    etag: str | None = None
    size: int = 0


@dataclass
class _Job:
    key: str
    etag: str
    size: int
    source: str | None  # DynamoDB table from the key's table= folder; None: not staging
    data: bytes | None = None
    result: JobResult = field(init=False)
    bad_file: str | None = None  # reason the whole file is quarantined
    flushed: bool = False
    rejected: list[dict[str, Any]] = field(default_factory=list)
    started: datetime | None = None

    def __post_init__(self) -> None:
        self.result = JobResult(self.key, self.etag, self.source or "")

    @property
    def id(self) -> str:
        return ledger.job_id(self.key, self.etag)


@dataclass
class _Chunk:
    """One chunk as the producer hands it over: invalid lines, and (rows, load file) parts."""

    bad: pa.Table
    parts: list[tuple[pa.Table, tuple[pa.Buffer, bool]]]


class _Prefetch:
    """Runs a generator on a second thread, at most ``ahead`` items alive at once.

    The consumer calls ``done_with_one`` after each item it finished with, and ``close``
    always: it stops the producer (closing its generator, so readers close) and joins it.
    An exception in the producer is raised to the consumer at that point of the stream.
    """

    _END = object()

    def __init__(self, items: Iterator[Any], *, ahead: int) -> None:
        self._items = items
        self._queue: queue.Queue[Any] = queue.Queue()
        self._slots = threading.Semaphore(ahead)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, name="ddbload-prefetch", daemon=True)
        self._thread.start()

    def _produce(self) -> None:
        try:
            while True:
                while not self._slots.acquire(timeout=0.1):
                    if self._stop.is_set():
                        return
                if self._stop.is_set():
                    return
                try:
                    item = next(self._items)
                except StopIteration:
                    self._queue.put(self._END)
                    return
                self._queue.put(item)
        except BaseException as e:  # noqa: BLE001 - handed to the consumer, raised there
            self._queue.put(_Raised(e))
        finally:
            with contextlib.suppress(Exception):
                self._items.close()  # type: ignore[attr-defined]

    def __iter__(self) -> Iterator[Any]:
        while True:
            item = self._queue.get()
            if item is self._END:
                return
            if isinstance(item, _Raised):
                raise item.error
            yield item

    def done_with_one(self) -> None:
        self._slots.release()

    def close(self) -> None:
        self._stop.set()
        self._slots.release()
        self._thread.join()


@dataclass
class _Raised:
    error: BaseException


class _Restart(Exception):
    """A file failed to read after part of it was merged: roll back, redo without it."""

    def __init__(self, job: _Job, reason: str) -> None:
        self.job, self.reason = job, reason


def staging_table_of(key: str, staging_prefix: str) -> str | None:
    """The source table of a staging key, or None when the key is not a staging object."""
    m = re.fullmatch(
        re.escape(staging_prefix.strip("/")) + r"/table=([^/]+)/\d{4}/\d{2}/\d{2}/\d{2}/[^/]+\.gz",
        key,
    )
    return m.group(1) if m else None


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class _Runner:
    def __init__(
        self,
        conn: Any,
        settings: LoaderSettings,
        quarantine: Quarantine | None,
        *,
        reload: bool = False,
        progress: Callable[[JobResult], None] | None = None,
        deadline: float | None = None,
        fetch: Callable[[_Job], bytes] | None = None,
    ) -> None:
        self.conn = conn
        self.settings = settings
        self.quarantine = quarantine
        self.reload = reload
        self.progress = progress
        self.deadline = deadline
        self.fetch = fetch
        self.prepared: set[str] = set()
        self.pruned: set[str] = set()
        self.mappings: dict[str, TableMapping] = {}
        self.report = RunReport()
        self.stop_reason: str | None = None

    # -- the only place job states change --------------------------------------------------
    def _finish(self, job: _Job, state: State, error: str | None = None) -> None:
        r = job.result
        r.status, r.error = state.value, error
        r.etag = job.etag
        if state in (State.LOADED, State.QUARANTINED):
            r.stale = max(0, r.read - r.applied - r.deleted - r.quarantined)
        if job.started:
            r.seconds = round((_now() - job.started).total_seconds(), 3)
        self.report.results.append(r)
        if self.progress:
            self.progress(r)

    def run(self, jobs: list[_Job]) -> RunReport:
        started = time.monotonic()
        pending: list[_Job] = []
        for job in jobs:
            if job.source is None:
                job.bad_file = (
                    f"{job.key} is not a staging object (expected "
                    f"{self.settings.staging_prefix}/table=<name>/YYYY/MM/DD/HH/<object>.gz)"
                )
            pending.append(job)
        batches = self._batches(pending)
        longest = 0.0  # the slowest batch so far: the next one may take as long
        for i, batch in enumerate(batches):
            if self.stop_reason or (
                self.deadline is not None and time.monotonic() + longest > self.deadline
            ):
                reason = self.stop_reason or "the run's time ran out before this file"
                for later in batches[i:]:
                    for job in later:
                        self._finish(
                            job, State.RETRY if self.stop_reason else State.DEFERRED, reason
                        )
                break
            batch_started = time.monotonic()
            self._run_batch(batch)
            longest = max(longest, time.monotonic() - batch_started)
        self.report.seconds = time.monotonic() - started
        self.report.error = self.stop_reason
        return self.report

    def _batches(self, jobs: list[_Job]) -> list[list[_Job]]:
        by_source: dict[str, list[_Job]] = {}
        for job in sorted(jobs, key=lambda j: j.key):
            by_source.setdefault(job.source or "", []).append(job)
        batches: list[list[_Job]] = []
        for group in by_source.values():
            current: list[_Job] = []
            size = 0
            for job in group:
                if current and (
                    len(current) >= self.settings.batch_max_files
                    or size + job.size > self.settings.batch_max_bytes
                ):
                    batches.append(current)
                    current, size = [], 0
                current.append(job)
                size += job.size
            if current:
                batches.append(current)
        return batches

    def _run_batch(self, batch: list[_Job]) -> None:
        attempts = max(1, self.settings.retries)
        for attempt in range(attempts):
            try:
                self._load_batch(batch)
                return
            except _Restart as restart:
                self._rollback()
                restart.job.bad_file = f"{restart.job.key} is unreadable: {restart.reason}"
                return self._run_batch(batch)
            except Exception as exc:  # noqa: BLE001 - sorted into transient/terminal just below
                error = classify(
                    exc, batch[0].key if len(batch) == 1 else f"batch of {batch[0].key}"
                )
                self._rollback()
                if isinstance(error, TransientError):
                    if attempt + 1 < attempts:
                        time.sleep(self.settings.backoff_seconds * (2**attempt))
                        self._reconnect()
                        continue
                    if error_code(exc) == 2003 or isinstance(exc, ConnectionError):
                        self.stop_reason = f"MariaDB is unreachable ({exc}); files stay pending."
                    for job in batch:
                        if job.result.status == State.PENDING.value:
                            self._finish(job, State.RETRY, str(error))
                    return
                if len(batch) > 1:
                    # Find the file at fault: every file on its own.
                    for job in batch:
                        self._run_batch([job])
                    return
                self._fail(batch[0], error)
                return

    def _rollback(self) -> None:
        # The connection may be gone; the reconnect that follows handles it.
        with contextlib.suppress(Exception):
            self.conn.rollback()

    def _reconnect(self) -> None:
        # A new session on the same connection object (settings reapplied by connect());
        # if the server is still away, the next attempt reports it.
        with contextlib.suppress(Exception):
            self.conn.close()
        with contextlib.suppress(Exception):
            self.conn.connect()

    def _fail(self, job: _Job, error: LoaderError) -> None:
        message = str(error)
        if job.key not in message:
            message = f"{job.key}: {message}"
        try:
            row = self._ledger_row(job, ledger.FAILED, message)
            ledger.record(self.conn, row)
            self.conn.commit()
        except Exception:  # noqa: BLE001 - the report still carries the error
            self._rollback()
        self._finish(job, State.FAILED, message)

    # -- one batch, one transaction ------------------------------------------------------------
    def _load_batch(self, batch: list[_Job]) -> None:
        for job in batch:
            job.started = job.started or _now()
            job.flushed = False
            job.rejected = []
            r = job.result
            r.read = r.applied = r.deleted = r.quarantined = 0
            if job.data is None and self.fetch is not None and job.bad_file is None:
                try:
                    job.data = self.fetch(job)
                except KeyError:
                    self._finish(job, State.MISSING, f"{job.key} no longer exists")
        batch[:] = [j for j in batch if j.result.status == State.PENDING.value]
        if not batch:
            return
        source = batch[0].source
        target = self._target(source, batch) if source else None
        lock = None
        cur = self.conn.cursor()
        try:
            if target is not None:
                lock = self._lock_name(target)
                cur.execute(sql.get_lock(), [lock, self.settings.lock_timeout_seconds])
                if cur.fetchone()[0] != 1:
                    lock = None
                    raise TransientError(
                        f"another loader run holds the lock of {target.mapping.target}"
                    )
                # Under the lock (a session lock, it survives the DDL's implicit commit),
                # so two runs never alter the same target at once.
                if target.mapping.target not in self.prepared:
                    prepare_target(self.conn, target)
                    self.prepared.add(target.mapping.target)
            self.conn.begin()
            if not self.reload:
                done = ledger.done_ids(self.conn, [j.id for j in batch])
                for job in [j for j in batch if j.id in done]:
                    self._finish(job, State.SKIPPED)
                batch[:] = [j for j in batch if j.id not in done]
            if target is not None:
                claim_target(self.conn, target.mapping)
                self._prune(target)
            self._stream(batch, target)
            for job in batch:
                self._settle(job)
            self.conn.commit()
        finally:
            if lock is not None:
                # A lost connection has released it already.
                with contextlib.suppress(Exception):
                    cur.execute(sql.release_lock(), [lock])
            cur.close()
        for job in batch:
            self._finish(job, State.QUARANTINED if job.bad_file else State.LOADED, job.bad_file)

    def _lock_name(self, t: Target) -> str:
        with self.conn.cursor() as cur:
            cur.execute("SELECT DATABASE()")
            db = cur.fetchone()[0] or ""
        name = f"ddbload:{db}.{t.mapping.target}"
        return name if len(name) <= 64 else "ddbload:" + hashlib.sha1(name.encode()).hexdigest()

    def _prune(self, t: Target) -> None:
        if t.mapping.target in self.pruned:
            return
        cutoff = (
            int(time.time() * 1_000_000) - self.settings.tombstone_retention_hours * 3_600_000_000
        )
        with self.conn.cursor() as cur:
            cur.execute(sql.prune_tombstones(t), [cutoff])
        self.pruned.add(t.mapping.target)

    def _target(self, source: str, batch: list[_Job]) -> Target | None:
        mapping = self.mappings.get(source) or self.settings.config.tables.get(source)
        if mapping is None:
            key_types = _peek_key_types(batch)
            if key_types is None:
                return None
            try:
                mapping = self.settings.config.mapping_for(source, key_types)
            except ConfigError as e:
                raise TerminalError(" ".join(e.problems)) from None
        self.mappings[source] = mapping
        return Target.of(mapping)

    def _stream(self, batch: list[_Job], target: Target | None) -> None:
        """Merge the batch chunk by chunk while the next chunk is read and built.

        Reading gzip JSON and building load files (Arrow, GIL released) runs on a
        second thread one chunk ahead of the merge (PyMySQL waits on the server with
        the GIL released): at most two chunks are in memory at once.
        """
        chunks = _Prefetch(self._chunks(batch, target), ahead=2)
        try:
            for chunk in chunks:
                self._merge(batch, target, chunk)
                chunks.done_with_one()
        finally:
            chunks.close()

    def _chunks(self, batch: list[_Job], target: Target | None) -> Iterator[_Chunk]:
        """Prepared chunks of up to ``chunk_rows`` rows, in file order (the producer side)."""
        pending: list[pa.Table] = []
        rows = 0
        for index, job in enumerate(batch):
            if job.bad_file:
                continue
            line = 1
            mine: list[pa.Table] = []
            try:
                for record_batch in read_batches(job.data or b""):
                    table = with_position(record_batch, index, line)
                    line += record_batch.num_rows
                    job.result.read += record_batch.num_rows
                    mine.append(table)
                    pending.append(table)
                    rows += table.num_rows
                    if rows >= self.settings.chunk_rows:
                        yield self._prepare(batch, target, pending)
                        mine, pending, rows = [], [], 0
            except (OSError, pa.ArrowException, EOFError) as e:
                if job.flushed:
                    raise _Restart(job, str(e)) from None
                pending = [t for t in pending if not any(t is m for m in mine)]
                rows = sum(t.num_rows for t in pending)
                job.bad_file = f"{job.key} is unreadable: {e}"
        if pending:
            yield self._prepare(batch, target, pending)

    def _prepare(self, batch: list[_Job], target: Target | None, tables: list[pa.Table]) -> _Chunk:
        """Client work of one chunk: validate, keep the newest per key, build the load files."""
        table = pa.concat_tables(tables)
        for index in set(pc.unique(table["_file"]).to_pylist()):
            # Handed to the merge: a later read error in this file needs a restart.
            batch[index].flushed = True
        if target is None:
            reason = "the table is not configured and no line carries a usable key"
            bad = table.append_column("_reason", pa.array([reason] * table.num_rows, pa.string()))
            return _Chunk(bad, [])
        m = target.mapping
        prepared = prepare(
            table,
            m.source,
            "".join(k.type for k in m.keys),
            ttl_keep=m.ttl_policy == "keep",
            soft_delete=m.delete_mode == "soft",
        )
        parts = [(rows, load_file(rows)) for rows in (prepared.before_marks, prepared.rows)]
        return _Chunk(prepared.bad, parts)

    def _merge(self, batch: list[_Job], target: Target | None, chunk: _Chunk) -> None:
        """Server work of one chunk: stage and merge each part, count per file."""
        self._reject(batch, chunk.bad)
        if target is None:
            return
        for rows, file in chunk.parts:
            outcome = merge_chunk(self.conn, target, rows, file)
            if outcome.rejected:
                picked = rows.filter(
                    pc.is_in(rows["_row"], pa.array(list(outcome.rejected), pa.int64()))
                )
                reasons = [outcome.rejected[r] for r in picked["_row"].to_pylist()]
                self._reject(batch, picked.append_column("_reason", pa.array(reasons, pa.string())))
            for (index, op), wins in outcome.wins.items():
                if op == OP_UPSERT:
                    batch[index].result.applied += wins
                elif op in (OP_DELETE, OP_EXPIRE):
                    batch[index].result.deleted += wins

    def _reject(self, batch: list[_Job], rows: pa.Table) -> None:
        if rows.num_rows == 0:
            return
        names = [*SCHEMA.names, "_line", "_reason"]
        for row, index in zip(
            rows.select(names).to_pylist(), rows["_file"].to_pylist(), strict=True
        ):
            job = batch[index]
            job.rejected.append(row)
            job.result.quarantined += 1

    def _settle(self, job: _Job) -> None:
        """Quarantine writes and the ledger row of one job, inside the batch's transaction."""
        if job.bad_file:
            if self.quarantine:
                self.quarantine.put_file(job.key, job.data, job.bad_file)
            job.result.read = job.result.quarantined = 0
            ledger.record(self.conn, self._ledger_row(job, ledger.QUARANTINED, job.bad_file))
            return
        if job.rejected and self.quarantine:
            self.quarantine.put_rows(job.key, job.rejected)
        r = job.result
        r.stale = max(0, r.read - r.applied - r.deleted - r.quarantined)
        ledger.record(self.conn, self._ledger_row(job, ledger.LOADED, None))

    def _ledger_row(self, job: _Job, status: str, error: str | None) -> ledger.LedgerRow:
        r = job.result
        mapping = self.mappings.get(job.source or "")
        return ledger.LedgerRow(
            s3_key=job.key,
            etag=job.etag,
            source_table=job.source or "",
            target_table=mapping.target if mapping else "",
            records_read=r.read,
            rows_applied=r.applied,
            stale_skipped=0
            if status == ledger.FAILED
            else max(0, r.read - r.applied - r.deleted - r.quarantined),
            rows_deleted=r.deleted,
            rows_quarantined=r.quarantined,
            started_at=job.started,
            finished_at=_now(),
            status=status,
            error=error,
            load_count=0,
        )


def _peek_key_types(batch: list[_Job]) -> dict[str, str] | None:
    """Key attribute names and types of an unconfigured table, from its first usable line."""
    for job in batch:
        if job.bad_file or not job.data:
            continue
        try:
            for record_batch in read_batches(job.data):
                keys = record_batch.column("key")
                letters = record_batch.column("key_types")
                for i in range(min(record_batch.num_rows, 100)):
                    key, types = keys[i].as_py(), letters[i].as_py()
                    if not key or not types:
                        continue
                    try:
                        names = list(orjson.loads(key))
                    except orjson.JSONDecodeError:
                        continue
                    if len(names) == len(types):
                        return dict(zip(names, types, strict=True))
                break
        except (OSError, pa.ArrowException, EOFError):
            continue
    return None


def _jobs_from_refs(refs: list[ObjectRef], staging_prefix: str) -> list[_Job]:
    return [
        _Job(r.key, r.etag or "", r.size, staging_table_of(r.key, staging_prefix)) for r in refs
    ]


def load_staging_bytes(
    conn: Any,
    config: PipelineConfig,
    objects: list[tuple[str, str, bytes]],
    *,
    quarantine: Quarantine | None = None,
    reload: bool = False,
    settings: LoaderSettings | None = None,
) -> list[JobResult]:
    """Load staging objects already in memory: (S3 key, ETag, gzip bytes) each.

    ``conn`` must come from ``loaders.db`` (its LOAD DATA LOCAL sends only our buffer).
    """
    settings = settings or LoaderSettings(
        config=config,
        staging_prefix=config.settings["staging_prefix"],
        quarantine_prefix=config.settings["quarantine_prefix"],
    )
    ledger.ensure_ledger(conn)
    jobs = []
    for key, etag, data in objects:
        job = _Job(key, etag, len(data), staging_table_of(key, settings.staging_prefix))
        job.data = data
        jobs.append(job)
    return _Runner(conn, settings, quarantine, reload=reload).run(jobs).results


def load_refs(
    conn: Any,
    s3: Any,
    settings: LoaderSettings,
    refs: list[ObjectRef],
    *,
    reload: bool = False,
    progress: Callable[[JobResult], None] | None = None,
    deadline: float | None = None,
) -> RunReport:
    """Load S3 objects whose ETags may already be known (discovery); skips loaded ones."""
    quarantine = S3Quarantine(s3, settings.bucket, settings.quarantine_prefix)

    def fetch(job: _Job) -> bytes:
        try:
            obj = s3.get_object(Bucket=settings.bucket, Key=job.key)
        except s3.exceptions.NoSuchKey:
            raise KeyError(job.key) from None
        job.etag = obj["ETag"].strip('"')
        return obj["Body"].read()

    ledger.ensure_ledger(conn)
    runner = _Runner(
        conn, settings, quarantine, reload=reload, progress=progress, deadline=deadline, fetch=fetch
    )
    jobs = _jobs_from_refs(refs, settings.staging_prefix)
    if not reload:
        known = [j for j in jobs if j.etag]
        done = ledger.done_ids(conn, [j.id for j in known])
        for job in [j for j in known if j.id in done]:
            runner._finish(job, State.SKIPPED)
        jobs = [j for j in jobs if not (j.etag and j.id in done)]
    return runner.run(jobs)


def load_keys(
    conn: Any,
    s3: Any,
    settings: LoaderSettings,
    keys: list[str],
    *,
    reload: bool = False,
    progress: Callable[[JobResult], None] | None = None,
    deadline: float | None = None,
) -> RunReport:
    """Load these S3 keys of the staging bucket (``reload=True`` applies loaded ones again)."""
    refs = []
    missing = []
    for key in dict.fromkeys(keys):
        try:
            head = s3.head_object(Bucket=settings.bucket, Key=key)
        except s3.exceptions.ClientError as e:
            if e.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                missing.append(key)
                continue
            raise
        refs.append(ObjectRef(key, head["ETag"].strip('"'), int(head.get("ContentLength", 0))))
    report = load_refs(
        conn, s3, settings, refs, reload=reload, progress=progress, deadline=deadline
    )
    for key in missing:
        report.results.append(
            JobResult(key, status=State.MISSING.value, error=f"{key} does not exist")
        )
    return report
