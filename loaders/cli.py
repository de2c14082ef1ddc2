"""``ddbload``: the operator CLI, a thin layer over the library.

Each command opens the pipeline (``loaders.pipeline.resolve``), makes one
library call and formats the result as a table or, with ``--json``, as a
stable JSON document (shape in each command's help). Errors an operator can
act on become one sentence on stderr and exit code 1, here at the edge only
(``EdgeGroup``); usage errors exit 2; ``status`` exits 3 when something needs
attention. ``DDBLOAD_DEBUG=1`` shows the traceback of an unexpected error.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import orjson
import typer
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
)
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from typer.core import TyperGroup

from contract.config import ConfigError
from loaders import inspect as inspect_lib
from loaders.pipeline import OperatorError, Pipeline, resolve

EXIT_ERROR = 1
EXIT_ATTENTION = 3


def sentence(exc: BaseException) -> str | None:
    """The one sentence an operator sees for an error, or None when it is a bug."""
    if isinstance(exc, OperatorError):
        return str(exc)
    from loaders.backfill_sources import BackfillError
    from loaders.settings import SettingsError
    from localmode.server import LocalModeError

    if isinstance(exc, LocalModeError | SettingsError | BackfillError):
        text = str(exc)
        return text[:1].upper() + text[1:]
    if isinstance(exc, ConfigError):
        return "The pipeline configuration is invalid: " + " ".join(exc.problems)
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return (
            "No AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, or use --local."
        )
    if isinstance(exc, NoRegionError):
        return "No AWS region set: set AWS_DEFAULT_REGION (or a region in your AWS profile)."
    if isinstance(exc, EndpointConnectionError):
        return (
            f"Cannot reach {exc.kwargs.get('endpoint_url', 'the AWS endpoint')}; "
            "for the local stack run `ddbload local up` first."
        )
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        return f"AWS refused {exc.operation_name}: {err.get('Code')}: {err.get('Message')}"
    if isinstance(exc, BotoCoreError):
        return f"AWS call failed: {exc}"
    db = _database_sentence(exc)
    if db:
        return db
    return None


def _database_sentence(exc: BaseException) -> str | None:
    import pymysql

    if isinstance(exc, pymysql.err.OperationalError):
        code = exc.args[0] if exc.args else None
        if code in (2003, 2005, 2006, 2013):
            return f"The database is unreachable ({exc.args[1]}); check that it is up."
        if code == 1045:
            return "The database refused the credentials in the pipeline's secret."
        if code == 1049:
            return f"The database does not exist ({exc.args[1]})."
        return f"Database error {code}: {exc.args[1] if len(exc.args) > 1 else exc}."
    return None


class EdgeGroup(TyperGroup):
    """The error boundary: library errors -> one sentence on stderr and exit code 1."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except Exception as exc:
            text = sentence(exc)
            if text is None:
                if os.environ.get("DDBLOAD_DEBUG"):
                    raise
                text = (
                    f"Unexpected error ({type(exc).__name__}: {exc}); "
                    "run again with DDBLOAD_DEBUG=1 for the details."
                )
            typer.echo(f"ddbload: {text}", err=True)
            raise typer.Exit(EXIT_ERROR) from None


