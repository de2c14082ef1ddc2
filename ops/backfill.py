"""Backfill: load the items a DynamoDB table already holds, through the normal loader.

``ddbload backfill --table T`` reads the table's current items (a parallel
scan, or an existing DynamoDB export in S3), writes them as ordinary staging
objects (``op`` BACKFILL, see ``ops.backfill_store`` for names) and hands
those objects to the loader. Nothing new touches MariaDB: the same ledger, the
same version-guarded merge, the same tombstones decide.

Versions. Every backfill line of a run carries one version B and ``seq`` "".
* scan:   B = time the run started (S) - margin M (default 60 s);
* export: B = the export's exportTime (E) - M.
Precondition: streaming into the pipeline was on before the read point (S, or
E), so every change made after it is streamed with a version above B. Checked
as far as DynamoDB tells: the table has an ACTIVE Kinesis streaming
destination (or, in local mode, a DynamoDB stream the driver forwards).

Why it converges. The scan reads each key at some time r >= S (an export at
r = E). Take any key and its last change c, version v_c:
* c before r: the backfill line holds the state after c. If v_c <= B, that
  line (version B) is the newest the key has and wins (a streamed line in the
  same microsecond wins the tie over seq "", and holds the same state). If
  v_c > B, either c was streamed and wins holding the state the scan read, or
  c predates streaming and the backfill line is the newest: the same state.
* c after r: c is streamed, and v_c > B because M covers the skew between this
  machine's clock and DynamoDB's and the "approximate" in
  ApproximateCreationDateTime; the newer change wins whatever order the files
  load in.
* c is a delete after r: its tombstone (version > B) keeps the older backfill
  line out, so the item does not come back. A delete before r: the scan never
  sees the key.
So B only has to be below every change made after the read point; a larger M
costs nothing but tolerates more skew.

Resumable. Object names depend only on (run, segment, page), and each segment
saves a checkpoint after each page (``backfill_store``). Running again with the
same run id (or with none: the newest unfinished run of the table with the
same source) continues after the last checkpoint; at most one page per segment
is written twice, which the ledger (same ETag) or the version guard (same
version) makes harmless. Before finishing, every object of the run goes to the
loader, so pages written but not loaded before an interruption load too.

Bad input (missing table, a key that cannot be a column, an export that is not
a full DYNAMODB_JSON export of this table) is found before anything is written
and raised as ``BackfillError`` with one sentence.
"""

from __future__ import annotations

import queue
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import orjson
from botocore.exceptions import ClientError

from contract import layout, staging, values
from contract.config import ConfigError, PipelineConfig, TableMapping
from ops.backfill_sources import BackfillError, ExportSource, ScanSource
from ops.backfill_store import RUN_ID, RunState, SegmentState, Store
from ops.pipeline import Pipeline

__all__ = [
    "BackfillError",
    "BackfillProgress",
    "BackfillResult",
    "EngineLoad",
    "Options",
    "PipelineBackfill",
    "backfill_pipeline",
    "run",
]

OP = "BACKFILL"
# DynamoDB accepts up to 1,000,000 scan segments; more threads than this helps nobody.
MAX_SEGMENTS = 64


@dataclass(frozen=True)
class Options:
    segments: int = 4  # parallel scan segments (export: data files read at once)
    export: str | None = None  # s3://bucket/prefix of a finished export; None: scan
    rate_items: float | None = None  # scan read bound, items per second
    rate_rcu: float | None = None  # scan read bound, read capacity units per second
    run_id: str | None = None  # continue (or start) this run
    resume: bool = True  # with no run_id: continue the newest unfinished run
    margin_s: float = 60.0  # B = start (or exportTime) - margin
    page_items: int = 5000  # items per staging object
    require_streaming: bool = True


@dataclass(frozen=True)
class BackfillProgress:
    items: int  # items written by this invocation
    pages: int  # pages written by this invocation
    pages_loaded: int
    segments_done: int
    segments: int
    elapsed_s: float
    estimated_items: int | None  # DynamoDB's ItemCount (approximate) or the export's count

    @property
    def items_per_s(self) -> float:
        return self.items / self.elapsed_s if self.elapsed_s > 0 else 0.0


@dataclass
class BackfillResult:
    run: str
    table: str
    source: str
    version_us: int
    resumed: bool
    items: int  # items written by this invocation
    pages_written: int  # by this invocation
    keys: list[str] = field(default_factory=list)  # every staging object of the run
    elapsed_s: float = 0.0
    write_s: float = 0.0  # wall time reading the source and writing pages
    load_s: float = 0.0  # wall time inside the loader


