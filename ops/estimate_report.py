"""``ddbload estimate``'s result as text: the terminal report and docs/SCALE.md's table.

``ops.estimate`` computes; this module only formats. ``python -m ops.estimate_report
--write-doc`` regenerates the table between docs/SCALE.md's markers (``make bench``
does it too, as the measured rates change it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ops.estimate import estimate

COMPONENT_LABELS = {
    "dynamodb_change_data_capture": "DynamoDB change data capture units",
    "kinesis_stream_hours": "Kinesis on-demand stream hours",
    "kinesis_ingest": "Kinesis on-demand ingest (1 KB rounding)",
    "kinesis_retrieval": "Kinesis on-demand retrieval",
    "kinesis_shard_hours": "Kinesis provisioned shard hours",
    "kinesis_put_payload_units": "Kinesis PUT payload units",
    "firehose_ingest": "Firehose ingest (5 KB rounding)",
    "firehose_dynamic_partitioning": "Firehose dynamic partitioning",
    "lambda_transform": "Lambda, transform",
    "lambda_loader": "Lambda, loader",
    "s3_requests": "S3 requests",
    "s3_storage": "S3 storage",
    "sqs": "SQS",
    "scheduler": "EventBridge Scheduler",
    "dynamodb_streams_reads": "DynamoDB Streams reads (free for Lambda)",
    "lambda_requests": "Lambda requests (batches of 100)",
    "lambda_duration": "Lambda duration (one write per row)",
    "rds_proxy": "RDS Proxy",
}


def render_text(result: dict[str, Any]) -> str:
    """The result as lines for a terminal (the CLI prints this unless --json)."""
    i = result["inputs"]
    mode = i["kinesis_stream_mode"] + (
        f", {i['kinesis_shards']} shards" if i["kinesis_shards"] else ""
    )
    lines = [
        f"{i['changes_per_second']:,g} changes/s of {i['item_bytes']:,}-byte items, "
        f"{i['tables']} table(s); {result['prices']['region']} list prices read "
        f"{result['prices']['read_on']}",
        "",
    ]
    for key, title in (
        ("this_design", f"This design (Kinesis {mode})"),
        ("seed_design", "Seed design (Streams -> Lambda -> RDS Proxy -> per-row writes)"),
    ):
        design = result[key]
        lines.append(f"{title:<58} {_usd(design['monthly_usd']):>12}/month")
        for name, usd in design["components"].items():
            lines.append(f"  {COMPONENT_LABELS.get(name, name):<56} {_usd(usd):>12}")
        lines.append("")
    lines.append("Database (not in the totals above), sized at half its CPU:")
    for key in ("this_design", "seed_design"):
        db = result["database"][key]
        lines.append(
            f"  {key.replace('_', ' ')}: {db['writes']}, {db['vcpus_needed']:g} vCPUs needed -> "
            f"{db['instance']}{' Multi-AZ' if db['multi_az'] else ''} "
            f"{_usd(db['monthly_usd'])}/month" + ("" if db["fits"] else " (too small: none fits)")
        )
    s = result["settings"]
    shards = f", kinesis_shards={s['kinesis_shards']}" if s["kinesis_shards"] else ""
    lines += [
        "",
        f"Recommended: kinesis_stream_mode={s['kinesis_stream_mode']}{shards}, "
        f"firehose_buffer_seconds={s['firehose_buffer_seconds']}, "
        f"firehose_buffer_mb={s['firehose_buffer_mb']}, schedule_minutes={s['schedule_minutes']}"
        f" -> {_usd(s['monthly_usd'])}/month, fresh within {s['freshness_seconds']:,.0f} s",
        *(f"  {reason}" for reason in s["reasons"]),
        "",
    ]
    f = result["freshness"]
    lines.append(
        f"Freshness: within {result['freshness_seconds']:,.0f} s = "
        f"{f['processor_buffer_seconds']:g} s transform buffer + {f['firehose_buffer_seconds']:g} s "
        f"buffer x {f['dynamic_partitioning_factor']:g} + {f['schedule_seconds']} s schedule + "
        f"{f['load_seconds']:g} s load"
        + ("" if f["keeps_up"] else " (but each lane falls further behind every period)")
    )
    lines += ["", "Break points:"]
    for name, limit in result["limits"].items():
        mark = "CROSSED" if limit["crossed"] else "ok"
        lines.append(
            f"  [{mark:^7}] {name}: {limit['load']:,g} of {limit['limit']:,g} {limit['unit']}"
        )
    confirmed = ", ".join(f"{n} {k}" for k, n in sorted(result["prices"]["confirmed"].items()))
    lines += ["", f"Prices: {result['prices']['file']} ({confirmed}; see each entry's 'how')."]
    return "\n".join(lines)


def _usd(value: float) -> str:
    return f"${value:,.0f}" if value >= 10 else f"${value:,.2f}"


SCALE_RATES = (1_000, 10_000, 100_000)
SCALE_ITEM_BYTES = 1024
DOC_START = "<!-- estimate-table:start (python -m ops.estimate_report --write-doc) -->"
DOC_END = "<!-- estimate-table:end -->"


def scale_table(
    rates_per_second: tuple[int, ...] = SCALE_RATES, item_bytes: int = SCALE_ITEM_BYTES
) -> str:
    """docs/SCALE.md's table: both designs at each rate, one table, default settings."""
    results = [estimate(cps, item_bytes) for cps in rates_per_second]
    head = "| | " + " | ".join(f"{cps:,} changes/s" for cps in rates_per_second) + " |"
    rows = [head, "|---|" + "---:|" * len(results)]

    def row(label: str, cells: list[str]) -> None:
        rows.append(f"| {label} | " + " | ".join(cells) + " |")

    for key, title in (("this_design", "**This design**"), ("seed_design", "**Seed design**")):
        row(title, [f"**{_usd(r[key]['monthly_usd'])}**" for r in results])
        names = list(dict.fromkeys(n for r in results for n in r[key]["components"]))
        for name in names:
            row(
                f"&nbsp;&nbsp;{COMPONENT_LABELS[name]}",
                [_usd(r[key]["components"].get(name, 0.0)) for r in results],
            )
    row("Ratio, this design / seed", [
        f"{r['this_design']['monthly_usd'] / r['seed_design']['monthly_usd']:.1f}x"
        for r in results
    ])  # fmt: skip
    for key, title in (
        ("this_design", "Database, bulk loads"),
        ("seed_design", "Database, per-row"),
    ):
        row(title, [
            f"{r['database'][key]['instance']} ({_usd(r['database'][key]['monthly_usd'])})"
            for r in results
        ])  # fmt: skip
    row("Recommended Kinesis", [
        r["settings"]["kinesis_stream_mode"]
        + (f", {r['settings']['kinesis_shards']} shards" if r["settings"]["kinesis_shards"] else "")
        for r in results
    ])  # fmt: skip
    row("This design with the recommended settings", [
        _usd(r["settings"]["monthly_usd"]) for r in results
    ])  # fmt: skip
    row("Freshness (default settings)", [
        f"{r['freshness_seconds']:,.0f} s" + ("" if r["freshness"]["keeps_up"] else ", falling behind")
        for r in results
    ])  # fmt: skip
    row("Break points crossed", [
        ", ".join(n for n, lim in r["limits"].items() if lim["crossed"]) or "none"
        for r in results
    ])  # fmt: skip
    return "\n".join(rows)


def write_doc(path: Path) -> bool:
    """Replace the generated block of ``path``; True when it changed."""
    text = path.read_text(encoding="utf-8")
    start, end = text.index(DOC_START), text.index(DOC_END)
    new = text[: start + len(DOC_START)] + "\n" + scale_table() + "\n" + text[end:]
    if new != text:
        path.write_text(new, encoding="utf-8")
    return new != text


if __name__ == "__main__":
    import sys

    doc = Path(__file__).resolve().parent.parent / "docs" / "SCALE.md"
    if sys.argv[1:] == ["--write-doc"]:
        print(f"{doc}: {'rewritten' if write_doc(doc) else 'already current'}")
    else:
        print(render_text(estimate(10_000, 1024)))