app = typer.Typer(
    name="ddbload",
    cls=EdgeGroup,
    help="Operate a ddbload pipeline: DynamoDB changes -> S3 staging -> MariaDB.\n\n"
    "Commands that read or change a pipeline take --local (the local stack) or "
    "--stack NAME (a deployed stack, found by its CloudFormation outputs); "
    "DDBLOAD_LOCAL=1 and DDBLOAD_STACK=NAME set the default.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@app.callback()
def _root() -> None:
    """Keeps ``ddbload`` a group of commands (and the error boundary on top of them)."""


Local = Annotated[
    bool, typer.Option("--local", help="Use the local stack (moto + MariaDB; `ddbload local up`).")
]
Stack = Annotated[
    str | None,
    typer.Option("--stack", metavar="NAME", help="Use the deployed CloudFormation stack NAME."),
]
Json = Annotated[bool, typer.Option("--json", help="Print JSON (shape documented above).")]


def _console() -> Console:
    return Console(highlight=False, soft_wrap=False)


def _json(doc: Any) -> None:
    typer.echo(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode())


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def _short(time: str | None) -> str:
    """An ISO time as 'YYYY-MM-DD HH:MM:SS' for tables."""
    return time[:19].replace("T", " ") if time else ""


def _open(local: bool, stack: str | None) -> Pipeline:
    return resolve(local=local, stack=stack)


@app.command()
def inspect(
    prefix: Annotated[
        str | None,
        typer.Argument(help="Key prefix, relative to the staging prefix (default: everything)."),
    ] = None,
    errors: Annotated[
        bool,
        typer.Option("--errors", help="List Firehose processing failures and quarantine."),
    ] = False,
    show: Annotated[
        str | None,
        typer.Option("--show", metavar="KEY", help="Print the decoded records of one object."),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Records shown by --show.")] = 20,
    local: Local = False,
    stack: Stack = None,
    as_json: Json = False,
) -> None:
    """Staging objects under PREFIX: size, records, time span, table, load status.

    Load status comes from the ledger: loaded (when, rows applied / stale /
    deleted / quarantined), pending, or failed with the reason. Totals at the end.

    --json prints {"bucket", "prefix", "objects": [{"key", "size",
    "last_modified", "table", "records", "first_change", "last_change",
    "status", "loaded_at", "applied", "stale", "deleted", "quarantined",
    "loads", "reason"}], "totals": {"objects", "bytes", "records", "loaded",
    "quarantined", "failed", "pending"}}; with --errors [{"kind"
    (processing-failed | quarantined-file | quarantined-rows), "key", "object",
    "size", "last_modified", "records", "reasons"}]; with --show {"key", "records",
    "rows": [{"table", "op", "key", "version", "version_us", "seq",
    "ttl_delete", "item", "event_id"}]}. Times are ISO 8601 UTC.

    Example:

        ddbload inspect --local table=orders/2025/06/01/

        ddbload inspect --stack prod --show staging/table=orders/2025/06/01/12/f.gz --limit 5
    """
    pipeline = _open(local, stack)
    if show:
        _print_shown(inspect_lib.show(pipeline, show, limit), as_json)
    elif errors:
        _print_errors(inspect_lib.errors(pipeline, prefix), as_json)
    else:
        conn = pipeline.connect()
        try:
            listing = inspect_lib.inspect_prefix(pipeline, prefix, inspect_lib.ledger_lookup(conn))
        finally:
            conn.close()
        _print_listing(listing, as_json)


def _print_listing(listing: inspect_lib.Listing, as_json: bool) -> None:
    if as_json:
        _json(listing.to_json())
        return
    table = Table(title=f"s3://{listing.bucket}/{listing.prefix}", title_justify="left")
    table.add_column("object", overflow="fold")
    table.add_column("size", justify="right", no_wrap=True)
    table.add_column("records", justify="right")
    table.add_column("changes (UTC)", no_wrap=False)
    table.add_column("status")
    for o in listing.objects:
        span = _short(o.first_change)
        if o.last_change and o.last_change[:19] != (o.first_change or "")[:19]:
            span += " .. " + _short(o.last_change)[11:]
        status = o.status
        if o.status == "loaded":
            status = (
                f"loaded {_short(o.loaded_at)}\n{o.applied} applied, {o.stale} stale, "
                f"{o.deleted} deleted, {o.quarantined} quarantined"
            )
            if o.loads > 1:
                status += f"\n({o.loads} loads)"
        elif o.status in ("failed", "quarantined"):
            status = f"{o.status}: {o.reason}"
        table.add_row(
            o.key[len(listing.prefix) :] or o.key,
            _size(o.size),
            "?" if o.records is None else str(o.records),
            span,
            status,
        )
    t = listing.totals()
    console = _console()
    console.print(table)
    console.print(
        f"{t['objects']} objects, {_size(t['bytes'])}, {t['records']} records: "
        + ", ".join(f"{t[s]} {s}" for s in inspect_lib.STATUSES)
    )


def _print_errors(found: list[inspect_lib.ErrorObject], as_json: bool) -> None:
    if as_json:
        _json([e.to_json() for e in found])
        return
    console = _console()
    if not found:
        console.print("No processing failures and nothing quarantined.")
        return
    table = Table()
    table.add_column("kind")
    table.add_column("object", overflow="fold")
    table.add_column("records", justify="right")
    table.add_column("reasons", overflow="fold")
    for e in found:
        records = "file" if e.records is None else str(e.records)
        table.add_row(e.kind, e.key, records, "\n".join(e.reasons))
    console.print(table)
    console.print(f"{len(found)} entries")


def _print_shown(shown: inspect_lib.Shown, as_json: bool) -> None:
    if as_json:
        _json(shown.to_json())
        return
    table = Table(title=shown.key, title_justify="left")
    for name in ("op", "key", "version (UTC)", "seq", "item"):
        table.add_column(name, overflow="fold")
    for row in shown.rows:
        op = row["op"] + (" (TTL)" if row["ttl_delete"] else "")
        item = row["item"] or ""
        if len(item) > 200:
            item = item[:199] + "…"
        table.add_row(op, row["key"], _short(row["version"]), row["seq"], item)
    console = _console()
    console.print(table)
    console.print(f"{len(shown.rows)} of {shown.records} records")


@app.command()
def reload(
    prefix: Annotated[
        str | None,
        typer.Option(
            "--prefix",
            metavar="PREFIX",
            help="Key prefix to load again, relative to the staging prefix "
            "(with --errors: to the error and quarantine prefixes).",
        ),
    ] = None,
    table: Annotated[
        str | None,
        typer.Option("--table", metavar="T", help="Only objects of this source table."),
    ] = None,
    errors: Annotated[
        bool,
        typer.Option(
            "--errors",
            help="Reload Firehose processing failures and quarantined rows and files instead.",
        ),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan and change nothing.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    local: Local = False,
    stack: Stack = None,
    as_json: Json = False,
) -> None:
    """Load every staging object under PREFIX again, through the loader's own path.

    Prints the plan first (objects, bytes, how many are already loaded) and
    asks before loading unless --yes. Harmless by design: the version guard
    keeps the newest change per key, so a reload changes no row that is
    already current; the ledger counts one more load per file. Locally the
    loader engine runs here; against a deployed stack the deployed loader
    function runs it (where the database is reachable). With --table T and a
    PREFIX without table=, PREFIX is taken inside T's folder.

    --json (needs --yes or --dry-run) prints {"plan": {"where", "bucket",
    "prefix", "table", "objects", "bytes", "already_loaded", "keys"},
    "dry_run"} and after loading also "files": [{"key", "status", "read",
    "applied", "stale", "deleted", "quarantined", "error"}], "by_status",
    "rows": {"read", "applied", "stale", "deleted", "quarantined"}, "error",
    "ok". Exit code 1 when a file failed.

    --errors, once the cause is fixed: Firehose processing failures go through
    the real transform again and are written as staging objects
    (reloaded-<hash>-<name>.gz); quarantined rows are written back as staging
    objects; quarantined files load again by their own key. All of it loads
    through the loader; what loads is removed from the error and quarantine
    prefixes, what still fails stays there and is reported. --json prints
    {"plan": {"processing_failed_objects", "quarantined_row_objects",
    "quarantined_files", "records", "still_failing", "entries": [{"kind",
    "source", "reasons", "records", "still_failing", "still_failing_reasons",
    "loads"}]}, "dry_run"} and after loading also "outcomes": [{"kind",
    "source", "resolved", "remaining", "reasons", "files"}], "resolved",
    "remaining", "rows", "error", "ok". Exit code 3 when records still fail.

    Example:

        ddbload reload --local --prefix table=orders/2025/06/01/ --dry-run

        ddbload reload --stack prod --table orders --prefix 2025/06/01/ --yes

        ddbload reload --local --errors --yes
    """
    from loaders import reload as reload_lib

    if as_json and not (yes or dry_run):
        raise OperatorError("--json needs --yes or --dry-run: a question would mix into the JSON.")
    if errors:
        if table:
            raise OperatorError("--table does not apply to --errors; give --prefix instead.")
        _reload_errors(_open(local, stack), prefix, dry_run=dry_run, yes=yes, as_json=as_json)
        return
    if prefix is None:
        raise OperatorError(
            "Give the prefix to reload with --prefix (e.g. table=orders/2025/06/), or --errors."
        )
    pipeline = _open(local, stack)
    conn = _ledger_connection(pipeline)
    try:
        planned = reload_lib.plan(pipeline, prefix, table, conn)
        if as_json and dry_run:
            _json({"plan": planned.to_json(), "dry_run": True})
            return
        if not as_json:
            _print_plan(planned)
        if dry_run:
            typer.echo("dry run: nothing loaded.")
            return
        if not yes and not typer.confirm(f"Load these {len(planned.objects)} objects again?"):
            typer.echo("nothing loaded.")
            raise typer.Exit(EXIT_ERROR)
        with _progress(len(planned.objects), "reloading") as advance:
            result = reload_lib.execute(pipeline, planned, conn, lambda _: advance())
    finally:
        if conn is not None:
            conn.close()
    if as_json:
        _json({**result.to_json(), "dry_run": False})
    else:
        _print_outcomes(result)
    if not result.ok:
        raise typer.Exit(EXIT_ERROR)


def _reload_errors(
    pipeline: Pipeline, prefix: str | None, *, dry_run: bool, yes: bool, as_json: bool
) -> None:
    from loaders import reload_errors

    planned = reload_errors.plan(pipeline, prefix)
    if as_json and (dry_run or not planned.entries):
        _json({"plan": planned.to_json(), "dry_run": dry_run})
        return
    if not as_json:
        _print_errors_plan(planned)
    if not planned.entries:
        typer.echo("nothing to reload.")
        return
    if dry_run:
        typer.echo("dry run: nothing loaded.")
        return
    if not yes and not typer.confirm(f"Reload these {len(planned.entries)} entries?"):
        typer.echo("nothing loaded.")
        raise typer.Exit(EXIT_ERROR)
    conn = _ledger_connection(pipeline)
    try:
        with _progress(len(planned.entries), "reloading errors") as advance:
            result = reload_errors.execute(pipeline, planned, conn, lambda _: advance())
    finally:
        if conn is not None:
            conn.close()
    doc = result.to_json()
    if as_json:
        _json({**doc, "dry_run": False})
    else:
        _print_errors_outcome(result)
    if not result.ok:
        raise typer.Exit(EXIT_ERROR)
    if doc["remaining"]:
        raise typer.Exit(EXIT_ATTENTION)


def _print_errors_plan(planned: Any) -> None:
    doc = planned.to_json()
    console = _console()
    console.print(f"reload plan for the errors of the {planned.where} pipeline")
    console.print(f"  processing-failed objects  {doc['processing_failed_objects']}")
    console.print(f"  quarantined row objects    {doc['quarantined_row_objects']}")
    console.print(f"  quarantined files          {doc['quarantined_files']}")
    console.print(f"  records to load            {doc['records']}")
    console.print(f"  records still failing      {doc['still_failing']}")
    for e in planned.entries:
        if e.still_failing:
            console.print(f"  {e.source}: {len(e.still_failing)} still failing the transform")
            for reason in sorted(set(e.still_failing)):
                console.print(f"    - {reason}")


def _print_errors_outcome(result: Any) -> None:
    table = Table()
    table.add_column("kind")
    table.add_column("source", overflow="fold")
    table.add_column("outcome", overflow="fold")
    for name in ("applied", "stale", "deleted", "quarantined"):
        table.add_column(name, justify="right")
    for o in result.outcomes:
        if o.resolved:
            what = "loaded; removed from the error prefixes"
        else:
            what = f"{o.remaining} still failing: " + "; ".join(o.reasons or ["see the files"])
        table.add_row(
            o.entry.kind,
            o.entry.source,
            what,
            *(
                str(sum(getattr(f, n) for f in o.files))
                for n in ("applied", "stale", "deleted", "quarantined")
            ),
        )
    doc = result.to_json()
    console = _console()
    console.print(table)
    rows = doc["rows"]
    console.print(
        f"{doc['resolved']} of {len(result.outcomes)} resolved, {doc['remaining']} records still "
        f"failing; rows: {rows['applied']} applied, {rows['stale']} stale, "
        f"{rows['deleted']} deleted, {rows['quarantined']} quarantined"
    )
    if result.error:
        console.print(f"the run stopped early: {result.error}")


def _ledger_connection(pipeline: Pipeline) -> Any:
    """The database connection for the ledger; for a deployed stack it may be out of reach."""
    import pymysql

    if pipeline.local:
        return pipeline.connect()
    try:
        return pipeline.connect()
    except pymysql.err.OperationalError:
        return None


@contextmanager
def _progress(total: int, what: str) -> Iterator[Callable[[], None]]:
    """A progress bar on stderr (stdout stays clean for --json); yields ``advance()``."""
    console = Console(stderr=True)
    with Progress(
        TextColumn(what),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as bar:
        task = bar.add_task(what, total=total)
        yield lambda: bar.advance(task)


def _print_plan(planned: Any) -> None:
    loaded = "unknown (the database is not reachable from here)"
    if planned.already_loaded is not None:
        loaded = str(planned.already_loaded)
    console = _console()
    console.print(f"reload plan for the {planned.where} pipeline")
    console.print(f"  prefix          s3://{planned.bucket}/{planned.prefix}")
    if planned.table:
        console.print(f"  table           {planned.table}")
    console.print(f"  objects         {len(planned.objects)}")
    console.print(f"  bytes           {_size(planned.bytes)}")
    console.print(f"  already loaded  {loaded}")


def _print_outcomes(result: Any) -> None:
    table = Table()
    table.add_column("object", overflow="fold")
    table.add_column("status")
    for name in ("read", "applied", "stale", "deleted", "quarantined"):
        table.add_column(name, justify="right")
    prefix = result.plan.prefix
    for f in result.files:
        status = f.status if not f.error else f"{f.status}: {f.error}"
        table.add_row(
            f.key[len(prefix) :] or f.key,
            status,
            *(str(getattr(f, n)) for n in ("read", "applied", "stale", "deleted", "quarantined")),
        )
    console = _console()
    console.print(table)
    rows = result.to_json()["rows"]
    console.print(
        f"{len(result.files)} files: "
        + ", ".join(f"{n} {s}" for s, n in sorted(result.to_json()["by_status"].items()))
        + f"; rows: {rows['applied']} applied, {rows['stale']} stale, {rows['deleted']} deleted, "
        f"{rows['quarantined']} quarantined"
    )
    if result.error:
        console.print(f"the run stopped early: {result.error}")


@app.command()
def backfill(
    table: Annotated[
        str, typer.Option("--table", metavar="T", help="The DynamoDB table to backfill.")
    ],
    segments: Annotated[
        int,
        typer.Option(
            "--segments", metavar="N", help="Parallel scan segments (export: files read at once)."
        ),
    ] = 4,
    rate: Annotated[
        float | None,
        typer.Option("--rate", metavar="N", help="Read at most N items per second (scan)."),
    ] = None,
    rate_rcu: Annotated[
        float | None,
        typer.Option(
            "--rate-rcu", metavar="N", help="Use at most N read capacity units per second (scan)."
        ),
    ] = None,
    export: Annotated[
        str | None,
        typer.Option(
            "--export",
            metavar="S3_URL",
            help="Read a finished DynamoDB export (s3://bucket/prefix) instead of scanning.",
        ),
    ] = None,
    run_id: Annotated[
        str | None,
        typer.Option("--run", metavar="ID", help="Continue (or start) the backfill run ID."),
    ] = None,
    restart: Annotated[
        bool,
        typer.Option("--restart", help="Start a new run instead of continuing the unfinished one."),
    ] = False,
    local: Local = False,
    stack: Stack = None,
    as_json: Json = False,
) -> None:
    """Load the items table T already holds into its MariaDB target, through the loader.

    Reads the table with a parallel scan (or a finished point-in-time export
    with --export), writes the items as ordinary staging objects (op BACKFILL)
    and loads them through the same ledger and version guard as streamed
    changes, so a change streamed during or after the backfill wins when
    newer and a deleted item does not come back. An interrupted backfill
    continues where it stopped when run again (--restart starts over; --run ID
    picks a run). Where the database is not reachable from here (a deployed
    stack's private database) the pages wait for the scheduled loader.

    --json prints {"run", "table", "source" (scan | export), "version_us",
    "resumed", "items", "pages_written", "objects", "loaded_here", "loaded":
    {"files", "skipped", "read", "applied", "stale"} or null, "elapsed_s",
    "items_per_s"}.

    Example:

        ddbload backfill --local --table orders --segments 2

        ddbload backfill --stack prod --table orders --rate-rcu 500

        ddbload backfill --stack prod --table orders --export s3://exports/AWSDynamoDB/0169-ab/
    """
    from loaders import backfill as backfill_lib
    from loaders.backfill_store import Store

    pipeline = _open(local, stack)
    options = backfill_lib.Options(
        segments=segments,
        export=export,
        rate_items=rate,
        rate_rcu=rate_rcu,
        run_id=run_id,
        resume=not restart,
    )
    conn = _ledger_connection(pipeline)
    load = None
    if conn is not None:
        load = backfill_lib.EngineLoad(conn, pipeline.client("s3"), pipeline.loader_settings())
    store = Store(pipeline.client("s3"), pipeline.bucket, pipeline.staging_prefix)
    try:
        with _rate_progress(f"backfill {table}") as progress:
            result = backfill_lib.run(
                pipeline.client("dynamodb"),
                pipeline.client("s3"),
                store,
                pipeline.config,
                table,
                options,
                load=load,
                progress=progress,
            )
    except KeyboardInterrupt:
        typer.echo(
            "ddbload: backfill interrupted; run the same command again to continue.", err=True
        )
        raise typer.Exit(130) from None
    finally:
        if conn is not None:
            conn.close()
    doc = {
        "run": result.run,
        "table": result.table,
        "source": result.source,
        "version_us": result.version_us,
        "resumed": result.resumed,
        "items": result.items,
        "pages_written": result.pages_written,
        "objects": len(result.keys),
        "loaded_here": load is not None,
        "loaded": dict(load.totals) if load is not None else None,
        "elapsed_s": round(result.elapsed_s, 3),
        "items_per_s": round(result.items / result.elapsed_s, 1) if result.elapsed_s else 0.0,
    }
    if as_json:
        _json(doc)
        return
    console = _console()
    verb = "continued" if result.resumed else "ran"
    console.print(
        f"backfill {verb} run {result.run} of {table} ({result.source}): "
        f"{result.items} items in {result.pages_written} pages, {doc['items_per_s']} items/s"
    )
    if load is not None:
        t = load.totals
        console.print(
            f"loaded {t['files']} objects ({t['skipped']} already loaded): "
            f"{t['read']} read, {t['applied']} applied, {t['stale']} stale"
        )
    else:
        console.print(
            f"the database is not reachable from here: the {len(result.keys)} objects wait "
            "for the scheduled loader (see `ddbload status`)"
        )


@contextmanager
def _rate_progress(what: str) -> Iterator[Callable[[Any], None]]:
    """A progress bar with items/s for ``BackfillProgress`` updates, on stderr."""
    console = Console(stderr=True)
    with Progress(
        TextColumn(what),
        BarColumn(),
        TextColumn("{task.completed:.0f}/{task.fields[estimate]} items"),
        TextColumn("{task.fields[rate]} items/s"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as bar:
        task = bar.add_task(what, total=None, estimate="?", rate="0")

        def report(p: Any) -> None:
            estimate = p.estimated_items
            bar.update(
                task,
                completed=p.items,
                # DynamoDB's item count is approximate: never let the bar run past its end.
                total=max(estimate, p.items) if estimate else None,
                estimate="?" if estimate is None else f"~{estimate}",
                rate=f"{p.items_per_s:.0f}",
            )

        yield report


@app.command()
def status(local: Local = False, stack: Stack = None, as_json: Json = False) -> None:
    """Per table: lag, backlog, last load, failures and quarantine (24 h); dead letters.

    Lag is now minus the newest change committed to MariaDB; backlog the
    staging objects not loaded yet. Exit code 3 when something needs
    attention (a failure or quarantine in the last 24 hours, a staging
    object waiting longer than two schedules plus the Firehose buffer, or
    messages in the dead-letter queue), so it can run from cron or a check.

    --json prints {"where", "checked_at", "tables": [{"table", "target",
    "lag_seconds", "newest_change", "backlog_objects", "backlog_bytes",
    "oldest_pending", "last_load", "failed_24h", "quarantined_files_24h",
    "quarantined_rows_24h", "attention": [sentences], "needs_attention"}],
    "dead_letter_messages", "work_queue_messages", "attention",
    "needs_attention"}.

    Example:

        ddbload status --stack prod --json
    """
    from loaders import status as status_lib

    pipeline = _open(local, stack)
    conn = pipeline.connect()
    try:
        health = status_lib.status(pipeline, conn)
    finally:
        conn.close()
    if as_json:
        _json(health.to_json())
    else:
        _print_status(health)
    if health.needs_attention:
        raise typer.Exit(EXIT_ATTENTION)


def _print_status(health: Any) -> None:
    table = Table(title=f"{health.where} pipeline at {_short(health.checked_at)} UTC")
    table.add_column("table")
    table.add_column("lag", justify="right")
    table.add_column("backlog", justify="right")
    table.add_column("last load (UTC)")
    table.add_column("failed 24h", justify="right")
    table.add_column("quarantined 24h", justify="right")
    for t in health.tables:
        lag = "-" if t.lag_seconds is None else _duration(t.lag_seconds)
        table.add_row(
            t.table,
            lag,
            f"{t.backlog_objects} ({_size(t.backlog_bytes)})",
            _short(t.last_load) or "never",
            str(t.failed_24h),
            f"{t.quarantined_files_24h} files, {t.quarantined_rows_24h} rows",
        )
    console = _console()
    console.print(table)
    dlq = "-" if health.dead_letter_messages is None else str(health.dead_letter_messages)
    work = "-" if health.work_queue_messages is None else str(health.work_queue_messages)
    console.print(f"work queue: {work} messages; dead-letter queue: {dlq} messages")
    problems = health.attention + [f"{t.table}: {a}" for t in health.tables for a in t.attention]
    if problems:
        console.print("needs attention:")
        for p in problems:
            console.print(f"  - {p}")
    else:
        console.print("all good")


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} d"


@app.command()
def verify(
    table: Annotated[
        str | None, typer.Option("--table", metavar="T", help="Only this source table.")
    ] = None,
    local: Local = False,
    stack: Stack = None,
    as_json: Json = False,
) -> None:
    """Reconcile DynamoDB with MariaDB: item counts and per-key checksums.

    Scans each DynamoDB table and reads its MariaDB target; exit code 3 when
    they differ. --json prints [{"table", "target", ... counts, "missing",
    "extra", "different", "samples", "ok"}] (``TableReconciliation.to_dict``).

    Example:

        ddbload verify --local --table orders
    """
    from loaders.verify import verify_pipeline

    pipeline = _open(local, stack)
    with _labelled_progress() as progress:
        results = verify_pipeline(pipeline, table=table, progress=progress)
    if as_json:
        _json([r.to_dict() for r in results])
    else:
        _print_reconciliation([r.to_dict() for r in results])
    if not all(r.ok for r in results):
        raise typer.Exit(EXIT_ATTENTION)


@contextmanager
def _labelled_progress() -> Iterator[Callable[[str, int, int | None], None]]:
    """A ``progress(label, done, total)`` callback drawing bars on stderr."""
    console = Console(stderr=True)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as bar:
        tasks: dict[str, Any] = {}

        def report(label: str, done: int, total: int | None) -> None:
            if label not in tasks:
                tasks[label] = bar.add_task(label, total=total)
            bar.update(tasks[label], completed=done, total=total)

        yield report


def _print_reconciliation(results: list[dict[str, Any]]) -> None:
    table = Table(title="DynamoDB vs MariaDB")
    for name in ("table", "target", "items", "rows", "missing", "extra", "different"):
        table.add_column(name, justify="left" if name in ("table", "target") else "right")
    table.add_column("samples", overflow="fold")
    for r in results:
        samples = "; ".join(f"{k}: {', '.join(v)}" for k, v in r["samples"].items() if v)
        table.add_row(
            r["table"],
            r["target"],
            str(r["dynamodb_items"]),
            str(r["mariadb_rows"]),
            str(r["missing"]),
            str(r["extra"]),
            str(r["different"]),
            samples,
        )
    _console().print(table)


def _print_dicts(docs: list[dict[str, Any]], title: str) -> None:
    """Flat dictionaries as a two-column table each (nested values as compact JSON)."""
    console = _console()
    for doc in docs:
        table = Table(title=title, show_header=False)
        table.add_column("field")
        table.add_column("value", overflow="fold")
        for name, value in doc.items():
            if isinstance(value, dict | list):
                value = orjson.dumps(value).decode()
            table.add_row(name, str(value))
        console.print(table)


@app.command()
def demo(
    items: Annotated[
        int, typer.Option("--items", min=1, help="About how many new items to write.")
    ] = 1000,
    database: Annotated[
        str | None,
        typer.Option("--database", metavar="NAME", help="MariaDB database (default: config's)."),
    ] = None,
    state_dir: Annotated[
        str | None, typer.Option("--state-dir", metavar="DIR", help="Local mode state folder.")
    ] = None,
    as_json: Json = False,
) -> None:
    """Run the whole pipeline locally (moto + MariaDB), then reconcile DynamoDB with MariaDB.

    Starts the local stack if needed and leaves it running. Exit code 3 when
    the reconciliation finds a difference. --json prints the summary
    (``DemoSummary.to_dict``: changes written, files, rows applied / deleted /
    stale / quarantined, loader runs, lag, reconciliation, ok, next_steps).

    Example:

        ddbload demo --items 500
    """
    from localmode.demo import run_demo

    with _labelled_progress() as progress:
        summary = run_demo(items, database=database, state_path=state_dir, progress=progress)
    doc = summary.to_dict()
    if as_json:
        _json(doc)
    else:
        steps = doc.pop("next_steps", [])
        _print_reconciliation(doc.pop("reconciliation", []))
        _print_dicts([doc], "demo")
        for step in steps:
            typer.echo(step)
    if not summary.ok:
        raise typer.Exit(EXIT_ATTENTION)


@app.command()
def replay(
    file: Annotated[
        str,
        typer.Argument(
            metavar="FILE", help="Captured Kinesis-destination records, one JSON per line."
        ),
    ],
    database: Annotated[
        str, typer.Option("--database", metavar="NAME", help="MariaDB database to load into.")
    ],
    state_dir: Annotated[
        str | None, typer.Option("--state-dir", metavar="DIR", help="Local mode state folder.")
    ] = None,
    as_json: Json = False,
) -> None:
    """Push captured DynamoDB change records through the real transform and loader, locally.

    Uses its own local resources (its own bucket and queues) and loads into
    DATABASE. --json prints ``ReplaySummary.to_dict``: records, ok,
    processing_failed, dropped, files, error_files, rows applied / deleted /
    stale / quarantined, loader_runs, error_objects.

    Example:

        ddbload replay captured.ndjson --database ddbload_replay
    """
    from localmode.replay import replay as run_replay

    with _labelled_progress() as progress:
        summary = run_replay(file, database, state_path=state_dir, progress=progress)
    if as_json:
        _json(summary.to_dict())
    else:
        _print_dicts([summary.to_dict()], "replay")


local_app = typer.Typer(
    cls=EdgeGroup,
    help="The local stack: a moto server on 127.0.0.1 plus the pipeline's resources in it.",
    no_args_is_help=True,
)
app.add_typer(local_app, name="local")

StateDir = Annotated[
    str | None,
    typer.Option(
        "--state-dir",
        metavar="DIR",
        help="Where local mode keeps its state (default: $DDBLOAD_STATE_DIR or ./.state).",
    ),
]


@local_app.command("up")
def local_up(
    config: Annotated[
        str, typer.Option("--config", metavar="FILE", help="cdk.json with the pipeline config.")
    ] = "cdk.json",
    database: Annotated[
        str | None,
        typer.Option("--database", metavar="NAME", help="MariaDB database (default: config's)."),
    ] = None,
    state_dir: StateDir = None,
    as_json: Json = False,
) -> None:
    """Start the local stack (or keep the running one) and create the pipeline's resources.

    --json prints {"endpoint", "pid", "resources": {...}} (resources as saved
    in the state folder: bucket, prefixes, queue URLs, secret ARN, tables).

    Example:

        ddbload local up
    """
    from contract.config import load_cdk_json
    from localmode import demo, resources, server

    pipeline_config = _read_config(config, load_cdk_json)
    made = demo.ensure_stack(pipeline_config, database=database, state_path=state_dir)
    running = server.status(state_dir)
    if as_json:
        _json({"endpoint": running.endpoint, "pid": running.pid, "resources": made.to_dict()})
        return
    table = Table(title=f"local stack at {running.endpoint} (pid {running.pid})")
    table.add_column("resource")
    table.add_column("name", overflow="fold")
    for kind, name in resources.describe(made):
        table.add_row(kind, name)
    _console().print(table)


def _read_config(path: str, reader: Any) -> Any:
    try:
        return reader(path)
    except FileNotFoundError:
        raise OperatorError(f"No config file {path}; pass --config PATH to a cdk.json.") from None
    except ValueError as e:
        if isinstance(e, ConfigError):
            raise
        raise OperatorError(f"{path} is not valid JSON ({e}).") from None


@local_app.command("down")
def local_down(state_dir: StateDir = None, as_json: Json = False) -> None:
    """Stop the local stack; everything in it (tables, bucket, queues) goes with it.

    MariaDB keeps its data. --json prints {"stopped": bool, "pid"}.

    Example:

        ddbload local down
    """
    from localmode import server

    before = server.down(state_dir)
    if as_json:
        _json({"stopped": before.running, "pid": before.pid})
    elif before.running:
        typer.echo(f"stopped the local stack (pid {before.pid})")
    else:
        typer.echo("the local stack was not running")


@local_app.command("status")
def local_status(state_dir: StateDir = None, as_json: Json = False) -> None:
    """Whether the local stack runs, where, and what it holds; exit code 3 when it is down.

    --json prints {"running", "pid", "port", "endpoint", "log", "state_dir",
    "resources": {...} or null}.

    Example:

        ddbload local status --json
    """
    from localmode import resources, server

    current = server.status(state_dir)
    made = None
    if current.running:
        try:
            made = resources.load(state_dir)
        except server.LocalModeError:
            made = None
    if as_json:
        _json({**current.to_dict(), "resources": made.to_dict() if made else None})
    elif current.running:
        typer.echo(f"running at {current.endpoint} (pid {current.pid}, log {current.log})")
        if made:
            for kind, name in resources.describe(made):
                typer.echo(f"  {kind}: {name}")
        else:
            typer.echo("  no resources yet: run `ddbload local up`")
    else:
        typer.echo("not running: start it with `ddbload local up`")
    if not current.running:
        raise typer.Exit(EXIT_ATTENTION)


def main() -> None:
    """Console-script entry point (``ddbload``)."""
    app(prog_name="ddbload")
