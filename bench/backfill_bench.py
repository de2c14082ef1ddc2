"""Backfill benchmark (``python -m bench backfill``): backfilled items/s against the loader's own rate.

The same N items are loaded three ways, each into a fresh database, each
checked against the table afterwards (``ops.verify``: zero differences):

* baseline: the items as streamed INSERT staging lines (what the transform
  writes), in objects of the backfill's page size, loaded by ``load_keys``;
* backfill pages: the backfill's own staging objects, loaded the same way.
  The ratio of the two is the issue's target (>= 0.8): the backfill format
  must cost the loader nothing extra;
* end to end: ``backfill.run`` with the loader attached (scan, convert, write,
  load, pipelined), which on this machine is bounded by moto's scan.

The source side is reported separately and honestly: the scan path (moto's
in-process DynamoDB, far slower than the real service) and the export path
(reading an export's gzip files, no DynamoDB in the loop), each writing pages
without loading them.
"""

from __future__ import annotations

import gzip
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson

from bench import measure
from bench.loader_cases import server_params
from bench.results import Results
from contract import staging, values
from contract.config import parse_config
from loaders import engine
from loaders.db import open_connection
from loaders.settings import LoaderSettings
from ops import backfill, verify
from ops.backfill_store import Store

TABLE = "bench-backfill"
BUCKET = "ddbload-bench-backfill"
PAGE_ITEMS = 5000
CONFIG = parse_config({})
_FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
}


def item(i: int) -> dict[str, Any]:
    """A realistic order-like item in wire form (binary as base64 text)."""
    return {
        "pk": {"S": f"order-{i:08d}"},
        "customer": {"M": {"id": {"S": f"c-{i % 997}"}, "tier": {"S": "gold"}}},
        "status": {"S": ("new", "paid", "shipped")[i % 3]},
        "total": {"N": f"{i % 10_000}.{i % 100:02d}"},
        "lines": {
            "L": [{"M": {"sku": {"S": f"sku-{j}"}, "qty": {"N": str(j + 1)}}} for j in range(3)]
        },
        "tags": {"SS": ["a", "b", f"t{i % 7}"]},
        "note": {"S": "x" * 40},
        "created": {"N": str(1_700_000_000 + i)},
    }


@contextmanager
def fake_aws() -> Iterator[tuple[Any, Any]]:
    import boto3
    from moto import mock_aws

    saved = {k: os.environ.get(k) for k in _FAKE_AWS}
    os.environ.update(_FAKE_AWS)
    try:
        with mock_aws():
            s3 = boto3.client("s3")
            s3.create_bucket(Bucket=BUCKET)
            yield boto3.client("dynamodb"), s3
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def seed(ddb: Any, n: int) -> None:
    ddb.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    # Seeding is not timed; moto's HTTP layer would take minutes for 50k puts, so the
    # items go straight into its backend (the scan that is timed goes through the API).
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    backend = dynamodb_backends[DEFAULT_ACCOUNT_ID][ddb.meta.region_name]
    for i in range(n):
        backend.put_item(TABLE, item(i))  # no binary in these items: wire form is boto form


def stream_objects(s3: Any, n: int) -> list[str]:
    """The same items as the transform would stage them (INSERT lines), same object size."""
    keys = []
    version = time.time_ns() // 1000
    for start in range(0, n, PAGE_ITEMS):
        lines = []
        for i in range(start, min(n, start + PAGE_ITEMS)):
            it = item(i)
            key, key_types = staging.key_text({"pk": it["pk"]})
            plain, types = values.to_plain(it)
            lines.append(
                staging.encode_line(
                    staging.StagingLine(
                        TABLE, "INSERT", key, key_types, plain.decode(),
                        orjson.dumps(types).decode() if types else None,
                        version + i, str(10**20 + i), False, f"ev{i}", version // 1000,
                    )
                )
            )  # fmt: skip
        key = f"staging/table={TABLE}/2024/01/01/00/stream-{start:08d}.gz"
        s3.put_object(Bucket=BUCKET, Key=key, Body=gzip.compress(b"".join(lines), 1))
        keys.append(key)
    return keys


