"""Load a prefix of staging objects again (``ddbload reload``), through the loader's own path.

``plan`` lists what would be loaded (objects, bytes, how many the ledger
already has); ``execute`` loads them. Locally the loader engine runs here
(``engine.load_keys(..., reload=True)``); against a deployed stack the
deployed loader function runs it, where the database is reachable, invoked
with ``{"action": "reload", "prefix": P, "table": T}``. Reloading is harmless
by design: the version guard keeps the newest change per key, so loading a
file twice leaves the target as it was and only the ledger's load count moves.

The deployed invoke is synchronous and may last the loader's whole timeout: its
client waits longer than that (``invoke_config``) and never retries by itself, since
a retry would start a second run beside the first, still running. While it waits,
``waiting(elapsed_seconds)`` is called about once a second (the CLI draws it). A
table whose lock another run holds comes back as ``busy`` (``loaders.jobs.RunReport``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import orjson
from botocore.config import Config
from botocore.exceptions import ReadTimeoutError

from contract.config import DEFAULTS
from loaders.errors import is_missing_table
from loaders.jobs import JobResult
from ops import inspection
from ops.pipeline import OperatorError, Pipeline


@dataclass
class PlannedObject:
    key: str
    etag: str
    size: int
    loaded: bool  # the ledger already has this version loaded (or quarantined)


@dataclass
class ReloadPlan:
    """What ``reload`` would do; nothing has changed yet."""

    where: str
    bucket: str
    prefix: str  # full key prefix
    table: str | None
    objects: list[PlannedObject] = field(default_factory=list)
    # None when the ledger cannot be read from here (a deployed stack's private database).
    already_loaded: int | None = None

    @property
    def bytes(self) -> int:
        return sum(o.size for o in self.objects)

    def to_json(self) -> dict[str, Any]:
        return {
            "where": self.where,
            "bucket": self.bucket,
            "prefix": self.prefix,
            "table": self.table,
            "objects": len(self.objects),
            "bytes": self.bytes,
            "already_loaded": self.already_loaded,
            "keys": [o.key for o in self.objects],
        }


# What ``--json`` shows of each file's ``loaders.jobs.JobResult``.
FILE_FIELDS = ("key", "status", "read", "applied", "stale", "deleted", "quarantined", "error")
ROW_COUNTS = ("read", "applied", "stale", "deleted", "quarantined")
# A file in one of these states needs nothing more (the engine's settled states, less MISSING).
OK_STATUSES = ("loaded", "quarantined", "skipped")


def file_json(f: JobResult) -> dict[str, Any]:
    return {name: getattr(f, name) for name in FILE_FIELDS}


def row_totals(files: list[JobResult]) -> dict[str, int]:
    return {name: sum(getattr(f, name) for f in files) for name in ROW_COUNTS}


@dataclass
class ReloadResult:
    plan: ReloadPlan
    files: list[JobResult]
    error: str | None = None  # why the run stopped early, if it did
    # Source tables whose lock another loader run held: their files were left to it.
    busy: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            self.error is None
            and not self.busy
            and all(f.status in OK_STATUSES for f in self.files)
        )

    @property
    def busy_sentence(self) -> str | None:
        if not self.busy:
            return None
        tables = ", ".join(self.busy)
        which = "table" if len(self.busy) == 1 else "tables"
        return (
            f"Another loader run holds the lock of {which} {tables}, so its files were not "
            "reloaded now; run the reload again once that run has finished."
        )

    def to_json(self) -> dict[str, Any]:
        by_status: dict[str, int] = {}
        for f in self.files:
            by_status[f.status] = by_status.get(f.status, 0) + 1
        return {
            "plan": self.plan.to_json(),
            "files": [file_json(f) for f in self.files],
            "by_status": by_status,
            "rows": row_totals(self.files),
            "error": self.error,
            "busy": self.busy,
            "ok": self.ok,
        }


def reload_prefix(pipeline: Pipeline, prefix: str, table: str | None) -> str:
    """The full key prefix to reload: ``--table T`` with a prefix inside that table's folder."""
    if table and "table=" not in prefix:
        relative = prefix
        for root in (pipeline.staging_prefix.rstrip("/") + "/", f"s3://{pipeline.bucket}/"):
            relative = relative.removeprefix(root)
        return pipeline.table_prefix(table) + relative.lstrip("/")
    return inspection.full_prefix(pipeline, prefix)


