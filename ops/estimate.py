"""What a load costs a month at list prices and what it needs (``ddbload estimate``).

Read before ``cdk deploy``. Numbers in, one JSON-ready dict out: this design's
monthly cost by component (DynamoDB change data capture, Kinesis, Firehose,
Lambda, S3, SQS, Scheduler), the seed design's for the same load (DynamoDB
Streams -> Lambda per 100 records -> RDS Proxy -> one write per row), the
settings to deploy with, the database each design needs, the expected
freshness and the break points. No AWS calls: prices come from ``prices.json``
(each with its source and read date), measured rates from ``ops.measured_rates``.
``ops.estimate_inputs`` refuses what cannot be priced, ``ops.estimate_report``
formats a result (terminal, docs/SCALE.md), ``cli/estimate.py`` calls them.

Every figure is a monthly (730 hours) steady load, spread evenly over the
tables. ``item_bytes`` is the item's size as DynamoDB counts it (names plus
values), the size its write and change data capture units are billed on.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from contract.config import DEFAULTS
from ops.estimate_inputs import check_load, check_settings
from ops.measured_rates import Measured, Rates, load_rates
from ops.record_sizes import (
    GZIP_RATIO,
    IMAGES_PER_CHANGE,
    kinesis_record_bytes,
    staging_line_bytes,
)

PRICES_PATH = Path(__file__).with_name("prices.json")

HOURS_PER_MONTH = 730  # AWS's pricing pages count a month as 730 hours
SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600
KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB
MB = 1_000_000  # Kinesis and Firehose throughput limits are quoted in MB/s


# The database is sized to run at half its CPU at the steady rate, leaving the
# other half for bursts, catch-up after a pause, reads and backups.
DB_TARGET_UTILIZATION = 0.5
DB_MULTI_AZ = True  # what the stack deploys (stacks/defaults.py DB_MULTI_AZ)
RDS_PROXY_MIN_VCPUS = 2

# Lambda sizes as deployed (stacks/defaults.py; a test keeps them equal).
TRANSFORM_MEMORY_MB = 512
LOADER_MEMORY_MB = 2048
# A loader run's fixed work per table (connect with TLS, take the lock, list recent
# prefixes, read the queue): an assumption, small beside the load itself.
LOADER_RUN_OVERHEAD_SECONDS = 1.0
LOADER_LISTS_PER_RUN = 2
# SQS requests per staging object: the S3 notification, plus receive and delete
# in batches of 10; and two receives per run that find the queue empty.
SQS_REQUESTS_PER_OBJECT = 1.2
SQS_EMPTY_RECEIVES_PER_RUN = 2

# Provisioned shards carry 1 MB/s or 1,000 records/s in and 2 MB/s out; DynamoDB
# spreads records by partition-key hash, so shards fill unevenly: provision half
# again what the average needs.
SHARD_WRITE_BYTES = MB
SHARD_WRITE_RECORDS = 1000
SHARD_READ_BYTES = 2 * MB
SHARD_HEADROOM = 1.5
PUT_PAYLOAD_UNIT_BYTES = 25 * KIB
KINESIS_BILLING_ROUND_BYTES = KIB
FIREHOSE_BILLING_ROUND_BYTES = 5 * KIB
CDC_UNIT_BYTES = KIB

# The seed design: a Lambda per batch of 100 stream records, one autocommit write
# per record through RDS Proxy. Per write it waits for what this machine measured
# on loopback (1 / the single-connection rate) plus the network: Lambda -> proxy ->
# database and back, and a Multi-AZ commit that waits for the standby. That network
# part is an assumption, not measured here.
SEED_BATCH_SIZE = 100
SEED_LAMBDA_MEMORY_MB = 512
SEED_NETWORK_MS_PER_WRITE = 2.5
SEED_INVOKE_OVERHEAD_MS = 10.0


def load_prices(path: Path = PRICES_PATH) -> dict[str, Any]:
    with open(path, encoding="utf-8") as f:
        doc: dict[str, Any] = json.load(f)
    return doc


def estimate(
    changes_per_second: float,
    item_bytes: int,
    tables: int = 1,
    *,
    stream_mode: str = "on-demand",
    shards: int | None = None,
    schedule_minutes: int = DEFAULTS["schedule_minutes"],
    firehose_buffer_seconds: int = DEFAULTS["firehose_buffer_seconds"],
    firehose_buffer_mb: int = DEFAULTS["firehose_buffer_mb"],
    staging_expiry_days: int = DEFAULTS["staging_expiry_days"],
    loader_timeout_seconds: int = DEFAULTS["loader_timeout_seconds"],
    images_per_change: float = IMAGES_PER_CHANGE,
    prices: dict[str, Any] | None = None,
    rates: Rates | None = None,
) -> dict[str, Any]:
    """Monthly cost, settings, database, freshness and break points of a steady load.

    ``stream_mode`` and ``shards`` are the Kinesis settings to price this design
    with (the config's ``kinesis_stream_mode`` / ``kinesis_shards``); ``settings``
    in the result recommends its own. Raises ``EstimateError`` for unusable input.
    """
    check_load(changes_per_second, item_bytes, tables, stream_mode, shards, images_per_change)
    check_settings(
        schedule_minutes=schedule_minutes,
        firehose_buffer_seconds=firehose_buffer_seconds,
        firehose_buffer_mb=firehose_buffer_mb,
        staging_expiry_days=staging_expiry_days,
        loader_timeout_seconds=loader_timeout_seconds,
    )
    prices = prices if prices is not None else load_prices()
    rates = rates if rates is not None else load_rates()
    load = _Load(changes_per_second, item_bytes, tables, images_per_change)
    if stream_mode == "provisioned" and shards is None:
        shards = load.shards_needed()
    given = _Settings(
        stream_mode, shards, schedule_minutes, firehose_buffer_seconds, firehose_buffer_mb
    )
    ctx = _Context(prices, _price_table(prices), rates, staging_expiry_days, loader_timeout_seconds)
    recommended = _recommend(load, given, ctx)
    seed_db = _database_for(load.cps, rates.per_row_parallel, ctx, "per-row writes")
    return {
        "inputs": {
            "changes_per_second": changes_per_second,
            "item_bytes": item_bytes,
            "tables": tables,
            "kinesis_stream_mode": stream_mode,
            "kinesis_shards": shards,
            "schedule_minutes": schedule_minutes,
            "firehose_buffer_seconds": firehose_buffer_seconds,
            "firehose_buffer_mb": firehose_buffer_mb,
            "staging_expiry_days": staging_expiry_days,
            "images_per_change": images_per_change,
        },
        "this_design": _this_design(load, given, ctx),
        "seed_design": _seed_design(load, ctx, seed_db["vcpus"]),
        "settings": {
            **recommended.as_dict(),
            "monthly_usd": _this_design(load, recommended, ctx)["monthly_usd"],
            "freshness_seconds": _freshness(load, recommended, ctx)["total_seconds"],
            "reasons": _reasons(load, given, recommended, ctx),
        },
        "database": {
            "this_design": _database_for(load.cps, rates.bulk, ctx, "bulk loads"),
            "seed_design": seed_db,
        },
        "freshness_seconds": _freshness(load, given, ctx)["total_seconds"],
        "freshness": _freshness(load, given, ctx),
        "limits": _limits(load, given, ctx),
        "sizes": {
            "kinesis_record_bytes": round(load.record_bytes),
            "staging_line_bytes": round(load.line_bytes),
            "kinesis_write_mb_per_second": round(load.write_bytes_per_second / MB, 3),
        },
        "prices": {
            "file": "ops/prices.json",
            "region": prices["region"],
            "read_on": prices["read_on"],
            "confirmed": _confirmation_counts(prices),
        },
        "notes": [
            "List prices, us-east-1, no free tiers, savings plans or data transfer; "
            "the database instances are priced apart from the design totals.",
            "A steady load spread evenly over the tables; bursts need the headroom "
            "the settings and database sizes leave.",
        ],
    }


@dataclass(frozen=True)
class _Load:
    cps: float
    item_bytes: int
    tables: int
    images_per_change: float

    @property
    def changes_per_month(self) -> float:
        return self.cps * SECONDS_PER_MONTH

    @property
    def per_table_cps(self) -> float:
        return self.cps / self.tables

    @property
    def record_bytes(self) -> float:
        return kinesis_record_bytes(self.item_bytes, self.images_per_change)

    @property
    def line_bytes(self) -> float:
        return staging_line_bytes(self.item_bytes)

    @property
    def write_bytes_per_second(self) -> float:
        return self.cps * self.record_bytes

    def shards_needed(self) -> int:
        by_bytes = self.write_bytes_per_second / SHARD_WRITE_BYTES
        by_records = self.cps / SHARD_WRITE_RECORDS
        by_reads = self.write_bytes_per_second / SHARD_READ_BYTES  # Firehose reads it once
        return max(1, math.ceil(max(by_bytes, by_records, by_reads) * SHARD_HEADROOM))

    def objects_per_table_second(self, s: _Settings) -> float:
        """Firehose flushes a table's buffer when it is full or its interval ends."""
        by_size = self.per_table_cps * self.line_bytes / (s.buffer_mb * MIB)
        return max(by_size, 1 / max(s.buffer_seconds, 1))


@dataclass(frozen=True)
class _Settings:
    stream_mode: str
    shards: int | None
    schedule_minutes: int
    buffer_seconds: int
    buffer_mb: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "kinesis_stream_mode": self.stream_mode,
            "kinesis_shards": self.shards,
            "firehose_buffer_seconds": self.buffer_seconds,
            "firehose_buffer_mb": self.buffer_mb,
            "schedule_minutes": self.schedule_minutes,
        }


