"""The load engine: one job per S3 object, batched per table, one transaction per batch.

Jobs and their states are ``loaders.jobs`` (``JobBook.finish`` alone moves a
job); one batch's transaction is ``loaders.batch``. This module runs a list of
jobs: it groups them into batches of one table (``batch_max_files``,
``batch_max_bytes``), stops before the run's deadline, retries a batch on a
transient error with backoff, and on a terminal one splits the batch to find
the file at fault and fails that file alone. A table whose named lock another
run holds is busy: its files wait for a later run (no retry, so this run moves
on at once to its other tables) and the report names the table.

Entry points: ``load_keys`` (S3 keys), ``load_refs`` (keys with known ETags,
from discovery) and ``load_staging_bytes`` (bytes already in memory, for the
benchmark and local drivers).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

from contract import layout
from contract.config import PipelineConfig
from loaders import ledger
from loaders.batch import BatchLoader, Restart
from loaders.errors import (
    LoaderError,
    LockHeld,
    TransientError,
    classify,
    is_absent_object,
    is_denied_object,
    is_unreachable,
)
from loaders.jobs import Job, JobBook, JobResult, ObjectRef, RunReport, State
from loaders.quarantine import Quarantine, S3Quarantine
from loaders.settings import LoaderSettings


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
        fetch: Callable[[Job], bytes] | None = None,
    ) -> None:
        self.conn = conn
        self.settings = settings
        self.deadline = deadline
        self.book = JobBook(progress)
        self.batches = BatchLoader(
            conn, settings, quarantine, self.book, reload=reload, fetch=fetch
        )
        self.stop_reason: str | None = None

    def run(self, jobs: list[Job]) -> RunReport:
        started = time.monotonic()
        pending: list[Job] = []
        for job in jobs:
            if job.source is None:
                job.bad_file = (
                    f"{job.key} is not a staging object (expected "
                    f"{self.settings.staging_prefix}/{layout.KEY_FORM})"
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
                        self.book.finish(
                            job, State.RETRY if self.stop_reason else State.DEFERRED, reason
                        )
                break
            if batch[0].source in self.book.report.busy:
                self._leave_busy(batch)
                continue
            batch_started = time.monotonic()
            self._run_batch(batch)
            longest = max(longest, time.monotonic() - batch_started)
        report = self.book.report
        report.seconds = time.monotonic() - started
        report.error = self.stop_reason
        return report

    def _batches(self, jobs: list[Job]) -> list[list[Job]]:
        by_source: dict[str, list[Job]] = {}
        for job in sorted(jobs, key=lambda j: j.key):
            by_source.setdefault(job.source or "", []).append(job)
        batches: list[list[Job]] = []
        for group in by_source.values():
            current: list[Job] = []
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

    def _run_batch(self, batch: list[Job]) -> None:
        attempts = max(1, self.settings.retries)
        for attempt in range(attempts):
            try:
                self.batches.load(batch)
                return
            except LockHeld as held:
                # Another run is merging this table: it is the one that will load these
                # files (or a later run will); waiting here would only delay the others.
                self._rollback()
                if batch[0].source not in self.book.report.busy:
                    self.book.report.busy.append(batch[0].source or "")
                self._leave_busy(batch, str(held))
                return
            except Restart as restart:
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
                    if is_unreachable(exc):
                        self.stop_reason = f"MariaDB is unreachable ({exc}); files stay pending."
                    for job in batch:
                        if job.pending:
                            self.book.finish(job, State.RETRY, str(error))
                    return
                if len(batch) > 1:
                    # Find the file at fault: every file on its own.
                    for job in batch:
                        self._run_batch([job])
                    return
                self._fail(batch[0], error)
                return

    def _leave_busy(self, batch: list[Job], reason: str | None = None) -> None:
        table = batch[0].source
        reason = reason or f"another loader run holds the lock of table {table}"
        for job in batch:
            if job.pending:
                self.book.finish(job, State.RETRY, f"{reason}; a later run loads {job.key}")

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

    def _fail(self, job: Job, error: LoaderError) -> None:
        message = str(error)
        if job.key not in message:
            message = f"{job.key}: {message}"
        try:
            ledger.record(self.conn, self.batches.ledger_row(job, ledger.FAILED, message))
            self.conn.commit()
        except Exception:  # noqa: BLE001 - the report still carries the error
            self._rollback()
        self.book.finish(job, State.FAILED, message)


def _job(key: str, etag: str, size: int, staging_prefix: str) -> Job:
    return Job(key, etag, size, layout.table_of(key, staging_prefix))


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
        job = _job(key, etag, len(data), settings.staging_prefix)
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
    missing: list[str] | None = None,
) -> RunReport:
    """Load S3 objects whose ETags may already be known (discovery); skips loaded ones.

    ``missing``: keys already known not to exist; they are reported as such.
    """
    quarantine = S3Quarantine(s3, settings.bucket, settings.quarantine_prefix)

    def fetch(job: Job) -> bytes:
        try:
            obj = s3.get_object(Bucket=settings.bucket, Key=job.key)
        except s3.exceptions.ClientError as e:
            if is_absent_object(e) or (
                is_denied_object(e) and _head_missing(s3, settings, job.key)
            ):
                raise KeyError(job.key) from None
            raise
        job.etag = obj["ETag"].strip('"')
        return obj["Body"].read()

    ledger.ensure_ledger(conn)
    runner = _Runner(
        conn, settings, quarantine, reload=reload, progress=progress, deadline=deadline, fetch=fetch
    )
    jobs = [_job(r.key, r.etag or "", r.size, settings.staging_prefix) for r in refs]
    if not reload:
        known = [j for j in jobs if j.etag]
        done = ledger.done_ids(conn, [j.id for j in known])
        for job in [j for j in known if j.id in done]:
            runner.book.finish(job, State.SKIPPED)
        jobs = [j for j in jobs if not (j.etag and j.id in done)]
    report = runner.run(jobs)
    for key in missing or []:
        runner.book.finish(Job(key, "", 0, None), State.MISSING, f"{key} does not exist")
    return report


def _head_missing(s3: Any, settings: LoaderSettings, key: str) -> bool:
    """Whether a key whose GetObject was refused (403) is missing rather than unreadable.

    A refused GetObject of an existing object (a KMS key or a policy) still answers
    HeadObject, which needs no decrypt; a missing key is refused there too.
    """
    try:
        s3.head_object(Bucket=settings.bucket, Key=key)
    except s3.exceptions.ClientError as e:
        return is_absent_object(e) or is_denied_object(e)
    return False


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
            # Without ListBucket on the prefix S3 answers a missing key with 403, not 404.
            if is_absent_object(e) or is_denied_object(e):
                missing.append(key)
                continue
            raise
        refs.append(ObjectRef(key, head["ETag"].strip('"'), int(head.get("ContentLength", 0))))
    return load_refs(
        conn,
        s3,
        settings,
        refs,
        reload=reload,
        progress=progress,
        deadline=deadline,
        missing=missing,
    )