def plan(pipeline: Pipeline, prefix: str, table: str | None = None, conn: Any = None) -> ReloadPlan:
    """Every staging object under ``prefix`` (of ``table``), and which are already loaded.

    ``conn`` reads the ledger; without one (a deployed stack whose database is
    private) ``already_loaded`` stays None.
    """
    if not prefix:
        raise OperatorError("Give the prefix to reload with --prefix (e.g. table=orders/2025/06/).")
    full = reload_prefix(pipeline, prefix, table)
    if not full.startswith(pipeline.staging_prefix.rstrip("/") + "/"):
        raise OperatorError(
            f"{full} is not under the staging prefix {pipeline.staging_prefix}/; reload only "
            "loads staging objects (use --errors for failed and quarantined ones)."
        )
    result = ReloadPlan(where=pipeline.where, bucket=pipeline.bucket, prefix=full, table=table)
    for entry in inspection.list_objects(pipeline, full):
        if table and inspection.table_of(pipeline, entry["Key"]) != table:
            continue
        result.objects.append(
            PlannedObject(entry["Key"], entry.get("ETag", "").strip('"'), entry["Size"], False)
        )
    if not result.objects:
        what = f" of table {table}" if table else ""
        raise OperatorError(f"Nothing{what} under s3://{pipeline.bucket}/{full}; check the prefix.")
    if conn is not None:
        from loaders import ledger

        try:
            done = ledger.done_ids(conn, [ledger.job_id(o.key, o.etag) for o in result.objects])
        except Exception as e:
            if not is_missing_table(e):  # no ledger table: nothing loaded yet
                raise
            done = set()
        for o in result.objects:
            o.loaded = ledger.job_id(o.key, o.etag) in done
        result.already_loaded = sum(o.loaded for o in result.objects)
    return result


def execute(
    pipeline: Pipeline,
    planned: ReloadPlan,
    conn: Any = None,
    progress: Callable[[JobResult], None] | None = None,
    waiting: Callable[[float], None] | None = None,
) -> ReloadResult:
    """Load every planned object again: the engine here (local) or the deployed loader.

    ``progress`` gets each file's result; ``waiting`` the seconds spent so far while
    the deployed loader runs (it answers only at the end).
    """
    if pipeline.local:
        return _execute_here(pipeline, planned, conn, progress)
    return _execute_deployed(pipeline, planned, progress, waiting)


def _execute_here(
    pipeline: Pipeline,
    planned: ReloadPlan,
    conn: Any,
    progress: Callable[[JobResult], None] | None,
) -> ReloadResult:
    from loaders import engine

    run = engine.load_keys(
        conn,
        pipeline.client("s3"),
        pipeline.loader_settings(),
        [o.key for o in planned.objects],
        reload=True,
        progress=progress,
    )
    return ReloadResult(
        plan=planned,
        files=_in_plan_order(planned, run.results),
        error=run.error,
        busy=sorted(run.busy),
    )


# Beyond the loader's own timeout: cold start and init are not part of it.
INVOKE_MARGIN_SECONDS = 60
WAIT_TICK_SECONDS = 1.0


def loader_timeout(pipeline: Pipeline) -> int:
    return int(
        pipeline.config.settings.get("loader_timeout_seconds", DEFAULTS["loader_timeout_seconds"])
    )


def invoke_config(pipeline: Pipeline) -> Config:
    """The Lambda client's settings for a synchronous invoke of the loader.

    boto3's default 60 s read timeout would give up on every reload longer than
    that, and its automatic retry would start a second run beside the first.
    """
    return Config(
        read_timeout=loader_timeout(pipeline) + INVOKE_MARGIN_SECONDS,
        retries={"total_max_attempts": 1},
    )