@dataclass(frozen=True)
class _Context:
    prices: dict[str, Any]  # the whole prices.json document
    price: dict[str, float]  # price name -> USD
    rates: Rates
    expiry_days: int
    loader_timeout: int

    def limit(self, name: str) -> float:
        return float(self.prices["limits"][name]["value"])

    def limit_source(self, name: str) -> str:
        entry = self.prices["limits"][name]
        return f"{entry['source']['url']} (confirmed: {entry['confirmed']})"


def _price_table(prices: dict[str, Any]) -> dict[str, float]:
    return {name: float(p["usd"]) for name, p in prices["prices"].items()}


def _this_design(load: _Load, s: _Settings, ctx: _Context) -> dict[str, Any]:
    price, n = ctx.price, load.changes_per_month
    c: dict[str, float] = {}
    cdc_units = n * math.ceil(load.item_bytes / CDC_UNIT_BYTES)
    c["dynamodb_change_data_capture"] = cdc_units * price["dynamodb_cdc_per_million_units"] / 1e6
    if s.stream_mode == "on-demand":
        billed = _round_up(load.record_bytes, KINESIS_BILLING_ROUND_BYTES)
        c["kinesis_stream_hours"] = HOURS_PER_MONTH * price["kinesis_on_demand_stream_hour"]
        c["kinesis_ingest"] = n * billed / GIB * price["kinesis_on_demand_ingest_per_gb"]
        retrieved = n * load.record_bytes / GIB  # Firehose is the one reader
        c["kinesis_retrieval"] = retrieved * price["kinesis_on_demand_retrieval_per_gb"]
    else:
        units = n * math.ceil(load.record_bytes / PUT_PAYLOAD_UNIT_BYTES)
        c["kinesis_shard_hours"] = (s.shards or 0) * HOURS_PER_MONTH * price["kinesis_shard_hour"]
        c["kinesis_put_payload_units"] = (
            units * price["kinesis_put_payload_units_per_million"] / 1e6
        )
    firehose_billed = _round_up(load.record_bytes, FIREHOSE_BILLING_ROUND_BYTES)
    objects = load.tables * load.objects_per_table_second(s) * SECONDS_PER_MONTH
    c["firehose_ingest"] = n * firehose_billed / GIB * price["firehose_ingest_per_gb"]
    c["firehose_dynamic_partitioning"] = (
        n * load.line_bytes / GIB * price["firehose_dynamic_partitioning_per_gb"]
        + objects / 1000 * price["firehose_dynamic_partitioning_per_1000_objects"]
    )
    c["lambda_transform"] = _transform_lambda(load, ctx)
    runs = load.tables * SECONDS_PER_MONTH / (s.schedule_minutes * 60)
    loader_seconds = n / ctx.rates.lane.value + runs * LOADER_RUN_OVERHEAD_SECONDS
    c["lambda_loader"] = (
        runs * price["lambda_requests_per_million"] / 1e6
        + loader_seconds * LOADER_MEMORY_MB / 1024 * price["lambda_gb_second_x86"]
    )
    # LIST requests are billed at the PUT rate; the loader GETs each object once.
    c["s3_requests"] = (objects + runs * LOADER_LISTS_PER_RUN) / 1000 * price[
        "s3_put_per_1000"
    ] + objects / 1000 * price["s3_get_per_1000"]
    # Objects live for staging_expiry_days: the bucket holds that many days of changes.
    stored_gib = load.cps * 86400 * ctx.expiry_days * load.line_bytes * GZIP_RATIO / GIB
    c["s3_storage"] = stored_gib * price["s3_storage_gb_month"]
    sqs_requests = objects * SQS_REQUESTS_PER_OBJECT + runs * SQS_EMPTY_RECEIVES_PER_RUN
    c["sqs"] = sqs_requests * price["sqs_standard_requests_per_million"] / 1e6
    # One invocation per table per tick: the most the lanes can need.
    c["scheduler"] = runs * price["scheduler_invocations_per_million"] / 1e6
    return _design(c)


