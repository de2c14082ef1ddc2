"""Fault injection: connection killed mid-load, process killed between COMMIT and
acknowledging, server unreachable for several runs. Each ends with nothing lost or doubled."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime

import pymysql
import pytest
from moto.server import ThreadedMotoServer

from loaders import handler, ledger
from loaders.db import LoaderConnection, connect
from loaders.engine import load_staging_bytes
from reliability.fault_proxy import FaultProxy
from tests.conftest import mariadb_params
from tests.loaders.aws import make_pipeline
from tests.loaders.builders import change, gz, obj, staging_key
from tests.loaders.conftest import fetch

HOUR = datetime.now(UTC).strftime("%Y/%m/%d/%H")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def files(table: str, n_files: int, rows: int) -> list[tuple[str, str, bytes]]:
    return [
        obj(
            table,
            [
                change(table, {"pk": {"S": f"f{f}r{r}"}}, {"n": {"N": str(r)}}, 1)
                for r in range(rows)
            ],
            f"f{f}",
        )  # fmt: skip
        for f in range(n_files)
    ]


def test_connection_killed_mid_load_is_retried_without_loss_or_double(conn, admin, monkeypatch):
    # GIVEN a loader whose connection is KILLed from a second connection mid LOAD DATA
    from contract.config import parse_config

    kills = []
    real = LoaderConnection._send_registered

    def killed_once(self, requested):
        if not kills:
            kills.append(self.thread_id())
            with admin.cursor() as cur:
                cur.execute("KILL CONNECTION %s", [self.thread_id()])
        return real(self, requested)

    monkeypatch.setattr(LoaderConnection, "_send_registered", killed_once)
    objects = files("killed", 3, 200)
    from loaders.settings import LoaderSettings

    settings = LoaderSettings(config=parse_config({}), backoff_seconds=0.01)
    # WHEN loaded, then loaded again
    results = load_staging_bytes(conn, settings.config, objects, settings=settings)
    again = load_staging_bytes(conn, settings.config, objects, settings=settings)
    # THEN the kill happened, every row is there once, each file is in the ledger once
    assert kills and conn.thread_id() != kills[0]
    assert [r.status for r in results] == ["loaded"] * 3
    assert [r.status for r in again] == ["skipped"] * 3
    assert fetch(admin, "SELECT COUNT(*), COUNT(DISTINCT pk) FROM killed") == [(600, 600)]
    rows = ledger.ledger_rows(admin, [o[0] for o in objects])
    assert [(r.status, r.load_count, r.rows_applied) for r in rows] == [("loaded", 1, 200)] * 3


@pytest.fixture
def moto_endpoint(aws_env):
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def test_process_killed_between_commit_and_acknowledge(moto_endpoint, database, admin):
    # GIVEN queued files and a loader process that dies right after COMMIT
    pipe = make_pipeline(moto_endpoint)
    keys = [staging_key("crash", f"f{i}", hour=HOUR) for i in range(3)]
    for i, key in enumerate(keys):
        pipe.put(key, gz([change("crash", {"pk": {"S": f"k{i}"}}, {"n": {"N": "1"}}, 1)]))
    p = mariadb_params(database)
    url = f"mysql://{p['user']}:{p['password']}@{p['host']}:{p['port']}/{database}"
    server_url, config = pipe.target(url)
    args = {"config": config.to_json(), "bucket": pipe.bucket, "queue_url": pipe.queue_url,
            "mariadb_url": server_url, "endpoint": moto_endpoint}  # fmt: skip
    # WHEN the process is SIGKILLed between COMMIT and the SQS acknowledgement
    proc = subprocess.run(
        [sys.executable, "-m", "tests.loaders.crash_after_commit", json.dumps(args)],
        cwd=ROOT, capture_output=True, timeout=60,
        env={**os.environ, "AWS_ENDPOINT_URL": moto_endpoint},
    )  # fmt: skip
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    assert pipe.queued() >= 3  # nothing acknowledged (moto may add an s3:TestEvent)
    time.sleep(1.2)  # the messages' visibility timeout
    settings = pipe.settings(url, visibility_seconds=1)
    conn = connect(settings)
    try:
        summary = handler.run_scheduled(conn, pipe.s3, pipe.sqs, settings)
    finally:
        conn.close()
    # THEN the rerun finds the files committed, applies nothing twice and acknowledges
    assert summary["files"] == {"skipped": 3} and summary["acknowledged"] >= 3
    assert pipe.queued() == 0
    assert fetch(admin, "SELECT COUNT(*) FROM crash") == [(3,)]
    assert [r.load_count for r in ledger.ledger_rows(admin, keys)] == [1, 1, 1]


def test_server_unreachable_for_several_runs_then_back(moto_endpoint, database, admin):
    # GIVEN MariaDB behind a proxy that is down, and announced files
    pipe = make_pipeline(moto_endpoint)
    p = mariadb_params(database)
    proxy = FaultProxy((p["host"], p["port"]))
    proxy.start()
    proxy.stop()
    url = f"mysql://{p['user']}:{p['password']}@127.0.0.1:{proxy.port}/{database}"
    settings = pipe.settings(url, visibility_seconds=1)
    keys = [staging_key("away", f"f{i}", hour=HOUR) for i in range(2)]
    for i, key in enumerate(keys):
        pipe.put(key, gz([change("away", {"pk": {"S": f"k{i}"}}, {"n": {"N": "1"}}, 1)]))
    env = {**pipe.env(url), "AWS_ENDPOINT_URL": moto_endpoint}
    # WHEN three scheduled runs find the server unreachable
    outcomes = []
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        for _ in range(3):
            outcomes.append(handler.handler({}))
        proxy.start()  # back, same address
        time.sleep(1.2)
        back = handler.handler({})
    finally:
        proxy.stop()
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    # THEN those runs load and acknowledge nothing; the first run after loads all once
    assert [o["status"] for o in outcomes] == ["unreachable"] * 3
    assert back["files"] == {"loaded": 2} and back["acknowledged"] >= 2
    assert pipe.queued() == 0
    assert fetch(admin, "SELECT COUNT(*) FROM away") == [(2,)]
    assert settings.work_queue_url == pipe.queue_url


def test_connection_lost_mid_run_leaves_files_pending(conn, admin, database):
    # GIVEN a loader connected through a proxy that drops while loading
    from contract.config import parse_config
    from loaders.db import open_connection
    from loaders.settings import LoaderSettings

    p = mariadb_params(database)
    proxy = FaultProxy((p["host"], p["port"]))
    proxy.start()
    c = open_connection({**{k: v for k, v in p.items() if k != "autocommit"}, "port": proxy.port})
    settings = LoaderSettings(config=parse_config({}), backoff_seconds=0.01, retries=2)
    real = LoaderConnection._send_registered

    def drop(self, requested):
        proxy.stop()
        return real(self, requested)

    objects = files("dropped", 2, 50)
    try:
        LoaderConnection._send_registered = drop
        results = load_staging_bytes(c, settings.config, objects, settings=settings)
    finally:
        LoaderConnection._send_registered = real
        proxy.stop()
    # THEN the files are reported for retry, nothing half-applied is visible
    assert {r.status for r in results} == {"retry"}
    assert fetch(admin, "SHOW TABLES LIKE 'dropped'") == [] or fetch(
        admin, "SELECT COUNT(*) FROM dropped"
    ) == [(0,)]
    # AND a later run on a working connection loads them exactly once
    later = load_staging_bytes(conn, settings.config, objects, settings=settings)
    assert [r.status for r in later] == ["loaded", "loaded"]
    assert fetch(admin, "SELECT COUNT(*) FROM dropped") == [(100,)]
    assert pymysql  # the driver the proxy test exercises
