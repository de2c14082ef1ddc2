"""Transform benchmark: the Firehose handler on 1 MiB and 3 MiB events, against a naive baseline.

The baseline (``naive_typedeserializer_handler``) is what a first version
usually looks like: boto3's ``TypeDeserializer`` to Python values, then
``json.dumps`` with a Decimal fallback. Both run on the same generated events
(realistic ~1 KB order items, INSERT/MODIFY/REMOVE mix, old images included) in
the same process, interleaved and the same number of times; figures are medians
of process CPU time, with their spread in the note. Cold import of
``transforms.handler`` is the CPU time of that import in fresh interpreters.
"""

from __future__ import annotations

import base64
import copy
import importlib.metadata
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.results import Results

TARGET_3MIB_CPU_MS = 30.0
TARGET_RATIO = 3.0
TARGET_IMPORT_MS = 50.0


def order_item(rng: random.Random, n: int) -> dict[str, Any]:
    """A typed DynamoDB order of about 1 KB of plain JSON."""
    lines = [
        {
            "M": {
                "sku": {"S": f"SKU-{rng.randrange(10**6):06d}"},
                "name": {"S": rng.choice(["Widget", "Gadget", "Gizmo", "Doohickey"]) + " deluxe"},
                "qty": {"N": str(rng.randint(1, 9))},
                "price": {"N": f"{rng.randint(1, 99999) / 100:.2f}"},
                "discounted": {"BOOL": rng.random() < 0.2},
            }
        }
        for _ in range(rng.randint(2, 5))
    ]
    item: dict[str, Any] = {
        "pk": {"S": f"CUSTOMER#{rng.randrange(10**5):05d}"},
        "sk": {"S": f"ORDER#{n:09d}"},
        "status": {"S": rng.choice(["NEW", "PAID", "SHIPPED", "DELIVERED"])},
        "total": {"N": f"{rng.randint(100, 10**7) / 100:.2f}"},
        "currency": {"S": "EUR"},
        "customer": {
            "M": {
                "id": {"S": f"C{rng.randrange(10**8):08d}"},
                "name": {"S": "Jane Q. Example-Müller"},
                "email": {"S": f"jane{rng.randrange(10**4)}@example.com"},
                "vip": {"BOOL": rng.random() < 0.1},
            }
        },
        "lines": {"L": lines},
        "tags": {"SS": sorted(rng.sample(["gift", "express", "fragile", "b2b", "promo"], 2))},
        "created_at": {"S": "2025-11-25T13:26:00.123456Z"},
        "updated_at": {"N": str(1_764_000_000 + n)},
        "version": {"N": str(rng.randint(1, 50))},
        "note": {"S": 'Leave at the door.\tRing twice; "fragile" \\ handle with care. ' * 2},
        "coupon": {"NULL": True},
        "address": {
            "M": {
                "street": {"S": "1 Example Street"},
                "city": {"S": "Berlin"},
                "zip": {"S": "10115"},
                "country": {"S": "DE"},
            }
        },
    }
    if n % 10 == 0:
        item["signature"] = {"B": base64.b64encode(rng.randbytes(32)).decode()}
    return item


def previous_version(item: dict[str, Any]) -> dict[str, Any]:
    """The same order one update earlier: what MODIFY sends as OldImage."""
    old = copy.deepcopy(item)
    old["status"] = {"S": "NEW"}
    old["updated_at"] = {"N": str(int(item["updated_at"]["N"]) - 60)}
    old["version"] = {"N": str(max(int(item["version"]["N"]) - 1, 1))}
    return old