class EngineLoad:
    """``load`` for ``run``: the real loader (``engine.load_keys``) on one connection.

    A page that does not settle (failed, left for retry) stops the backfill with
    the loader's reason; running the backfill again continues it.
    """

    def __init__(self, conn: Any, s3: Any, settings: Any) -> None:
        self.conn, self.s3, self.settings = conn, s3, settings
        self.totals = {"files": 0, "skipped": 0, "read": 0, "applied": 0, "stale": 0}

    def __call__(self, keys: list[str]) -> None:
        # Imported here: pyarrow and the SQL layer are only needed when loading.
        from loaders import engine
        from loaders.jobs import SETTLED, State

        report = engine.load_keys(self.conn, self.s3, self.settings, keys)
        settled = {s.value for s in SETTLED}
        for r in report.results:
            self.totals["files"] += 1
            self.totals["skipped"] += r.status == State.SKIPPED.value
            self.totals["read"] += r.read
            self.totals["applied"] += r.applied
            self.totals["stale"] += r.stale
            if r.status not in settled:
                raise BackfillError(
                    f"Loading {r.key} ended {r.status} ({(r.error or 'no reason given').rstrip('.')}); "
                    "run the backfill again to continue once that is fixed."
                )


def table_keys(dynamodb: Any, table: str) -> tuple[dict[str, str], dict[str, Any]]:
    """The table's key attributes (name -> S|N|B, partition key first) and its description."""
    try:
        desc = dynamodb.describe_table(TableName=table)["Table"]
    except ClientError as e:
        if e.response["Error"]["Code"] == "ResourceNotFoundException":
            raise BackfillError(
                f"DynamoDB table {table!r} does not exist in region "
                f"{dynamodb.meta.region_name}; check --table."
            ) from None
        raise
    types = {a["AttributeName"]: a["AttributeType"] for a in desc["AttributeDefinitions"]}
    schema = sorted(desc["KeySchema"], key=lambda k: k["KeyType"] != "HASH")
    return {k["AttributeName"]: types[k["AttributeName"]] for k in schema}, desc


def check_mapping(config: PipelineConfig, table: str, key_types: dict[str, str]) -> TableMapping:
    try:
        mapping = config.mapping_for(table, key_types)
    except ConfigError as e:
        raise BackfillError(" ".join(e.problems)) from None
    declared = {k.name: k.type for k in mapping.keys}
    if declared != key_types:
        raise BackfillError(
            f"The config declares the key of {table!r} as {declared} but the DynamoDB table's "
            f"key is {key_types}; fix partition_key/sort_key in the ddbload config."
        )
    return mapping


def check_streaming(dynamodb: Any, table: str, desc: dict[str, Any]) -> str:
    """How the table's changes leave it; raise when they do not, since B relies on it."""
    try:
        dests = dynamodb.describe_kinesis_streaming_destination(TableName=table).get(
            "KinesisDataStreamDestinations", []
        )
    except (ClientError, NotImplementedError):
        dests = []
    if any(d.get("DestinationStatus") == "ACTIVE" for d in dests):
        return "kinesis"
    if desc.get("StreamSpecification", {}).get("StreamEnabled"):
        return "dynamodb-stream"  # what the local-mode driver forwards to Kinesis
    raise BackfillError(
        f"Table {table!r} streams its changes nowhere (no ACTIVE Kinesis streaming "
        "destination); deploy the pipeline for it first, or changes made during the "
        "backfill would be lost."
    )


def item_line(
    table: str, key_names: tuple[str, ...], item: dict[str, Any], run: RunState, arrival_ms: int
) -> bytes:
    """One typed item -> one BACKFILL staging line."""
    try:
        key, key_types = staging.key_text({k: item[k] for k in key_names})
    except KeyError as e:
        raise BackfillError(f"An item of {table!r} has no key attribute {e.args[0]!r}.") from None
    plain, types = values.to_plain(item)
    return staging.encode_line(
        staging.StagingLine(
            table=table,
            op=OP,
            key=key,
            key_types=key_types,
            item=plain.decode(),
            item_types=orjson.dumps(types).decode() if types else None,
            version_us=run.version_us,
            seq="",
            ttl_delete=False,
            event_id=f"backfill:{run.run}",
            arrival_ms=arrival_ms,
        )
    )