def _round_up(size: float, unit: int) -> int:
    return math.ceil(size / unit) * unit


def _transform_lambda(load: _Load, ctx: _Context) -> float:
    price = ctx.price
    mib = load.changes_per_month * load.record_bytes / MIB
    invocations = max(
        mib / DEFAULTS["processor_buffer_mb"],
        SECONDS_PER_MONTH / DEFAULTS["processor_buffer_seconds"],
    )
    # The CPU was measured on one core here; below 1,769 MB Lambda gives a share of a vCPU.
    slowdown = max(1.0, ctx.limit("lambda_mb_per_vcpu") / TRANSFORM_MEMORY_MB)
    seconds = mib * ctx.rates.transform_ms_per_mib.value / 1000 * slowdown
    return (
        invocations * price["lambda_requests_per_million"] / 1e6
        + seconds * TRANSFORM_MEMORY_MB / 1024 * price["lambda_gb_second_x86"]
    )


def _seed_design(load: _Load, ctx: _Context, db_vcpus: int) -> dict[str, Any]:
    price = ctx.price
    invocations = load.changes_per_month / SEED_BATCH_SIZE
    write_ms = 1000 / ctx.rates.per_row_single.value + SEED_NETWORK_MS_PER_WRITE
    seconds = invocations * (SEED_BATCH_SIZE * write_ms + SEED_INVOKE_OVERHEAD_MS) / 1000
    proxy_vcpus = max(RDS_PROXY_MIN_VCPUS, db_vcpus)
    return _design(
        {
            # GetRecords by a Lambda trigger is free; the line stays to say so.
            "dynamodb_streams_reads": 0.0,
            "lambda_requests": invocations * price["lambda_requests_per_million"] / 1e6,
            "lambda_duration": seconds
            * SEED_LAMBDA_MEMORY_MB
            / 1024
            * price["lambda_gb_second_x86"],
            "rds_proxy": proxy_vcpus * HOURS_PER_MONTH * price["rds_proxy_vcpu_hour"],
        }
    )


