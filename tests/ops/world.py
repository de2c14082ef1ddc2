"""A pipeline in moto with its ledger in MariaDB, where tests place files in time
(``tests/ops/conftest.py`` makes one per test)."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from typing import Any

import boto3

from contract.config import parse_config
from contract.staging import StagingLine, encode_line
from loaders import ledger
from ops.pipeline import Pipeline
from ops.status import status

CONFIG = parse_config(
    {
        "tables": {
            "orders": {"partition_key": {"name": "pk"}},
            "customers": {"partition_key": {"name": "pk"}, "target": "crm_customers"},
        }
    }
)
BUCKET = "ddbload-staging-test"


def us(when: datetime) -> int:
    return int(when.timestamp() * 1_000_000)


class World:
    """A pipeline in moto, its ledger in MariaDB, and helpers that place files in time."""

    def __init__(self, conn: Any, *, deployed: bool = False) -> None:
        self.conn = conn
        self.s3 = boto3.client("s3", region_name="us-east-1")
        self.s3.create_bucket(Bucket=BUCKET)
        self.cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
        clients = {"s3": self.s3, "cloudwatch": self.cloudwatch}
        self.pipeline = Pipeline(
            where="test",
            bucket=BUCKET,
            staging_prefix="staging",
            error_prefix="errors",
            quarantine_prefix="quarantine",
            config=CONFIG,
            local=not deployed,
            kinesis_stream="ddbload-changes" if deployed else None,
            delivery_stream="ddbload-delivery" if deployed else None,
            make_client=lambda service: clients[service],
        )
        ledger.ensure_ledger(conn)

    def stage(self, table: str, name: str, changes: list[datetime]) -> tuple[str, str]:
        """A staging object holding one change at each of these times; (key, ETag)."""
        lines = [
            encode_line(
                StagingLine(
                    table=table, op="MODIFY", key=f'{{"pk":"k{i}"}}', key_types="S",
                    item=f'{{"pk":"k{i}"}}', item_types=None, version_us=us(at), seq="1",
                    ttl_delete=False, event_id=f"e{i}", arrival_ms=us(at) // 1000,
                )
            )
            for i, at in enumerate(changes)
        ]  # fmt: skip
        key = f"staging/table={table}/2026/11/25/13/{name}.gz"
        put = self.s3.put_object(Bucket=BUCKET, Key=key, Body=gzip.compress(b"".join(lines)))
        return key, put["ETag"].strip('"')

    def commit(self, table: str, obj: tuple[str, str], changes: list[datetime], at: datetime):
        """The ledger row the loader writes when it commits this file at ``at``."""
        times = sorted(us(c) for c in changes)
        naive = at.astimezone(UTC).replace(tzinfo=None)
        ledger.record(
            self.conn,
            ledger.LedgerRow(
                s3_key=obj[0], etag=obj[1], source_table=table, target_table=table,
                records_read=len(times), rows_applied=len(times), stale_skipped=0,
                rows_deleted=0, rows_quarantined=0, started_at=naive, finished_at=naive,
                status=ledger.LOADED, error=None, load_count=0,
                version_oldest_us=times[0], version_median_us=times[(len(times) - 1) // 2],
                version_newest_us=times[-1],
            ),
        )  # fmt: skip

    def table(self, name: str, now: datetime) -> Any:
        return next(t for t in status(self.pipeline, self.conn, now=now).tables if t.table == name)

    def metric(self, namespace: str, name: str, dimension: tuple[str, str], value: float,
               at: datetime) -> None:  # fmt: skip
        self.cloudwatch.put_metric_data(
            Namespace=namespace,
            MetricData=[{"MetricName": name, "Value": value, "Timestamp": at,
                         "Dimensions": [{"Name": dimension[0], "Value": dimension[1]}]}],
        )  # fmt: skip
