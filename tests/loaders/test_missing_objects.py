"""A missing staging key as the loader role sees it: 403, not 404.

The loader role may not list the staging prefix (no s3:ListBucket there), and S3
then answers HeadObject and GetObject of a key that does not exist with 403
AccessDenied instead of 404. S3 and SQS are moto; a ``before-call`` handler on the
run's S3 client answers 403 for the keys named, as S3 does for such a caller.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

import pytest
from botocore.awsrequest import AWSResponse
from moto import mock_aws

from loaders import handler
from tests.loaders.aws import make_pipeline
from tests.loaders.builders import change, gz, staging_key
from tests.loaders.test_handler import Context, url

HOUR = datetime.now(UTC).strftime("%Y/%m/%d/%H")


@pytest.fixture
def pipeline(aws_env):
    with mock_aws():
        yield make_pipeline()


def refuse(
    monkeypatch: pytest.MonkeyPatch, keys: set[str], operations: tuple[str, ...]
) -> list[str]:
    """Make every run's S3 client answer 403 to ``operations`` on ``keys``; returns what it
    refused, as (operation, key) strings."""
    refused: list[str] = []
    real_clients = handler._clients

    def forbid(operation: str) -> Callable[..., Any]:
        def answer(params: dict[str, Any], **_: Any) -> Any:
            # ``params`` is the serialized request: the key is the end of its path.
            key = next((k for k in keys if unquote(params["url_path"]).endswith("/" + k)), None)
            if key is None:
                return None
            refused.append(f"{operation} {key}")
            parsed = {
                "Error": {"Code": "403" if operation == "HeadObject" else "AccessDenied"},
                "ResponseMetadata": {"HTTPStatusCode": 403},
            }
            return AWSResponse("https://s3.amazonaws.com", 403, {}, None), parsed

        return answer

    def clients(*args: Any, **kwargs: Any) -> tuple[Any, ...]:
        made = real_clients(*args, **kwargs)  # S3 first, whatever else the handler makes
        for operation in operations:
            made[0].meta.events.register(f"before-call.s3.{operation}", forbid(operation))
        return made

    monkeypatch.setattr(handler, "_clients", clients)
    return refused


def test_load_action_reports_a_key_refused_with_403_as_missing(
    pipeline, database, monkeypatch
) -> None:
    # GIVEN one staging object, and a key that does not exist, which S3 refuses (403)
    for name, value in pipeline.env(url(database)).items():
        monkeypatch.setenv(name, value)
    present = staging_key("items", "a", hour=HOUR)
    pipeline.put(present, gz([change("items", {"pk": {"S": "x"}}, {"v": {"N": "1"}}, 1)]))
    gone = staging_key("items", "gone", hour=HOUR)
    refused = refuse(monkeypatch, {gone}, ("HeadObject", "GetObject"))
    # WHEN the load action is given both keys
    answer = handler.handler({"action": "load", "keys": [present, gone]})
    # THEN the refused key is missing, not an error, and the run is ok
    assert refused == [f"HeadObject {gone}"]
    assert answer["files"] == {"loaded": 1, "missing": 1}
    assert answer["failed"] == [] and answer["status"] == "ok"


def test_an_object_gone_before_its_get_is_missing_when_head_is_refused_too(
    pipeline, database, monkeypatch
) -> None:
    # GIVEN an object the sweep lists, deleted before the loader reads it (S3 now
    # refuses both HeadObject and GetObject of it: 403)
    for name, value in pipeline.env(url(database)).items():
        monkeypatch.setenv(name, value)
    key = staging_key("items", "b", hour=HOUR)
    pipeline.put(key, gz([change("items", {"pk": {"S": "y"}}, {"v": {"N": "1"}}, 1)]))
    refuse(monkeypatch, {key}, ("HeadObject", "GetObject"))
    # WHEN the scheduled run loads what it found
    answer = handler.handler({}, Context(600_000))
    # THEN the file is missing, not failed
    assert answer["files"] == {"missing": 1}
    assert answer["failed"] == []


def test_a_refused_get_of_an_existing_object_still_fails(pipeline, database, monkeypatch) -> None:
    # GIVEN an existing object whose GetObject is refused (a KMS key or a policy) while
    # its HeadObject answers
    for name, value in pipeline.env(url(database)).items():
        monkeypatch.setenv(name, value)
    key = staging_key("items", "c", hour=HOUR)
    pipeline.put(key, gz([change("items", {"pk": {"S": "z"}}, {"v": {"N": "1"}}, 1)]))
    refuse(monkeypatch, {key}, ("GetObject",))
    # WHEN the load action is given it
    answer = handler.handler({"action": "load", "keys": [key]})
    # THEN it is not passed off as missing: the operator sees the refusal
    assert "missing" not in answer["files"]
    assert [f["key"] for f in answer["failed"]] == [key]
