"""``MARIADB_URL`` end to end: the URL gives the server, the account and TLS; the database is
always the pipeline config's (``database.name``) or ``--database``, never the URL's path.

Every test here points ``MARIADB_URL`` at an account of its own, with a password that
needs percent-encoding, allowed only on databases the test creates, and names one of
those databases in the URL's path: the one nothing may land in.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pymysql
import pytest
from typer.testing import CliRunner

from cli.main import app
from contract.config import PipelineConfig, load_cdk_json
from localmode import demo, resources, server
from localmode.aws import Clients
from localmode.drivers.stream_to_kinesis import StreamToKinesis
from localmode.workload import Workload
from ops.verify import verify
from tests.conftest import for_database, mariadb_params
from tests.localmode.moto_pipeline import pipeline_config, private_pipeline

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Account:
    """A MariaDB account allowed only on ``databases`` (role -> name), all made for one test."""

    user: str
    password: str
    databases: dict[str, str]

    def url(self, path_database: str) -> str:
        p = mariadb_params()
        user, password = quote(self.user, safe=""), quote(self.password, safe="")
        return f"mysql://{user}:{password}@{p['host']}:{p['port']}/{path_database}"

    def tables(self, role: str) -> set[str]:
        conn = pymysql.connect(**mariadb_params())
        try:
            with conn.cursor() as cur:
                cur.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                    [self.databases[role]],
                )
                return {name for (name,) in cur.fetchall()}
        finally:
            conn.close()


@pytest.fixture
def account() -> Iterator[Account]:
    tag = uuid.uuid4().hex[:10]
    databases = {role: f"ddbt_{tag}_{role}" for role in ("config", "replay", "in_url")}
    user, password = f"ddbu_{tag}", f"p@ss:w/rd%{tag}?#"
    admin = pymysql.connect(**mariadb_params())
    try:
        with admin.cursor() as cur:
            cur.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (user, password))
            for name in databases.values():
                cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
                cur.execute(f"GRANT ALL PRIVILEGES ON `{name}`.* TO %s@'%%'", (user,))
        yield Account(user, password, databases)
    finally:
        with admin.cursor() as cur:
            cur.execute("DROP USER IF EXISTS %s@'%%'", (user,))
            for name in databases.values():
                cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()


def _secret(res: resources.LocalResources) -> dict:
    sm = Clients(res.endpoint).secretsmanager
    return json.loads(sm.get_secret_value(SecretId=res.db_secret_arn)["SecretString"])


def test_demo_loads_into_the_configs_database_whatever_the_url_path_says(
    tmp_path: Path, account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN MARIADB_URL with a password account, naming another database in its path
    monkeypatch.setenv("MARIADB_URL", account.url(account.databases["in_url"]))
    config = for_database(pipeline_config(), account.databases["config"])
    try:
        # WHEN the demo runs (no --database: the config's database)
        summary = demo.run_demo(items=40, config=config, state_path=tmp_path, seed_items=20)
        secret = _secret(resources.load(tmp_path))
    finally:
        server.down(tmp_path)

    # THEN everything reached the config's database and reconciles to zero there
    assert summary.database == account.databases["config"]
    assert summary.ok, summary.reconciliation
    for r in summary.reconciliation:
        assert (r["missing"], r["extra"], r["different"]) == (0, 0, 0)
    assert summary.rows_applied > 0 and summary.backfill_rows_applied > 0
    assert {"orders", "blobs", "_ddbload_ledger"} <= account.tables("config")
    # AND the loader's secret holds the URL's account and the config's database
    assert (secret["username"], secret["password"], secret["dbname"]) == (
        account.user,
        account.password,
        account.databases["config"],
    )
    # AND nothing went to the database the URL names
    assert account.tables("in_url") == set()


def _captured(tmp_path: Path) -> tuple[Path, Clients, PipelineConfig]:
    """Kinesis-destination records of a small workload on the cdk.json tables, in a file;
    returns the file, the clients of the (still running) capturing stack and its config."""
    config = load_cdk_json(str(ROOT / "cdk.json"))
    status = server.up(tmp_path)
    assert status.endpoint
    res = resources.create(status.endpoint, config, database="unused", state_path=tmp_path)
    aws = Clients(res.endpoint)
    workload = Workload(res.config, aws, run_id="url", seed=5, state_path=tmp_path)
    workload.burst(30)
    workload.burst(10)
    StreamToKinesis(res, state_path=tmp_path, clients=aws).pump()
    lines: list[bytes] = []
    for shard in aws.kinesis.list_shards(StreamName=res.kinesis_stream)["Shards"]:
        it = aws.kinesis.get_shard_iterator(
            StreamName=res.kinesis_stream,
            ShardId=shard["ShardId"],
            ShardIteratorType="TRIM_HORIZON",
        )["ShardIterator"]
        lines += [bytes(r["Data"]) for r in aws.kinesis.get_records(ShardIterator=it)["Records"]]
    assert len(lines) == workload.stats.total > 0
    capture = tmp_path / "captured.jsonl"
    capture.write_bytes(b"\n".join(lines) + b"\n")
    return capture, aws, res.config


def test_replay_loads_into_its_database_option_whatever_the_url_path_says(
    tmp_path: Path, account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)  # the CLI reads ./cdk.json
    try:
        # GIVEN captured change records
        capture, aws, config = _captured(tmp_path)
        # AND MARIADB_URL with a password account, naming another database in its path
        monkeypatch.setenv("MARIADB_URL", account.url(account.databases["in_url"]))
        replay_db = account.databases["replay"]

        # WHEN they are replayed with --database
        result = CliRunner().invoke(
            app,
            ["replay", str(capture), "--database", replay_db, "--state-dir", str(tmp_path)]
            + ["--json"],
        )

        # THEN the summary says they all loaded into the --database database
        assert result.exit_code == 0, result.output
        summary = json.loads(result.stdout)
        assert summary["database"] == replay_db
        assert summary["processing_failed"] == 0 and summary["rows_applied"] > 0
        # AND it holds exactly what DynamoDB holds
        conn = pymysql.connect(**mariadb_params(replay_db))
        try:
            results = verify(config, aws.dynamodb, conn)
        finally:
            conn.close()
        for r in results:
            assert r.ok, r.to_dict()
        assert sum(r.dynamodb_items for r in results) > 0
    finally:
        server.down(tmp_path)
    # AND nothing went to the database the URL names
    assert account.tables("in_url") == set()


def test_a_changed_url_repoints_the_running_stack_at_the_new_server(
    tmp_path: Path, account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = account.databases["config"]
    monkeypatch.delenv("MARIADB_URL", raising=False)
    with private_pipeline(tmp_path, pipeline_config(), database=database) as made:
        # GIVEN a local stack made while MARIADB_URL was unset (root@127.0.0.1)
        assert _secret(made)["username"] == mariadb_params()["user"]
        # WHEN MARIADB_URL names the account (and another database) and the demo's
        # stack step runs again
        monkeypatch.setenv("MARIADB_URL", account.url(account.databases["in_url"]))
        res = demo.ensure_stack(state_path=tmp_path)
        # THEN the same stack and database now use the URL's account
        assert (res.endpoint, res.database) == (made.endpoint, database)
        secret = _secret(res)
        assert (secret["username"], secret["password"], secret["dbname"]) == (
            account.user,
            account.password,
            database,
        )
        conn = demo.connect(res)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT CURRENT_USER(), DATABASE()")
                assert cur.fetchone() == (f"{account.user}@%", database)
        finally:
            conn.close()