def change_record(rng: random.Random, n: int) -> dict[str, Any]:
    """A DynamoDB Kinesis-destination record: 60% MODIFY, 30% INSERT, 10% REMOVE.

    As DynamoDB's Kinesis destination sends them (new and old images, like a
    ``NEW_AND_OLD_IMAGES`` stream): MODIFY carries NewImage and OldImage,
    REMOVE OldImage only, INSERT NewImage only.
    """
    roll = rng.random()
    op = "MODIFY" if roll < 0.6 else "INSERT" if roll < 0.9 else "REMOVE"
    item = order_item(rng, n)
    body: dict[str, Any] = {
        "ApproximateCreationDateTime": 1_764_077_160_000_000 + n,
        "Keys": {"pk": item["pk"], "sk": item["sk"]},
        "SizeBytes": 1100 if op == "INSERT" else 2200,
        "ApproximateCreationDateTimePrecision": "MICROSECOND",
    }
    if op != "REMOVE":
        body["NewImage"] = item
    if op == "MODIFY":
        body["OldImage"] = previous_version(item)
    elif op == "REMOVE":
        body["OldImage"] = item
    return {
        "awsRegion": "eu-central-1",
        "eventID": f"{rng.getrandbits(128):032x}",
        "eventName": op,
        "userIdentity": None,
        "recordFormat": "application/json",
        "tableName": "orders",
        "dynamodb": body,
        "eventSource": "aws:dynamodb",
    }


def firehose_event(target_bytes: int, seed: int = 7) -> dict[str, Any]:
    """A Firehose transformation event (Kinesis source) of about ``target_bytes`` of JSON."""
    rng = random.Random(seed)
    records = []
    size = 400
    n = 0
    while size < target_bytes:
        data = base64.b64encode(json.dumps(change_record(rng, n)).encode()).decode()
        seq = str(49_600_000_000_000_000_000_000_000_000_000_000_000_000_000_000 + n)
        record = {
            "recordId": f"{seq}{n:012d}",
            "approximateArrivalTimestamp": 1_764_077_161_000 + n,
            "data": data,
            "kinesisRecordMetadata": {
                "shardId": "shardId-000000000003",
                "partitionKey": f"{rng.getrandbits(128):032X}",
                "approximateArrivalTimestamp": 1_764_077_161_000 + n,
                "sequenceNumber": seq,
                "subsequenceNumber": 0,
            },
        }
        size += len(json.dumps(record)) + 2
        records.append(record)
        n += 1
    return {
        "invocationId": "bench-invocation",
        "deliveryStreamArn": "arn:aws:firehose:eu-central-1:123456789012:deliverystream/ddbload",
        "sourceKinesisStreamArn": "arn:aws:kinesis:eu-central-1:123456789012:stream/ddbload",
        "region": "eu-central-1",
        "records": records,
    }


