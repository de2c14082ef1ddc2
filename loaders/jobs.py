"""Load jobs: one S3 object is one job with a stable id, explicit states, one place that moves them.

A job's id is its bucket/key/ETag (``ledger.job_id``). ``JobBook.finish`` is the
only place a job leaves PENDING: loaded, quarantined, failed, left for a retry,
deferred, skipped (already in the ledger) and missing alike. It settles the
stale count, times the job, adds its ``JobResult`` to the run's report and tells
the progress callback. The engine (``loaders.engine``) decides which state; the
batch (``loaders.batch``) fills the counts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from loaders import ledger


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
    """What became of one file: the one per-file outcome, for the loader and the operator alike."""

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
    # Source tables whose named lock another run held: their files wait for a later run.
    busy: list[str] = field(default_factory=list)

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
            "busy": sorted(self.busy),
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


def now() -> datetime:
    """UTC without tzinfo, as the ledger's DATETIME columns hold it."""
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass
class Job:
    key: str
    etag: str
    size: int
    source: str | None  # DynamoDB table from the key's table= folder; None: not staging
    data: bytes | None = None
    result: JobResult = field(init=False)
    bad_file: str | None = None  # reason the whole file is quarantined
    flushed: bool = False  # part of it was handed to the merge
    rejected: list[dict[str, Any]] = field(default_factory=list)
    started: datetime | None = None
    # The file's version_us columns as read (Arrow arrays): its ledger row's change times.
    versions: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.result = JobResult(self.key, self.etag, self.source or "")

    @property
    def id(self) -> str:
        return ledger.job_id(self.key, self.etag)

    @property
    def pending(self) -> bool:
        return self.result.status == State.PENDING.value


class JobBook:
    """The run's report, and the only place a job's state changes."""

    def __init__(self, progress: Callable[[JobResult], None] | None = None) -> None:
        self.report = RunReport()
        self.progress = progress

    def finish(self, job: Job, state: State, error: str | None = None) -> None:
        r = job.result
        r.status, r.error = state.value, error
        r.etag = job.etag
        if state in (State.LOADED, State.QUARANTINED):
            r.stale = max(0, r.read - r.applied - r.deleted - r.quarantined)
        if job.started:
            r.seconds = round((now() - job.started).total_seconds(), 3)
        self.report.results.append(r)
        if self.progress:
            self.progress(r)
