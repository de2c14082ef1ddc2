"""``ddbload inspect``: staging objects and their load status, one object's records, the errors."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from cli import render
from cli.options import Json, Local, Stack, open_pipeline
from ops import inspection


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

    --json prints {"bucket", "prefix", "targets": {table: MariaDB table}, "objects": [{"key", "size",
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
    pipeline = open_pipeline(local, stack)
    if show:
        _print_shown(inspection.show(pipeline, show, limit), as_json)
    elif errors:
        _print_errors(inspection.errors(pipeline, prefix), as_json)
    else:
        _print_listing(inspection.inspect_pipeline(pipeline, prefix), as_json)


def _print_listing(listing: inspection.Listing, as_json: bool) -> None:
    if as_json:
        render.print_json(listing.to_json())
        return
    table = Table(title=f"s3://{listing.bucket}/{listing.prefix}", title_justify="left")
    table.add_column("object", overflow="fold")
    table.add_column("size", justify="right", no_wrap=True)
    table.add_column("records", justify="right")
    table.add_column("changes (UTC)", no_wrap=False)
    table.add_column("status")
    for o in listing.objects:
        span = render.short(o.first_change)
        if o.last_change and o.last_change[:19] != (o.first_change or "")[:19]:
            span += " .. " + render.short(o.last_change)[11:]
        status = o.status
        if o.status == "loaded":
            status = (
                f"loaded {render.short(o.loaded_at)}\n{o.applied} applied, {o.stale} stale, "
                f"{o.deleted} deleted, {o.quarantined} quarantined"
            )
            if o.loads > 1:
                status += f"\n({o.loads} loads)"
        elif o.status in ("failed", "quarantined"):
            status = f"{o.status}: {o.reason}"
        table.add_row(
            o.key[len(listing.prefix) :] or o.key,
            render.size(o.size),
            "?" if o.records is None else str(o.records),
            span,
            status,
        )
    t = listing.totals()
    out = render.console()
    out.print(table)
    for source, target in listing.targets.items():
        out.print(f"table {source} loads into MariaDB table {target}")
    out.print(
        f"{t['objects']} objects, {render.size(t['bytes'])}, {t['records']} records: "
        + ", ".join(f"{t[s]} {s}" for s in inspection.STATUSES)
    )


def _print_errors(found: list[inspection.ErrorObject], as_json: bool) -> None:
    if as_json:
        render.print_json([e.to_json() for e in found])
        return
    out = render.console()
    if not found:
        out.print("No processing failures and nothing quarantined.")
        return
    table = Table()
    table.add_column("kind")
    table.add_column("object", overflow="fold")
    table.add_column("records", justify="right")
    table.add_column("reasons", overflow="fold")
    for e in found:
        records = "file" if e.records is None else str(e.records)
        table.add_row(e.kind, e.key, records, "\n".join(e.reasons))
    out.print(table)
    out.print(f"{len(found)} entries")


def _print_shown(shown: inspection.Shown, as_json: bool) -> None:
    if as_json:
        render.print_json(shown.to_json())
        return
    table = Table(title=shown.key, title_justify="left")
    for name in ("op", "key", "version (UTC)", "seq", "item"):
        table.add_column(name, overflow="fold")
    for row in shown.rows:
        op = row["op"] + (" (TTL)" if row["ttl_delete"] else "")
        item = row["item"] or ""
        if len(item) > 200:
            item = item[:199] + "…"
        table.add_row(op, row["key"], render.short(row["version"]), row["seq"], item)
    out = render.console()
    out.print(table)
    out.print(f"{len(shown.rows)} of {shown.records} records")
