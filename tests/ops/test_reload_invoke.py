"""The synchronous invoke behind `ddbload reload --stack` (``ops.reload._execute_deployed``).

The Lambda client is the real boto3 one the library builds; botocore's Stubber
answers its Invoke, so nothing leaves the process. A handler on ``before-parameter-build``
makes the answer take a moment, as a real reload does.
"""

from __future__ import annotations

import io
import time
from typing import Any

import orjson
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from contract.config import DEFAULTS, PipelineConfig
from ops import reload as reload_lib
from ops.pipeline import Pipeline
from ops.reload import PlannedObject, ReloadPlan

KEY = "staging/table=orders/2025/06/15/15/one.gz"


def deployed(timeout: int) -> Pipeline:
    return Pipeline(
        where="stack test",
        bucket="bucket",
        staging_prefix="staging",
        error_prefix="errors",
        quarantine_prefix="quarantine",
        config=PipelineConfig(tables={}, settings={**DEFAULTS, "loader_timeout_seconds": timeout}),
        loader_function="ddbload-loader",
        region="us-east-1",
    )


def planned() -> ReloadPlan:
    return ReloadPlan(
        where="stack test",
        bucket="bucket",
        prefix="staging/table=orders/",
        table=None,
        objects=[PlannedObject(KEY, "etag", 10, False)],
    )


@pytest.fixture
def made(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every Lambda client the library makes, each answering one Invoke through a Stubber."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    clients: list[Any] = []
    real_client = Pipeline.client

    def client(self: Pipeline, service: str, config: Any = None) -> Any:
        made = real_client(self, service, config=config)
        if service == "lambda":
            clients.append(made)
        return made

    monkeypatch.setattr(Pipeline, "client", client)
    return clients


def answer(client: Any, report: dict[str, Any], delay: float) -> Stubber:
    body = orjson.dumps(report)
    stubber = Stubber(client)
    stubber.add_response(
        "invoke",
        {"StatusCode": 200, "Payload": StreamingBody(io.BytesIO(body), len(body))},
        {
            "FunctionName": "ddbload-loader",
            "InvocationType": "RequestResponse",
            "Payload": orjson.dumps(
                {"action": "reload", "prefix": "staging/table=orders/", "table": None}
            ),
        },
    )
    client.meta.events.register(
        "before-parameter-build.lambda.Invoke", lambda **_: time.sleep(delay)
    )
    stubber.activate()
    return stubber


def loaded_report() -> dict[str, Any]:
    return {
        "files": {"loaded": 1},
        "rows": {"read": 2, "applied": 2, "stale": 0, "deleted": 0, "quarantined": 0},
        "error": None,
        "busy": [],
        "failed": [],
        "status": "ok",
    }


def test_the_invoke_waits_past_the_loader_timeout_and_never_retries(
    made: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a deployed loader with a 700 s timeout, above boto3's 60 s read timeout
    pipeline = deployed(700)
    stubbers: list[Stubber] = []
    real_client = Pipeline.client

    def client(self: Pipeline, service: str, config: Any = None) -> Any:
        made_client = real_client(self, service, config=config)
        stubbers.append(answer(made_client, loaded_report(), 0))
        return made_client

    monkeypatch.setattr(Pipeline, "client", client)
    # WHEN reloading through it
    result = reload_lib.execute(pipeline, planned())
    # THEN the client waits longer than the loader may run, and makes one attempt only
    assert len(made) == 1
    config = made[0].meta.config
    assert config.read_timeout > 700
    assert config.retries["total_max_attempts"] == 1
    assert [(f.key, f.status) for f in result.files] == [(KEY, "loaded")]
    assert result.ok
    stubbers[0].assert_no_pending_responses()


def test_waiting_is_reported_while_the_loader_runs(
    made: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a loader that answers after a while, and a fast tick
    monkeypatch.setattr(reload_lib, "WAIT_TICK_SECONDS", 0.02)
    real_client = Pipeline.client

    def client(self: Pipeline, service: str, config: Any = None) -> Any:
        made_client = real_client(self, service, config=config)
        answer(made_client, loaded_report(), 0.3)
        return made_client

    monkeypatch.setattr(Pipeline, "client", client)
    waited: list[float] = []
    # WHEN reloading with a waiting callback
    result = reload_lib.execute(deployed(600), planned(), waiting=waited.append)
    # THEN it was told the growing elapsed time until the answer came
    assert len(waited) >= 3
    assert waited == sorted(waited) and waited[0] > 0
    assert result.ok


def test_a_busy_table_comes_back_as_busy_with_one_sentence(
    made: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a loader that found the table's lock held by another run
    real_client = Pipeline.client
    reason = "another loader run holds the lock of table orders"
    report = {
        "files": {"retry": 1},
        "rows": {"read": 0, "applied": 0, "stale": 0, "deleted": 0, "quarantined": 0},
        "error": None,
        "busy": ["orders"],
        "failed": [{"key": KEY, "error": f"{reason}; a later run loads {KEY}"}],
        "status": "busy",
    }

    def client(self: Pipeline, service: str, config: Any = None) -> Any:
        made_client = real_client(self, service, config=config)
        answer(made_client, report, 0)
        return made_client

    monkeypatch.setattr(Pipeline, "client", client)
    # WHEN reloading
    result = reload_lib.execute(deployed(600), planned())
    # THEN the result names the busy table in one sentence, and is not ok
    assert result.busy == ["orders"]
    assert not result.ok
    assert result.busy_sentence == (
        "Another loader run holds the lock of table orders, so its files were not reloaded "
        "now; run the reload again once that run has finished."
    )
    assert result.to_json()["busy"] == ["orders"]
