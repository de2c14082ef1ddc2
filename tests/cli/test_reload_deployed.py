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
        lambda self, service: (
            LoaderFunction() if service == "lambda" else real_client(self, service)
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