def _design(components: dict[str, float]) -> dict[str, Any]:
    rounded = {name: round(usd, 2) for name, usd in components.items()}
    return {"monthly_usd": round(sum(components.values()), 2), "components": rounded}


def _database_for(cps: float, measured: Measured, ctx: _Context, writes: str) -> dict[str, Any]:
    """The smallest instance that runs this write rate at half its CPU.

    The rate per vCPU is the measured rate over the CPUs of the machine that measured
    it (client and server shared them, so the server's share is, if anything, higher).
    """
    per_vcpu = measured.value / ctx.rates.bench_cpus
    needed = cps / per_vcpu / DB_TARGET_UTILIZATION
    catalog = sorted(
        ctx.prices["rds_mariadb_instances"]["instances"].items(), key=lambda kv: kv[1]["vcpus"]
    )
    fits = [(name, spec) for name, spec in catalog if spec["vcpus"] >= needed]
    name, spec = fits[0] if fits else catalog[-1]
    copies = 2 if DB_MULTI_AZ else 1
    return {
        "writes": writes,
        "measured_changes_per_second": round(measured.value, 1),
        "measured_on_cpus": ctx.rates.bench_cpus,
        "measured_source": measured.source,
        "vcpus_needed": round(needed, 1),
        "instance": name,
        "vcpus": spec["vcpus"],
        "multi_az": DB_MULTI_AZ,
        "monthly_usd": round(spec["usd_per_hour"] * HOURS_PER_MONTH * copies, 2),
        "fits": bool(fits),
    }


