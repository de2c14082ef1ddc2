"""`ddbload reload --stack`: the deployed loader function does the work, not the laptop.

moto cannot run a Lambda without Docker, so the one stand-in here is the
Invoke call: it runs the real loader handler (``loaders.handler``) in this
process with the environment the stack gives the function.
"""

from __future__ import annotations

import io
import json

import orjson
import pymysql
from typer.testing import CliRunner

from cli.main import app
from contract.config import from_json
from loaders import handler as loader_handler
from localmode.resources import lambda_environment
from ops.pipeline import Pipeline
from tests.cli.conftest import change, put_staging
from tests.cli.deployed import deploy, outputs_of
from tests.conftest import mariadb_params


def test_reload_against_a_stack_invokes_the_loader_function(
    runner: CliRunner, local_stack, database, monkeypatch
) -> None:
    # GIVEN a deployed stack whose loader function is the real handler
    for name, value in lambda_environment(local_stack).items():
        monkeypatch.setenv(name, value)
    deploy(local_stack, "prod", outputs_of(local_stack))
    invoked: list[dict] = []

    class LoaderFunction:
        def invoke(self, FunctionName: str, InvocationType: str, Payload: bytes) -> dict:
            event = orjson.loads(Payload)
            invoked.append({"function": FunctionName, **event})
            answer = loader_handler.handler(event, None)
            return {"StatusCode": 200, "Payload": io.BytesIO(orjson.dumps(answer))}

    real_client = Pipeline.client
    monkeypatch.setattr(
        Pipeline,
        "client",
        lambda self, service, config=None: (
            LoaderFunction() if service == "lambda" else real_client(self, service, config)
        ),
    )
    key = put_staging(
        local_stack, "table=customers/2025/06/15/15/one.gz", [change("a", 1), change("b", 2)]
    )
    # WHEN reloading by stack name
    result = runner.invoke(
        app, ["reload", "--stack", "prod", "--prefix", "table=customers/", "--yes", "--json"]
    )
    # THEN the function got the documented event, and the rows are in MariaDB
    assert result.exit_code == 0, result.output
    assert invoked == [
        {
            "function": "ddbload-local-loader",
            "action": "reload",
            "prefix": "staging/table=customers/",
            "table": None,
        }
    ]
    doc = json.loads(result.stdout)
    assert [(f["key"], f["status"]) for f in doc["files"]] == [(key, "loaded")]
    assert doc["rows"]["applied"] == 2 and doc["ok"] is True
    with pymysql.connect(**mariadb_params(database)) as conn, conn.cursor() as cur:
        cur.execute("SELECT id FROM customers ORDER BY id")
        assert [r[0] for r in cur.fetchall()] == ["a", "b"]


def test_reload_of_a_table_another_run_holds_says_so_in_one_sentence(
    runner: CliRunner, local_stack, database, monkeypatch
) -> None:
    # GIVEN a deployed stack whose loader function is the real handler, and another
    # session holding the lock of the customers table (a scheduled run merging it)
    for name, value in lambda_environment(local_stack).items():
        monkeypatch.setenv(name, value)
    deploy(local_stack, "prod", outputs_of(local_stack))

    class LoaderFunction:
        def invoke(self, FunctionName: str, InvocationType: str, Payload: bytes) -> dict:
            answer = loader_handler.handler(orjson.loads(Payload), None)
            return {"StatusCode": 200, "Payload": io.BytesIO(orjson.dumps(answer))}

    real_client = Pipeline.client
    monkeypatch.setattr(
        Pipeline,
        "client",
        lambda self, service, config=None: (
            LoaderFunction() if service == "lambda" else real_client(self, service, config)
        ),
    )
    put_staging(local_stack, "table=customers/2025/06/15/15/one.gz", [change("a", 1)])
    target = from_json(local_stack.config_json).target_of("customers")
    with pymysql.connect(**mariadb_params(database)) as other, other.cursor() as cur:
        cur.execute("SELECT GET_LOCK(%s, 0)", [f"ddbload:{database}.{target}"])
        assert cur.fetchone() == (1,)
        # WHEN reloading that table
        result = runner.invoke(
            app, ["reload", "--stack", "prod", "--prefix", "table=customers/", "--yes"]
        )
    # THEN one sentence says another run holds it, and the command does not claim success
    assert result.exit_code == 1, result.output
    assert (
        "Another loader run holds the lock of table customers, so its files were not "
        "reloaded now; run the reload again once that run has finished."
        in " ".join(result.stdout.split())  # the console wraps long lines
    )
    assert "Traceback" not in result.output