def _validate(options: Options) -> None:
    if not 1 <= options.segments <= MAX_SEGMENTS:
        raise BackfillError(f"--segments must be between 1 and {MAX_SEGMENTS}.")
    if not 1 <= options.page_items <= 1_000_000:
        raise BackfillError("page_items must be between 1 and 1,000,000.")
    if options.margin_s < 0:
        raise BackfillError("The version margin must not be negative.")
    for name in ("rate_items", "rate_rcu"):
        value = getattr(options, name)
        if value is not None and value <= 0:
            raise BackfillError(f"--rate must be a positive number, got {value}.")
    if options.rate_items and options.rate_rcu:
        raise BackfillError("Give one read rate bound: items per second or RCU per second.")
    if options.run_id is not None and not RUN_ID.fullmatch(options.run_id):
        raise BackfillError(
            f"Run id {options.run_id!r} must be 1-64 of letters, digits, '.', '_' and '-'."
        )


def _open_run(
    store: Store,
    table: str,
    options: Options,
    source: ScanSource | ExportSource,
    now: float,
) -> tuple[RunState, bool]:
    """The run to continue, or a new one (not saved yet)."""
    existing: RunState | None = None
    if options.run_id:
        existing = store.load_run(table, options.run_id)
    elif options.resume:
        existing = next(
            (
                r
                for r in store.unfinished_runs(table)
                if r.source == source.kind and r.export == options.export
            ),
            None,
        )
    if existing is not None:
        if existing.source != source.kind or existing.export != options.export:
            raise BackfillError(
                f"Run {existing.run} of {table!r} read from "
                f"{existing.export or 'a scan'}; continue it with the same source."
            )
        if isinstance(source, ExportSource) and existing.segments != source.segments:
            raise BackfillError(f"The export of run {existing.run} changed since it started.")
        return existing, True
    stamp = time.gmtime(now)
    if isinstance(source, ExportSource):
        version = source.export_time_us - int(options.margin_s * 1_000_000)
        segments = source.segments
    else:
        version = int(now * 1_000_000) - int(options.margin_s * 1_000_000)
        segments = options.segments
    run = RunState(
        run=options.run_id or time.strftime("%Y%m%dT%H%M%SZ", stamp) + "-" + secrets.token_hex(2),
        table=table,
        source=source.kind,
        version_us=version,
        segments=segments,
        page_items=options.page_items,
        hour=layout.hour_folder(now),
        started=time.strftime("%Y-%m-%dT%H:%M:%SZ", stamp),
        export=options.export,
    )
    return run, False


@dataclass
class _Page:
    key: str | None  # None: the segment ended without a further object
    items: int
    segment_done: bool


def _segment_worker(
    store: Store,
    source: ScanSource | ExportSource,
    run: RunState,
    segment: int,
    key_names: tuple[str, ...],
    arrival_ms: int,
    out: queue.Queue[_Page | BaseException],
    stop: threading.Event,
) -> None:
    try:
        state = store.load_segment(run, segment)
        if state.done:
            out.put(_Page(None, 0, True))
            return
        for items, cursor in source.pages(state, stop):  # type: ignore[attr-defined]
            key = None
            if items:
                key = store.page_key(run, segment, state.pages)
                store.write_page(
                    key, [item_line(run.table, key_names, i, run, arrival_ms) for i in items]
                )
                state.pages += 1
                state.items += len(items)
            _advance(state, cursor)
            store.save_segment(run, state)
            out.put(_Page(key, len(items), state.done))
            if state.done or stop.is_set():
                return
    except BaseException as e:  # handed to the main thread, which stops the others
        out.put(e)


def _advance(state: SegmentState, cursor: Any) -> None:
    if cursor is None:
        state.done = True
    elif isinstance(cursor, int):
        state.lines = cursor
    else:
        state.last_key = cursor