def _load_seconds(load: _Load, s: _Settings, rates: Rates) -> float:
    """One run's load time: a schedule period of one table's changes at one lane's rate."""
    per_run = load.per_table_cps * s.schedule_minutes * 60
    return per_run / rates.lane.value + LOADER_RUN_OVERHEAD_SECONDS


def _freshness(load: _Load, s: _Settings, ctx: _Context) -> dict[str, Any]:
    """How old a change can be when it reaches MariaDB (the worst case of a steady load).

    Firehose first holds it for the transform until the processor buffer is full
    or its interval ends (``contract.config.freshness_floor`` counts the same
    stages), then until the table's buffer is full or its interval ends, up to
    1.5 times that with dynamic partitioning; it then waits up to one schedule
    period for the next run, and that run's load time.
    """
    processor = min(
        float(DEFAULTS["processor_buffer_seconds"]),
        DEFAULTS["processor_buffer_mb"] * MB / load.write_bytes_per_second,
    )
    buffer = min(float(s.buffer_seconds), 1 / load.objects_per_table_second(s))
    factor = ctx.limit("firehose_dynamic_partitioning_delay_factor")
    schedule = s.schedule_minutes * 60
    load_time = _load_seconds(load, s, ctx.rates)
    return {
        "processor_buffer_seconds": round(processor, 1),
        "firehose_buffer_seconds": round(buffer, 1),
        "dynamic_partitioning_factor": factor,
        "schedule_seconds": schedule,
        "load_seconds": round(load_time, 1),
        "total_seconds": round(processor + buffer * factor + schedule + load_time, 1),
        "formula": "transform buffer + buffer x 1.5 (dynamic partitioning) + schedule period "
        "+ load time",
        # Above one lane's rate the backlog grows each period and no bound holds.
        "keeps_up": load.per_table_cps <= ctx.rates.lane.value,
    }


def _limits(load: _Load, s: _Settings, ctx: _Context) -> dict[str, dict[str, Any]]:
    on_demand_start = ctx.limit("kinesis_on_demand_initial_write_mb_per_s")
    lambda_max = ctx.limit("lambda_timeout_seconds")
    run_limit = min(float(ctx.loader_timeout), lambda_max)
    run_seconds = _load_seconds(load, s, ctx.rates)
    lane = ctx.rates.lane
    return {
        "kinesis_on_demand_start": _limit(
            ctx,
            "kinesis_on_demand_initial_write_mb_per_s",
            f"A new on-demand stream takes {on_demand_start:g} MB/s at first and scales toward "
            "twice its previous peak; above that, DynamoDB's writes to it are throttled and "
            "retried until it has grown."
            + ("" if s.stream_mode == "on-demand" else " (Not this stream mode.)"),
            load.write_bytes_per_second / MB,
            "MB/s written to Kinesis",
            applies=s.stream_mode == "on-demand",
        ),
        "kinesis_shards": _limit(
            ctx,
            "kinesis_shards_per_account",
            "Provisioned shards this load needs (with half again as headroom), against the "
            "default account quota.",
            load.shards_needed() if s.shards is None else s.shards,
            "shards",
        ),
        "firehose_active_partitions": _limit(
            ctx,
            "firehose_active_partitions",
            "Each table is a partition per hour prefix, two near the turn of the hour; past "
            "the limit, records go to the error prefix.",
            2 * load.tables,
            "active partitions",
        ),
        "per_lane_ceiling": {
            "what": "One loader lane (one table) loads at most this; a table above it falls "
            "behind, whatever the number of tables.",
            "limit": round(lane.value, 1),
            "load": round(load.per_table_cps, 1),
            "unit": "changes/s per table",
            "crossed": load.per_table_cps > lane.value,
            "source": lane.source,
        },
        "lambda_15_minutes": {
            "what": f"A loader run loads a schedule period of one table's changes and must end "
            f"within the loader timeout ({ctx.loader_timeout} s; Lambda allows {lambda_max:g} s).",
            "limit": run_limit,
            "load": round(run_seconds, 1),
            "unit": "seconds per run",
            "crossed": run_seconds > run_limit,
            "source": ctx.limit_source("lambda_timeout_seconds"),
        },
        "table_write_quota": _limit(
            ctx,
            "dynamodb_table_write_units_per_second",
            "DynamoDB's default write quota per table: the changes are the application's own "
            "writes, throttled there before any reaches the stream.",
            load.per_table_cps * math.ceil(load.item_bytes / KIB),
            "write units/s per table",
        ),
    }