def export_of(s3: Any, n: int) -> str:
    """An export of the same items in AWS's DYNAMODB_JSON layout, 4 data files."""
    root = "exports/AWSDynamoDB/01700000000000-bench"
    files = []
    per = -(-n // 4)
    for f in range(4):
        body = b"".join(
            orjson.dumps({"Item": item(i)}) + b"\n" for i in range(f * per, min(n, (f + 1) * per))
        )
        key = f"{root}/data/file{f}.json.gz"
        s3.put_object(Bucket=BUCKET, Key=key, Body=gzip.compress(body, 1))
        files.append({"itemCount": min(n, (f + 1) * per) - f * per, "dataFileS3Key": key})
    s3.put_object(
        Bucket=BUCKET,
        Key=f"{root}/manifest-files.json",
        Body=b"".join(orjson.dumps(e) + b"\n" for e in files),
    )
    summary = {
        "version": "2020-06-30",
        "tableArn": f"arn:aws:dynamodb:us-east-1:123456789012:table/{TABLE}",
        "exportTime": "2024-01-01T00:00:00.000Z",
        "manifestFilesS3Key": f"{root}/manifest-files.json",
        "itemCount": n,
        "outputFormat": "DYNAMODB_JSON",
        "exportType": "FULL_EXPORT",
    }
    s3.put_object(Bucket=BUCKET, Key=f"{root}/manifest-summary.json", Body=orjson.dumps(summary))
    return f"s3://{BUCKET}/{root}/"


def _conn(db: dict) -> Any:
    return open_connection({k: v for k, v in db.items() if k != "autocommit"})


def timed_load(s3: Any, server: dict, keys: list[str], ddb: Any | None = None) -> tuple[float, Any]:
    """Seconds ``load_keys`` takes for these keys into a fresh database, and the table's state.

    With ``ddb`` the result is also reconciled with DynamoDB (a slow moto scan, so
    once per suite; the other cases must then match that state).
    """
    with measure.scratch_database(server) as db:
        conn = _conn(db)
        try:
            settings = LoaderSettings(config=CONFIG, bucket=BUCKET, staging_prefix="staging")
            started = time.perf_counter()
            report = engine.load_keys(conn, s3, settings, keys)
            seconds = time.perf_counter() - started
            bad = [r for r in report.results if r.status != "loaded"]
            if bad:
                raise RuntimeError(f"{len(bad)} objects did not load; first: {bad[0].error}")
            if ddb is not None:
                _check(ddb, conn)
            state = _state(conn)
        finally:
            conn.close()
    return seconds, state


def best_load(s3: Any, server: dict, keys: list[str], want: Any, repeat: int = 2) -> float:
    """The best of ``repeat`` timed loads, each checked to leave the state ``want``."""
    times = []
    for _ in range(repeat):
        seconds, state = timed_load(s3, server, keys)
        if state != want:
            raise AssertionError(f"loading {len(keys)} objects left {state}, expected {want}")
        times.append(seconds)
    return min(times)


def _state(conn: Any) -> Any:
    mapping = CONFIG.mapping_for(TABLE, {"pk": "S"})
    assert mapping.overflow_column is not None
    return measure.table_state(
        conn, mapping.target, mapping.keys[0].column, mapping.overflow_column
    )


def _check(ddb: Any, conn: Any) -> None:
    mapping = CONFIG.mapping_for(TABLE, {"pk": "S"})
    result = verify.verify_table(mapping, ddb, conn)
    if not result.ok:
        raise AssertionError(f"MariaDB differs from DynamoDB: {result.to_dict()}")


def run(results: Results, quick: bool) -> None:
    run_size(results, 5_000 if quick else 50_000, server_params())


def run_size(results: Results, n: int, server: dict) -> None:
    """Every case on ``n`` items; each load into its own scratch database on ``server``."""
    label = f"{n // 1000}k" if n % 1000 == 0 else str(n)
    with fake_aws() as (ddb, s3):
        started = time.perf_counter()
        seed(ddb, n)
        stream_keys = stream_objects(s3, n)
        uri = export_of(s3, n)
        store = Store(s3, BUCKET, "staging")
        # Warm-up (imports, first connections, the reference state checked against DynamoDB).
        _, want = timed_load(s3, server, stream_keys, ddb)
        print(
            f"  ({label} items seeded, staged and checked in {time.perf_counter() - started:.0f} s, not timed)"
        )

        base = best_load(s3, server, stream_keys, want)
        base_name = f"backfill {label}: loader on streamed INSERT objects"
        results.record(
            base_name, n / base, "items/s", note=f"{len(stream_keys)} objects, best of 2"
        )

        started = time.perf_counter()
        scan = backfill.run(
            ddb, s3, store, CONFIG, TABLE, backfill.Options(segments=4, page_items=PAGE_ITEMS)
        )
        scan_s = time.perf_counter() - started
        pages = best_load(s3, server, scan.keys, want)
        results.record(
            f"backfill {label}: loader on backfill pages",
            n / pages,
            "items/s",
            baseline=base_name,
            note=f"{len(scan.keys)} objects, best of 2; target >= 0.8 of the loader on the same rows",
        )
        results.record(
            f"backfill {label}: scan + write pages (moto scan, 4 segments)",
            n / scan_s,
            "items/s",
            note="moto's in-process DynamoDB serializer bounds this; not loaded",
        )

        started = time.perf_counter()
        export = backfill.run(
            ddb, s3, store, CONFIG, TABLE,
            backfill.Options(export=uri, segments=4, page_items=PAGE_ITEMS),
        )  # fmt: skip
        export_s = time.perf_counter() - started
        assert export.items == n
        results.record(
            f"backfill {label}: export read + write pages",
            n / export_s,
            "items/s",
            note="4 gzip data files, no DynamoDB in the loop; not loaded",
        )

        with measure.scratch_database(server) as db:
            conn = _conn(db)
            try:
                settings = LoaderSettings(config=CONFIG, bucket=BUCKET, staging_prefix="staging")
                started = time.perf_counter()
                whole = backfill.run(
                    ddb, s3, store, CONFIG, TABLE,
                    backfill.Options(segments=4, page_items=PAGE_ITEMS, resume=False),
                    load=backfill.EngineLoad(conn, s3, settings),
                )  # fmt: skip
                whole_s = time.perf_counter() - started
                if _state(conn) != want:
                    raise AssertionError("the end-to-end backfill left another state")
            finally:
                conn.close()
        results.record(
            f"backfill {label}: end to end, scan + load (moto scan)",
            n / whole_s,
            "items/s",
            baseline=base_name,
            note=f"load {whole.load_s:.1f} s of {whole_s:.1f} s; the rest waits on moto's scan",
        )
        results.record(
            f"backfill {label}: end to end, time inside the loader",
            n / whole.load_s,
            "items/s",
            baseline=base_name,
            note="wall time in load_keys while the scan threads (moto, in-process) hold the GIL",
        )