def _execute_deployed(
    pipeline: Pipeline,
    planned: ReloadPlan,
    progress: Callable[[JobResult], None] | None,
    waiting: Callable[[float], None] | None,
) -> ReloadResult:
    if not pipeline.loader_function:
        raise OperatorError(f"The {pipeline.where} has no {'LoaderFunctionName'} output.")
    event = {"action": "reload", "prefix": planned.prefix, "table": planned.table}
    config = invoke_config(pipeline)
    client = pipeline.client("lambda", config=config)
    try:
        response = _wait_for(
            lambda: client.invoke(
                FunctionName=pipeline.loader_function,
                InvocationType="RequestResponse",
                Payload=orjson.dumps(event),
            ),
            waiting,
            # The read timeout ends the call; the bound only keeps this loop finite.
            limit=float(config.read_timeout) * 2 + 60,
        )
    except ReadTimeoutError:
        raise OperatorError(
            f"The loader function {pipeline.loader_function} did not answer within "
            f"{config.read_timeout} s; it may still be running, so check `ddbload status` "
            "before reloading again."
        ) from None
    payload = response["Payload"].read()
    if response.get("FunctionError"):
        try:
            message = orjson.loads(payload).get("errorMessage", "")
        except (orjson.JSONDecodeError, AttributeError):
            message = payload[:200].decode(errors="replace")
        raise OperatorError(f"The loader function {pipeline.loader_function} failed: {message}")
    doc = orjson.loads(payload)
    files, error = parse_loader_report(doc, planned)
    for f in files:
        if progress:
            progress(f)
    busy = doc.get("busy") or []
    return ReloadResult(
        plan=planned,
        files=_in_plan_order(planned, files),
        error=error,
        busy=sorted(str(t) for t in busy) if isinstance(busy, list) else [],
    )


def _wait_for(
    call: Callable[[], Any], waiting: Callable[[float], None] | None, limit: float
) -> Any:
    """Run ``call`` in a thread and tell ``waiting`` the elapsed seconds until it returns."""
    started = time.monotonic()
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        future = pool.submit(call)
        while time.monotonic() - started < limit:
            try:
                return future.result(timeout=WAIT_TICK_SECONDS)
            except TimeoutError:
                if waiting:
                    waiting(time.monotonic() - started)
    finally:
        pool.shutdown(wait=False)
    # Unreachable while the client's read timeout holds; never wait forever.
    raise OperatorError(
        f"No answer from the loader function after {limit:.0f} s; check `ddbload status`."
    )


def parse_loader_report(doc: Any, planned: ReloadPlan) -> tuple[list[JobResult], str | None]:
    """Per-file outcomes from the loader function's answer (``loaders.handler``).

    The handler answers ``{"status": "error"|"unreachable", "error"}`` when it
    could not run, else its run report: ``"files"`` (count per status),
    ``"rows"`` (totals), ``"failed"`` ([{"key", "error"}]) and ``"error"``, plus
    ``"results"`` (one ``loaders.jobs.JobResult`` per file) when it sends them. Without
    per-file results a file not listed as failed is ``loaded`` when the counts
    say every other file loaded, else ``unknown``; row counts are then the run's
    totals, on the first file.
    """
    if not isinstance(doc, dict):
        raise OperatorError("The loader function answered with something that is not a report.")
    if doc.get("status") in ("error", "unreachable"):
        raise OperatorError(f"The deployed loader could not reload: {doc.get('error')}")
    if isinstance(doc.get("results"), list):
        return [_outcome(r) for r in doc["results"]], doc.get("error")
    failed = {f["key"]: f.get("error") for f in doc.get("failed", []) if isinstance(f, dict)}
    counts = doc.get("files", {})
    settled = sum(counts.get(s, 0) for s in ("loaded", "quarantined", "skipped"))
    rest = "loaded" if settled == len(planned.objects) - len(failed) else "unknown"
    files = [
        JobResult(o.key, status="failed", error=failed[o.key])
        if o.key in failed
        else JobResult(o.key, status=rest)
        for o in planned.objects
    ]
    rows = doc.get("rows", {})
    if files and rows:
        first = next((f for f in files if f.status != "failed"), files[0])
        for name in ROW_COUNTS:
            setattr(first, name, int(rows.get(name, 0)))
    return files, doc.get("error")


def _outcome(r: dict[str, Any]) -> JobResult:
    """A file's result as the deployed loader reports it (``JobResult.as_dict``)."""
    return JobResult(
        key=r["key"],
        etag=r.get("etag", ""),
        table=r.get("table", ""),
        status=r.get("status", "pending"),
        read=r.get("read", 0),
        applied=r.get("applied", 0),
        stale=r.get("stale", 0),
        deleted=r.get("deleted", 0),
        quarantined=r.get("quarantined", 0),
        error=r.get("error"),
        seconds=r.get("seconds", 0.0),
    )


def _in_plan_order(planned: ReloadPlan, files: list[JobResult]) -> list[JobResult]:
    order = {o.key: i for i, o in enumerate(planned.objects)}
    return sorted(files, key=lambda f: order.get(f.key, len(order)))
