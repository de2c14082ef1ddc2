"""A replay of two DynamoDB tables whose names the old default merged: their items stay apart."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import orjson
import pymysql

from contract.config import parse_config, target_name
from localmode import server
from localmode.replay import replay
from tests.conftest import mariadb_params

T0_US = 1_764_333_296_000_000


def _record(table: str, pk: str, who: str, offset_us: int) -> str:
    """One DynamoDB Kinesis-destination record (INSERT, MICROSECOND precision)."""
    return json.dumps(
        {
            "awsRegion": "us-east-1",
            "eventID": str(uuid.uuid4()),
            "eventName": "INSERT",
            "userIdentity": None,
            "recordFormat": "application/json",
            "tableName": table,
            "dynamodb": {
                "ApproximateCreationDateTime": T0_US + offset_us,
                "ApproximateCreationDateTimePrecision": "MICROSECOND",
                "Keys": {"pk": {"S": pk}},
                "NewImage": {"pk": {"S": pk}, "who": {"S": who}},
                "SizeBytes": 30,
            },
            "eventSource": "aws:dynamodb",
        }
    )


def test_replay_of_two_colliding_names_keeps_their_items_apart(tmp_path: Path, database: str):
    # GIVEN captured changes of 'ev-log.v2' and 'ev_log.v2', both writing item k1, no mapping
    capture = tmp_path / "capture.ndjson"
    capture.write_text(
        "\n".join(
            [
                _record("ev-log.v2", "k1", "dash", 1),
                _record("ev_log.v2", "k1", "underscore", 2),
                _record("ev_log.v2", "k2", "underscore", 3),
            ]
        )
        + "\n"
    )
    try:
        # WHEN they are replayed through the real transform and loader
        summary = replay(capture, database, config=parse_config({}), state_path=tmp_path)
    finally:
        server.down(tmp_path)
    # THEN the summary's count is what the tables hold, each table in its own target
    assert summary.rows_applied == 3 and summary.rows_quarantined == 0
    conn = pymysql.connect(**mariadb_params(database))
    try:
        with conn.cursor() as cur:
            held = {}
            for source in ("ev-log.v2", "ev_log.v2"):
                cur.execute(f"SELECT pk, item FROM `{target_name(source)}` ORDER BY pk")
                held[source] = {pk: orjson.loads(item)["who"] for pk, item in cur.fetchall()}
    finally:
        conn.close()
    assert held == {
        "ev-log.v2": {"k1": "dash"},
        "ev_log.v2": {"k1": "underscore", "k2": "underscore"},
    }