def naive_typedeserializer_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Baseline: boto3 TypeDeserializer per record, json.dumps with a Decimal fallback."""
    from boto3.dynamodb.types import Binary, TypeDeserializer

    class Base64TypeDeserializer(TypeDeserializer):
        # Kinesis records carry B/BS as base64 text; the SDK would have decoded it.
        def _deserialize_b(self, value: str) -> Binary:
            return Binary(base64.b64decode(value))

    deserializer = Base64TypeDeserializer()

    def default(value: Any) -> Any:
        if isinstance(value, Decimal):
            return str(value)
        if isinstance(value, Binary):
            return base64.b64encode(value.value).decode()
        if isinstance(value, set):
            return sorted(value, key=str)
        return str(value)

    out = []
    for record in event["records"]:
        change = json.loads(base64.b64decode(record["data"]))
        body = change["dynamodb"]
        keys = {k: deserializer.deserialize(v) for k, v in body["Keys"].items()}
        image = body.get("NewImage")
        item = {k: deserializer.deserialize(v) for k, v in image.items()} if image else None
        line = {
            "table": change["tableName"],
            "op": change["eventName"],
            "key": json.dumps(keys, default=default, sort_keys=True),
            "item": None if item is None else json.dumps(item, default=default),
            "version_us": body["ApproximateCreationDateTime"],
            "seq": record["kinesisRecordMetadata"]["sequenceNumber"],
            "event_id": change["eventID"],
        }
        out.append(
            {
                "recordId": record["recordId"],
                "result": "Ok",
                "data": base64.b64encode((json.dumps(line) + "\n").encode()).decode(),
                "metadata": {"partitionKeys": {"table": change["tableName"]}},
            }
        )
    return {"records": out}


@dataclass(frozen=True)
class Timings:
    """Process CPU times of one handler over the rounds of a paired measurement, in ms."""

    runs: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    def spread(self) -> str:
        """Quartiles and extremes, for the note beside the median."""
        q1, _, q3 = statistics.quantiles(self.runs, n=4, method="inclusive")
        return (
            f"median of {len(self.runs)} runs; IQR {q1:.1f}-{q3:.1f} ms, "
            f"min {min(self.runs):.1f}, max {max(self.runs):.1f}"
        )


def interleaved_cpu_ms(
    handlers: Sequence[Any], event: dict[str, Any], rounds: int
) -> list[Timings]:
    """Process CPU time of each handler on ``event``, interleaved, ``rounds`` times each.

    Round r runs them all, starting with handler ``r % len(handlers)`` (for two:
    A, B, B, A, A, B, ...), so a busy neighbour on a shared machine slows all
    alike and none always runs in another's wake.
    """
    times: list[list[float]] = [[] for _ in handlers]
    for fn in handlers:  # warm-up: imports, caches, first allocations
        fn(event, None)
    for r in range(rounds):
        for i in range(len(handlers)):
            side = (r + i) % len(handlers)
            started = time.process_time()
            handlers[side](event, None)
            times[side].append((time.process_time() - started) * 1000)
    return [Timings(tuple(t)) for t in times]


def pair_ratios(a: Timings, b: Timings) -> list[float]:
    """A/B of each round's pair of runs."""
    return [x / y for x, y in zip(a.runs, b.runs, strict=True) if y]


def stage_handlers() -> list[tuple[str, Any]]:
    """The handler's work cut into cumulative prefixes, each a handler-shaped function.

    Stage k runs stages 1..k on every record, so the cost of stage k alone is
    the difference of the medians of prefix k and prefix k-1. The last prefix is
    the handler itself (its response building is the last stage).
    """
    import pybase64

    from contract.staging import encode_line
    from transforms.handler import handler, record_bytes
    from transforms.normalize import decode_fast, normalize

    def parts(event: dict[str, Any]) -> list[tuple[str, str, int]]:
        return [
            (
                r["data"],
                r["kinesisRecordMetadata"]["sequenceNumber"],
                r["approximateArrivalTimestamp"],
            )
            for r in event["records"]
        ]

    def base64_decode(event: dict[str, Any], context: Any = None) -> None:
        for data, _, _ in parts(event):
            record_bytes(data)

    def json_decode(event: dict[str, Any], context: Any = None) -> None:
        for data, _, _ in parts(event):
            decode_fast(record_bytes(data))

    def normalize_(event: dict[str, Any], context: Any = None) -> None:
        for data, seq, arrival in parts(event):
            normalize(decode_fast(record_bytes(data)), sequence_number=seq, arrival_ms=arrival)

    def encode(event: dict[str, Any], context: Any = None) -> None:
        for data, seq, arrival in parts(event):
            line = normalize(
                decode_fast(record_bytes(data)), sequence_number=seq, arrival_ms=arrival
            )
            pybase64.b64encode_as_string(encode_line(line))

    return [
        ("base64 decode", base64_decode),
        ("JSON decode", json_decode),
        ("normalize", normalize_),
        ("encode line + base64", encode),
        ("response", handler),
    ]


