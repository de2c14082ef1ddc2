"""Backfill test helpers: moto AWS with a staging bucket, tables, AWS-format exports."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from contract import staging
from contract.values import wire_value
from ops.backfill_store import Store

BUCKET = "ddbload-backfill-test"


@dataclass
class Aws:
    ddb: Any
    s3: Any
    bucket: str
    store: Store

    def objects(self, prefix: str = "") -> list[str]:
        out = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=prefix)
        return sorted(o["Key"] for o in out.get("Contents", []))

    def lines(self, keys: list[str]) -> list[staging.StagingLine]:
        found = []
        for key in keys:
            body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
            found += [staging.decode_line(x) for x in gzip.decompress(body).splitlines()]
        return found


@pytest.fixture
def aws(aws_env: None) -> Iterator[Aws]:
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        yield Aws(boto3.client("dynamodb"), s3, BUCKET, Store(s3, BUCKET, "staging"))


def make_table(
    ddb: Any, name: str, keys: dict[str, str] | None = None, *, stream: bool = True
) -> None:
    """A table keyed by ``keys`` (name -> S|N|B, partition key first), streaming by default."""
    keys = keys or {"pk": "S"}
    kwargs: dict[str, Any] = {}
    if stream:
        kwargs["StreamSpecification"] = {
            "StreamEnabled": True,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        }
    ddb.create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": k, "KeyType": "HASH" if i == 0 else "RANGE"}
            for i, k in enumerate(keys)
        ],
        AttributeDefinitions=[{"AttributeName": k, "AttributeType": t} for k, t in keys.items()],
        BillingMode="PAY_PER_REQUEST",
        **kwargs,
    )


def sample_item(i: int) -> dict[str, Any]:
    """An item with every kind of value the staging contract must carry exactly."""
    return {
        "pk": {"S": f"item-{i:05d}"},
        "n": {"N": str(i)},
        "price": {"N": "12345678901234567890.123456789012345678"},
        "blob": {"B": base64.b64encode(bytes([i % 256, 0, 255])).decode()},
        "tags": {"SS": ["a\tb", "line\nbreak", "😀"]},
        "nested": {"M": {"l": {"L": [{"N": "1.50"}, {"NULL": True}, {"BOOL": False}]}}},
    }


def put_items(ddb: Any, table: str, items: list[dict[str, Any]]) -> None:
    """Put items given in wire form (binary as base64 text, as exports and streams carry it)."""
    for item in items:
        ddb.put_item(TableName=table, Item=to_boto(item))


def to_boto(item: dict[str, Any]) -> dict[str, Any]:
    """Wire form -> what the boto3 client takes (it base64-encodes bytes itself)."""
    return {k: _boto(v) for k, v in item.items()}


def _boto(av: dict[str, Any]) -> dict[str, Any]:
    ((tag, v),) = av.items()
    if tag == "B":
        return {"B": base64.b64decode(v)}
    if tag == "BS":
        return {"BS": [base64.b64decode(x) for x in v]}
    if tag == "M":
        return {"M": to_boto(v)}
    if tag == "L":
        return {"L": [_boto(x) for x in v]}
    return {tag: v}


def scan_all(ddb: Any, table: str) -> dict[str, dict[str, Any]]:
    """The table's items by canonical key text (the staging line's ``key``)."""
    desc = ddb.describe_table(TableName=table)["Table"]
    key_names = [k["AttributeName"] for k in desc["KeySchema"]]
    found: dict[str, dict[str, Any]] = {}
    paginator = ddb.get_paginator("scan")
    for page in paginator.paginate(TableName=table, ConsistentRead=True):
        for item in page["Items"]:
            item = {k: wire_value(v) for k, v in item.items()}
            found[staging.key_text({k: item[k] for k in key_names})[0]] = item
    return found


def write_export(
    s3: Any,
    bucket: str,
    prefix: str,
    table: str,
    files: list[list[dict[str, Any]]],
    *,
    export_time: str = "2024-03-01T10:00:00.000Z",
    output_format: str = "DYNAMODB_JSON",
    export_type: str | None = "FULL_EXPORT",
    keys_from_bucket_root: bool = True,
) -> str:
    """A finished export in the layout AWS documents ("DynamoDB table export output format").

    ``<prefix>/AWSDynamoDB/<ExportId>/`` holds ``_started``, ``manifest-summary.json``,
    ``manifest-files.json`` (JSON lines: itemCount, md5Checksum, etag, dataFileS3Key),
    their ``.checksum`` files, and ``data/<random>.json.gz`` with one ``{"Item": ...}``
    per line. Returns the export directory as an s3:// URI.
    """
    export_id = f"01709287{uuid.uuid4().int % 10**6:06d}-{uuid.uuid4().hex[:8]}"
    root = f"{prefix}/AWSDynamoDB/{export_id}"
    in_manifest = (lambda k: k) if keys_from_bucket_root else (lambda k: k[len(prefix) + 1 :])
    entries = []
    for records in files:
        body = "".join(json.dumps({"Item": item}) + "\n" for item in records).encode()
        blob = gzip.compress(body)
        data_key = f"{root}/data/{uuid.uuid4().hex[:26]}.json.gz"
        s3.put_object(Bucket=bucket, Key=data_key, Body=blob)
        entries.append(
            {
                "itemCount": len(records),
                "md5Checksum": base64.b64encode(hashlib.md5(blob).digest()).decode(),
                "etag": hashlib.md5(blob).hexdigest(),
                "dataFileS3Key": in_manifest(data_key),
            }
        )
    manifest = "".join(json.dumps(e) + "\n" for e in entries).encode()
    s3.put_object(Bucket=bucket, Key=f"{root}/_started", Body=b"")
    s3.put_object(Bucket=bucket, Key=f"{root}/manifest-files.json", Body=manifest)
    s3.put_object(
        Bucket=bucket,
        Key=f"{root}/manifest-files.checksum",
        Body=hashlib.md5(manifest).hexdigest().encode(),
    )
    arn = f"arn:aws:dynamodb:us-east-1:123456789012:table/{table}"
    summary: dict[str, Any] = {
        "version": "2020-06-30",
        "exportArn": f"{arn}/export/{export_id}",
        "startTime": export_time,
        "endTime": export_time,
        "tableArn": arn,
        "tableId": str(uuid.uuid4()),
        "exportTime": export_time,
        "s3Bucket": bucket,
        "s3Prefix": prefix,
        "s3SseAlgorithm": "AES256",
        "s3SseKmsKeyId": None,
        "manifestFilesS3Key": in_manifest(f"{root}/manifest-files.json"),
        "billedSizeBytes": sum(len(json.dumps(i)) for r in files for i in r),
        "itemCount": sum(len(r) for r in files),
        "outputFormat": output_format,
    }
    if export_type is not None:
        summary["exportType"] = export_type
    text = json.dumps(summary).encode()
    s3.put_object(Bucket=bucket, Key=f"{root}/manifest-summary.json", Body=text)
    s3.put_object(
        Bucket=bucket,
        Key=f"{root}/manifest-summary.checksum",
        Body=hashlib.md5(text).hexdigest().encode(),
    )
    return f"s3://{bucket}/{root}/"


class PutFailure(ConnectionError):
    """The injected failure: S3 went away in the middle of a backfill."""


class FailingS3:
    """An S3 client whose staging-object PUT number ``fail_at`` (1-based) fails, once."""

    def __init__(self, s3: Any, fail_at: int) -> None:
        self._s3 = s3
        self._fail_at = fail_at
        self.puts = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._s3, name)

    def put_object(self, **kwargs: Any) -> Any:
        if kwargs["Key"].startswith("staging/"):
            self.puts += 1
            if self.puts == self._fail_at:
                raise PutFailure(f"injected failure writing {kwargs['Key']}")
        return self._s3.put_object(**kwargs)
