"""``ddbload reload``: load a staging prefix again, or (``--errors``) what failed before.

Both go through ``_plan_confirm_execute``: plan, print the plan (or the JSON
plan on a dry run), confirm unless ``--yes``, execute with a progress bar,
print the outcome; exit code 1 when a file failed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.table import Table

from cli import render
from cli.errors import EXIT_ATTENTION, EXIT_ERROR
from cli.options import Json, Local, Stack, open_pipeline
from ops.pipeline import OperatorError, Pipeline


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
    "busy" (tables whose lock another loader run held: reload them again once
    it ends), "ok". Exit code 1 when a file failed or a table was busy. Against a
    stack the call waits up to the loader's timeout plus a minute and is never
    retried by itself (a retry would run beside the first).

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
    if as_json and not (yes or dry_run):
        raise OperatorError("--json needs --yes or --dry-run: a question would mix into the JSON.")
    if errors:
        if table:
            raise OperatorError("--table does not apply to --errors; give --prefix instead.")
        _reload_errors(open_pipeline(local, stack), prefix, dry_run=dry_run, yes=yes, json=as_json)
        return
    if prefix is None:
        raise OperatorError(
            "Give the prefix to reload with --prefix (e.g. table=orders/2025/06/), or --errors."
        )
    from ops import reload as reload_lib

    pipeline = open_pipeline(local, stack)
    conn = pipeline.ledger_connection()
    try:
        result = _plan_confirm_execute(
            lambda: reload_lib.plan(pipeline, prefix, table, conn),
            lambda planned, advance, waiting: reload_lib.execute(
                pipeline, planned, conn, advance, waiting
            ),
            count=lambda planned: len(planned.objects),
            question="Load these {} objects again?",
            label="reloading",
            print_plan=_print_plan,
            print_result=_print_outcomes,
            dry_run=dry_run,
            yes=yes,
            json=as_json,
        )
    finally:
        if conn is not None:
            conn.close()
    if result is not None and not result.ok:
        raise typer.Exit(EXIT_ERROR)


def _reload_errors(
    pipeline: Pipeline, prefix: str | None, *, dry_run: bool, yes: bool, json: bool
) -> None:
    from ops import reload_errors

    def execute(planned: Any, advance: Callable[[Any], None], _: Callable[[float], None]) -> Any:
        # Opened only now: planning reads S3 alone, a dry run needs no database.
        conn = pipeline.ledger_connection()
        try:
            return reload_errors.execute(pipeline, planned, conn, advance)
        finally:
            if conn is not None:
                conn.close()

    result = _plan_confirm_execute(
        lambda: reload_errors.plan(pipeline, prefix),
        execute,
        count=lambda planned: len(planned.entries),
        question="Reload these {} entries?",
        label="reloading errors",
        print_plan=_print_errors_plan,
        print_result=_print_errors_outcome,
        dry_run=dry_run,
        yes=yes,
        json=json,
    )
    if result is None:
        return
    if not result.ok:
        raise typer.Exit(EXIT_ERROR)
    if result.to_json()["remaining"]:
        raise typer.Exit(EXIT_ATTENTION)


def _plan_confirm_execute(
    plan: Callable[[], Any],
    # execute(planned, advance(item), waiting(seconds))
    execute: Callable[[Any, Callable[[Any], None], Callable[[float], None]], Any],
    *,
    count: Callable[[Any], int],
    question: str,
    label: str,
    print_plan: Callable[[Any], None],
    print_result: Callable[[Any], None],
    dry_run: bool,
    yes: bool,
    json: bool,
) -> Any:
    """The one risky-command flow; returns the result, or None when nothing was executed."""
    planned = plan()
    n = count(planned)
    if json and (dry_run or not n):
        render.print_json({"plan": planned.to_json(), "dry_run": dry_run})
        return None
    if not json:
        print_plan(planned)
    if not n:
        typer.echo("nothing to reload.")
        return None
    if dry_run:
        typer.echo("dry run: nothing loaded.")
        return None
    if not yes and not typer.confirm(question.format(n)):
        typer.echo("nothing loaded.")
        raise typer.Exit(EXIT_ERROR)
    with render.counted_waiting_progress(n, label) as (advance, waiting):
        result = execute(planned, lambda _: advance(), waiting)
    if json:
        render.print_json({**result.to_json(), "dry_run": False})
    else:
        print_result(result)
    return result


def _print_plan(planned: Any) -> None:
    loaded = "unknown (the database is not reachable from here)"
    if planned.already_loaded is not None:
        loaded = str(planned.already_loaded)
    out = render.console()
    out.print(f"reload plan for the {planned.where} pipeline")
    out.print(f"  prefix          s3://{planned.bucket}/{planned.prefix}")
    if planned.table:
        out.print(f"  table           {planned.table}")
    out.print(f"  objects         {len(planned.objects)}")
    out.print(f"  bytes           {render.size(planned.bytes)}")
    out.print(f"  already loaded  {loaded}")


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
    doc = result.to_json()
    rows = doc["rows"]
    out = render.console()
    out.print(table)
    out.print(
        f"{len(result.files)} files: "
        + ", ".join(f"{n} {s}" for s, n in sorted(doc["by_status"].items()))
        + f"; rows: {rows['applied']} applied, {rows['stale']} stale, {rows['deleted']} deleted, "
        f"{rows['quarantined']} quarantined"
    )
    if result.error:
        out.print(f"the run stopped early: {result.error}")
    if result.busy_sentence:
        out.print(result.busy_sentence)


def _print_errors_plan(planned: Any) -> None:
    doc = planned.to_json()
    out = render.console()
    out.print(f"reload plan for the errors of the {planned.where} pipeline")
    out.print(f"  processing-failed objects  {doc['processing_failed_objects']}")
    out.print(f"  quarantined row objects    {doc['quarantined_row_objects']}")
    out.print(f"  quarantined files          {doc['quarantined_files']}")
    out.print(f"  records to load            {doc['records']}")
    out.print(f"  records still failing      {doc['still_failing']}")
    for e in planned.entries:
        if e.still_failing:
            out.print(f"  {e.source}: {len(e.still_failing)} still failing the transform")
            for reason in sorted(set(e.still_failing)):
                out.print(f"    - {reason}")


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
    out = render.console()
    out.print(table)
    rows = doc["rows"]
    out.print(
        f"{doc['resolved']} of {len(result.outcomes)} resolved, {doc['remaining']} records still "
        f"failing; rows: {rows['applied']} applied, {rows['stale']} stale, "
        f"{rows['deleted']} deleted, {rows['quarantined']} quarantined"
    )
    if result.error:
        out.print(f"the run stopped early: {result.error}")