def bundle_view(root: Path) -> Path:
    """A directory laid out like the transform's Lambda asset: its packages and the
    top-level modules of its requirements, linked from this environment (the pinned
    versions the bundle installs)."""
    from stacks import defaults

    repo = Path(__file__).resolve().parent.parent
    for package in defaults.TRANSFORM_PACKAGES:
        (root / package).symlink_to(repo / package)
    for requirement in defaults.TRANSFORM_REQUIREMENTS:
        dist = importlib.metadata.distribution(requirement)
        tops = {f.parts[0] for f in dist.files or () if not f.parts[0].endswith(".dist-info")}
        for top in sorted(tops - {".."}):
            source = Path(str(dist.locate_file(top)))
            if source.exists() and not (root / top).exists():
                (root / top).symlink_to(source)
    return root


def cold_import_ms(module: str, rounds: int) -> float:
    """Median CPU time to import ``module`` first thing in a fresh interpreter, in ms.

    As Lambda imports it: an isolated interpreter (``-I -S``) that sees only the
    asset's packages, not this environment's site-packages (where optional
    imports, typing_extensions for msgspec, would find more to load). CPU rather
    than wall time, so other work on a shared machine does not count.
    """
    with tempfile.TemporaryDirectory(prefix="ddbload-transform-asset-") as tmp:
        root = bundle_view(Path(tmp))
        code = (
            f"import sys; sys.path.insert(0, {str(root)!r}); "
            "import time; started = time.process_time(); "
            f"import {module}; print((time.process_time() - started) * 1000)"
        )

        def once() -> float:
            out = subprocess.run(
                [sys.executable, "-I", "-S", "-c", code],
                capture_output=True,
                text=True,
                check=True,
                cwd=root,
            )
            return float(out.stdout)

        return statistics.median(once() for _ in range(rounds))


def run(results: Results, quick: bool) -> None:
    from transforms.handler import handler

    rounds = 5 if quick else 25
    for label, mib in (("1MiB", 1), ("3MiB", 3)):
        event = firehose_event(mib * 1024 * 1024)
        n = len(event["records"])
        outcome = handler(event, None)
        assert all(r["result"] == "Ok" for r in outcome["records"]), "bench event must transform"
        load_before = os.getloadavg()[0]
        naive, ours = interleaved_cpu_ms((naive_typedeserializer_handler, handler), event, rounds)
        load = (
            f"load average {load_before:.1f} -> {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
        )
        q1, q2, q3 = statistics.quantiles(pair_ratios(naive, ours), n=4, method="inclusive")
        base_name = f"transform {label} naive TypeDeserializer CPU"
        results.record(base_name, naive.median, "ms", note=f"{n} records; {naive.spread()}")
        results.record(
            f"transform {label} handler CPU",
            ours.median,
            "ms",
            baseline=base_name,
            higher_is_better=False,
            note=(
                f"{n} records; {ours.spread()}; per-pair ratio median {q2:.2f}, "
                f"IQR {q1:.2f}-{q3:.2f}; {load}; "
                f"target <= {TARGET_3MIB_CPU_MS} ms for 3MiB, >= {TARGET_RATIO}x"
            ),
        )
        results.record(f"transform {label} naive records/s", n / naive.median * 1000, "records/s")
        results.record(
            f"transform {label} handler records/s",
            n / ours.median * 1000,
            "records/s",
            baseline=f"transform {label} naive records/s",
        )
    # Where the 3 MiB time goes (event still the 3 MiB one).
    stages = stage_handlers()
    timings = interleaved_cpu_ms([fn for _, fn in stages], event, rounds)
    previous = 0.0
    for (stage, _), t in zip(stages, timings, strict=True):
        results.record(
            f"transform 3MiB stage {stage} CPU",
            t.median - previous,
            "ms",
            note=f"median of prefix up to this stage ({t.median:.1f} ms) minus the previous one",
        )
        previous = t.median
    results.record(
        "transform cold import transforms.handler",
        cold_import_ms("transforms.handler", 3 if quick else 9),
        "ms",
        note=(
            "fresh isolated interpreter seeing only the asset's packages, CPU time of the "
            f"import; target <= {TARGET_IMPORT_MS} ms"
        ),
    )