def _limit(
    ctx: _Context, name: str, what: str, load: float, unit: str, *, applies: bool = True
) -> dict[str, Any]:
    limit = ctx.limit(name)
    return {
        "what": what,
        "limit": limit,
        "load": round(load, 3),
        "unit": unit,
        "crossed": applies and load > limit,
        "source": ctx.limit_source(name),
    }


def _recommend(load: _Load, given: _Settings, ctx: _Context) -> _Settings:
    shards = load.shards_needed()
    on_demand = _this_design(load, _with(given, stream_mode="on-demand", shards=None), ctx)
    provisioned = _this_design(load, _with(given, stream_mode="provisioned", shards=shards), ctx)
    cheaper = provisioned["monthly_usd"] < on_demand["monthly_usd"]
    # A buffer that fills well within its interval flushes by size: a larger one
    # halves the objects (S3 PUTs, per-object partitioning fees, loader files).
    buffer_mb = 128 if _fill_seconds(load, given) < given.buffer_seconds else given.buffer_mb
    # Keep the schedule unless a run would use more than half the loader's timeout.
    schedule = given.schedule_minutes
    while schedule > 1 and (
        _load_seconds(load, _with(given, schedule_minutes=schedule), ctx.rates)
        > ctx.loader_timeout / 2
    ):
        schedule -= 1
    return _with(
        given,
        stream_mode="provisioned" if cheaper else "on-demand",
        shards=shards if cheaper else None,
        buffer_mb=buffer_mb,
        schedule_minutes=schedule,
    )


def _fill_seconds(load: _Load, s: _Settings) -> float:
    return s.buffer_mb * MIB / (load.per_table_cps * load.line_bytes)


def _with(s: _Settings, **changes: Any) -> _Settings:
    return replace(s, **changes)


def _reasons(load: _Load, given: _Settings, rec: _Settings, ctx: _Context) -> list[str]:
    reasons = []
    if rec.stream_mode == "provisioned":
        on_demand = _this_design(load, _with(given, stream_mode="on-demand", shards=None), ctx)
        provisioned = _this_design(
            load, _with(given, stream_mode="provisioned", shards=rec.shards), ctx
        )
        saving = on_demand["monthly_usd"] - provisioned["monthly_usd"]
        reasons.append(
            f"Provisioned with {rec.shards} shards costs ${saving:,.0f} a month less than "
            "on-demand at this steady rate; on-demand absorbs unplanned bursts without "
            "resharding, so keep it while the rate is unknown."
        )
    else:
        reasons.append("On-demand costs no more than enough provisioned shards at this rate.")
    if rec.buffer_mb != given.buffer_mb:
        reasons.append(
            f"Each table fills a {given.buffer_mb} MB buffer in {_fill_seconds(load, given):.1f} s, "
            f"under the {given.buffer_seconds} s interval: {rec.buffer_mb} MB halves the objects "
            "(S3 requests, per-object partitioning fees, loader files) at about the same freshness."
        )
    else:
        reasons.append(
            f"Firehose flushes each table every {given.buffer_seconds} s at most; 60 s and 64 MB "
            "are the smallest buffers dynamic partitioning takes, so this is the freshest setting."
        )
    if load.per_table_cps > ctx.rates.lane.value:
        reasons.append(
            f"Each table sends {load.per_table_cps:,.0f} changes/s, more than one lane loads "
            f"({ctx.rates.lane.value:,.0f}/s measured): no schedule keeps up. Spread the "
            "changes over more tables (each table is a lane) or load faster."
        )
    if rec.schedule_minutes != given.schedule_minutes:
        reasons.append(
            f"A {given.schedule_minutes}-minute period would take a run over half the "
            f"{ctx.loader_timeout} s loader timeout; every {rec.schedule_minutes} minute(s) "
            "keeps each run short."
        )
    else:
        reasons.append(
            f"A run every {rec.schedule_minutes} minutes loads its period in "
            f"{_load_seconds(load, rec, ctx.rates):.0f} s; a shorter period is fresher at almost "
            "no cost, a longer one only makes fewer, larger loads."
        )
    return reasons


def _confirmation_counts(prices: dict[str, Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for entry in [*prices["prices"].values(), prices["rds_mariadb_instances"]]:
        counts[entry["confirmed"]] = counts.get(entry["confirmed"], 0) + 1
    return counts