def run(
    dynamodb: Any,
    s3: Any,
    store: Store,
    config: PipelineConfig,
    table: str,
    options: Options = Options(),  # noqa: B008 - frozen dataclass, never mutated
    *,
    load: Callable[[list[str]], object] | None = None,
    progress: Callable[[BackfillProgress], None] | None = None,
) -> BackfillResult:
    """Backfill ``table``: validate, then read, write pages, and ``load`` them as they land.

    ``load(keys)`` is given staging object keys in batches (the CLI passes the
    loader's ``load_keys``); without it the pages wait for the scheduled loader.
    ``progress`` is called from this thread after each page; an exception it
    raises stops the run (what remains is resumable).
    """
    started = time.monotonic()
    now = time.time()
    _validate(options)
    key_types, desc = table_keys(dynamodb, table)
    check_mapping(config, table, key_types)
    if options.require_streaming:
        check_streaming(dynamodb, table, desc)
    source: ScanSource | ExportSource
    if options.export:
        source = ExportSource(s3, options.export, table, options.page_items)
        source.validate()
        estimate: int | None = source.item_count
    else:
        source = ScanSource(
            dynamodb,
            table,
            options.segments,
            options.page_items,
            rate_items=options.rate_items,
            rate_rcu=options.rate_rcu,
        )
        estimate = desc.get("ItemCount")
    run_state, resumed = _open_run(store, table, options, source, now)
    if isinstance(source, ScanSource):
        source.segments = run_state.segments  # a resumed scan keeps its segmentation
    source.page_items = run_state.page_items
    store.save_run(run_state)

    result = BackfillResult(run_state.run, table, source.kind, run_state.version_us, resumed, 0, 0)
    arrival_ms = run_state.version_us // 1000
    key_names = tuple(key_types)
    pages: queue.Queue[_Page | BaseException] = queue.Queue()
    stop = threading.Event()
    loaded: set[str] = set()
    pending: list[str] = []
    segments_done = 0

    def flush() -> None:
        if load and pending:
            t = time.monotonic()
            load(list(pending))
            result.load_s += time.monotonic() - t
            loaded.update(pending)
        pending.clear()

    workers = min(run_state.segments, max(options.segments, 1)) or 1
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="backfill") as pool:
        try:
            for segment in range(run_state.segments):
                pool.submit(
                    _segment_worker,
                    store, source, run_state, segment, key_names, arrival_ms, pages, stop,
                )  # fmt: skip
            # Bounded: every segment ends with a page marked done, or an error.
            while segments_done < run_state.segments:
                got = pages.get()
                if isinstance(got, BaseException):
                    raise got
                segments_done += got.segment_done
                if got.key:
                    result.pages_written += 1
                    result.items += got.items
                    pending.append(got.key)
                # Load in batches while the segments keep reading; each object is its own job.
                if (
                    len(pending) >= max(1, run_state.segments)
                    or segments_done == run_state.segments
                ):
                    flush()
                if progress:
                    progress(
                        BackfillProgress(
                            result.items,
                            result.pages_written,
                            len(loaded),
                            segments_done,
                            run_state.segments,
                            time.monotonic() - started,
                            estimate,
                        )
                    )
        finally:
            stop.set()
    result.write_s = time.monotonic() - started - result.load_s
    result.keys = store.run_keys(run_state)
    # Pages of an earlier, interrupted invocation that never reached the loader.
    pending.extend(k for k in result.keys if k not in loaded)
    flush()
    run_state.done = True
    store.save_run(run_state)
    result.elapsed_s = time.monotonic() - started
    return result


@dataclass
class PipelineBackfill:
    """A backfill of a pipeline's table and what of it loaded from here."""

    result: BackfillResult
    loaded: dict[str, int] | None  # ``EngineLoad.totals``; None: left to the scheduled loader

    def to_json(self) -> dict[str, Any]:
        r = self.result
        return {
            "run": r.run,
            "table": r.table,
            "source": r.source,
            "version_us": r.version_us,
            "resumed": r.resumed,
            "items": r.items,
            "pages_written": r.pages_written,
            "objects": len(r.keys),
            "loaded_here": self.loaded is not None,
            "loaded": self.loaded,
            "elapsed_s": round(r.elapsed_s, 3),
            "items_per_s": round(r.items / r.elapsed_s, 1) if r.elapsed_s else 0.0,
        }


def backfill_pipeline(
    pipeline: Pipeline,
    table: str,
    options: Options = Options(),  # noqa: B008 - frozen dataclass, never mutated
    *,
    progress: Callable[[BackfillProgress], None] | None = None,
) -> PipelineBackfill:
    """``run`` on a resolved pipeline, loading through the engine where the database is reachable.

    Where it is not (a deployed stack's private database), the pages wait for
    the scheduled loader.
    """
    s3 = pipeline.client("s3")
    conn = pipeline.ledger_connection()
    load = EngineLoad(conn, s3, pipeline.loader_settings()) if conn is not None else None
    store = Store(s3, pipeline.bucket, pipeline.staging_prefix)
    try:
        result = run(
            pipeline.client("dynamodb"),
            s3,
            store,
            pipeline.config,
            table,
            options,
            load=load,
            progress=progress,
        )
    finally:
        if conn is not None:
            conn.close()
    return PipelineBackfill(result, dict(load.totals) if load is not None else None)
