"""One batch, one transaction: up to ``batch_max_files`` jobs of one table, merged together.

``BatchLoader.load`` takes the table's named lock, prepares the target (DDL,
before the transaction: MariaDB commits DDL implicitly), then in one
transaction: skips files already in the ledger, claims the target, prunes old
tombstones, streams every file through Arrow in bounded chunks (read and built
one chunk ahead on a second thread, ``loaders.prefetch``) and merges each chunk
(``loaders.merge``), writes each file's quarantine and ledger row, and COMMITs.
It fills the jobs' counts and hands finished jobs to the ``JobBook``; retries
and the transient/terminal decision are the engine's.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from contract.config import ConfigError, TableMapping
from loaders import ledger, sql
from loaders.arrowfile import (
    SCHEMA,
    load_file,
    prepare,
    read_batches,
    with_key_value,
    with_position,
)
from loaders.errors import LockHeld, TerminalError
from loaders.freshness import change_times, ledger_versions
from loaders.jobs import Job, JobBook, State, now
from loaders.merge import merge_chunk
from loaders.prefetch import Prefetch
from loaders.quarantine import Quarantine
from loaders.settings import LoaderSettings
from loaders.sql import OP_DELETE, OP_EXPIRE, OP_UPSERT, Target
from loaders.target import claim_target, prepare_target


class Restart(Exception):
    """A file failed to read after part of it was merged: roll back, redo without it."""

    def __init__(self, job: Job, reason: str) -> None:
        self.job, self.reason = job, reason


@dataclass
class _Chunk:
    """One chunk as the producer hands it over: invalid lines, and (rows, load file) parts."""

    bad: pa.Table
    parts: list[tuple[pa.Table, tuple[pa.Buffer, bool]]]


class BatchLoader:
    """Loads batches of one run on one connection; remembers what it prepared per target."""

    def __init__(
        self,
        conn: Any,
        settings: LoaderSettings,
        quarantine: Quarantine | None,
        book: JobBook,
        *,
        reload: bool = False,
        fetch: Callable[[Job], bytes] | None = None,
    ) -> None:
        self.conn = conn
        self.settings = settings
        self.quarantine = quarantine
        self.book = book
        self.reload = reload
        self.fetch = fetch
        self.prepared: set[str] = set()
        self.pruned: set[str] = set()
        self.mappings: dict[str, TableMapping] = {}

    def load(self, batch: list[Job]) -> None:
        """Load ``batch`` in one transaction, or raise with everything rolled back."""
        for job in batch:
            job.started = job.started or now()
            job.flushed = False
            job.rejected = []
            job.versions = []
            r = job.result
            r.read = r.applied = r.deleted = r.quarantined = 0
            if job.data is None and self.fetch is not None and job.bad_file is None:
                try:
                    job.data = self.fetch(job)
                except KeyError:
                    self.book.finish(job, State.MISSING, f"{job.key} no longer exists")
        batch[:] = [j for j in batch if j.pending]
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
                    raise LockHeld(f"another loader run holds the lock of {target.mapping.target}")
                # Under the lock (a session lock, it survives the DDL's implicit commit),
                # so two runs never alter the same target at once.
                if target.mapping.target not in self.prepared:
                    prepare_target(self.conn, target)
                    self.prepared.add(target.mapping.target)
            self.conn.begin()
            if not self.reload:
                done = ledger.done_ids(self.conn, [j.id for j in batch])
                for job in [j for j in batch if j.id in done]:
                    self.book.finish(job, State.SKIPPED)
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
            self.book.finish(job, State.QUARANTINED if job.bad_file else State.LOADED, job.bad_file)

    def _lock_name(self, t: Target) -> str:
        with self.conn.cursor() as cur:
            cur.execute(sql.current_database())
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

    def _target(self, source: str, batch: list[Job]) -> Target | None:
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

    def _stream(self, batch: list[Job], target: Target | None) -> None:
        """Merge the batch chunk by chunk while the next chunk is read and built."""
        chunks = Prefetch(self._chunks(batch, target), ahead=2)
        try:
            for chunk in chunks:
                self._merge(batch, target, chunk)
                chunks.done_with_one()
        finally:
            chunks.close()

    def _chunks(self, batch: list[Job], target: Target | None) -> Iterator[_Chunk]:
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
                    job.versions.append(change_times(record_batch))
                    mine.append(table)
                    pending.append(table)
                    rows += table.num_rows
                    if rows >= self.settings.chunk_rows:
                        # These rows go into this chunk (a later read error of the file
                        # restarts the batch); _prepare takes them out of ``pending``, so
                        # the raw rows are freed once their winners are copied out.
                        mine.clear()
                        chunk = self._prepare(batch, target, pending)
                        rows = 0
                        yield chunk
            except (OSError, pa.ArrowException, EOFError) as e:
                if job.flushed:
                    raise Restart(job, str(e)) from None
                pending = [t for t in pending if not any(t is m for m in mine)]
                rows = sum(t.num_rows for t in pending)
                job.bad_file = f"{job.key} is unreadable: {e}"
        if pending:
            yield self._prepare(batch, target, pending)

    def _prepare(self, batch: list[Job], target: Target | None, tables: list[pa.Table]) -> _Chunk:
        """Client work of one chunk: validate, keep the newest per key, build the load files.

        Empties ``tables``: from here on only this function holds the raw rows.
        """
        table = pa.concat_tables(tables)
        tables.clear()
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
        del table  # the winners are copies: the raw rows go before the load files are built
        # A one-attribute key goes as its own field when it can (the server skips its JSON).
        key = m.keys[0] if len(m.keys) == 1 else None
        parts = []
        for rows in (prepared.before_marks, prepared.rows):
            if key is not None:
                rows = with_key_value(rows, key.name, key.type)
            parts.append((rows, load_file(rows)))
        return _Chunk(prepared.bad, parts)

    def _merge(self, batch: list[Job], target: Target | None, chunk: _Chunk) -> None:
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

    def _reject(self, batch: list[Job], rows: pa.Table) -> None:
        if rows.num_rows == 0:
            return
        names = [*SCHEMA.names, "_line", "_reason"]
        for row, index in zip(
            rows.select(names).to_pylist(), rows["_file"].to_pylist(), strict=True
        ):
            job = batch[index]
            job.rejected.append(row)
            job.result.quarantined += 1

    def _settle(self, job: Job) -> None:
        """Quarantine writes and the ledger row of one job, inside the batch's transaction."""
        if job.bad_file:
            if self.quarantine:
                self.quarantine.put_file(job.key, job.data, job.bad_file)
            job.result.read = job.result.quarantined = 0
            ledger.record(self.conn, self.ledger_row(job, ledger.QUARANTINED, job.bad_file))
            return
        if job.rejected and self.quarantine:
            self.quarantine.put_rows(job.key, job.rejected)
        r = job.result
        r.stale = max(0, r.read - r.applied - r.deleted - r.quarantined)
        ledger.record(self.conn, self.ledger_row(job, ledger.LOADED, None))

    def ledger_row(self, job: Job, status: str, error: str | None) -> ledger.LedgerRow:
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
            **ledger_versions(job.versions),
            started_at=job.started,
            finished_at=now(),
            status=status,
            error=error,
            load_count=0,
        )


def _peek_key_types(batch: list[Job]) -> dict[str, str] | None:
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
