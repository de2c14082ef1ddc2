"""Fixtures for the CLI tests: a local stack (moto_server subprocess + real MariaDB).

One moto_server per test module (started the way `ddbload local up` starts it);
each test resets it and creates the pipeline's resources again with its own
MariaDB database, so tests share nothing but the process.
"""

from __future__ import annotations

import gzip
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from contract.config import load_cdk_json
from contract.staging import StagingLine, encode_line
from localmode import aws, resources, server

ROOT = Path(__file__).resolve().parents[2]
CDK_JSON = ROOT / "cdk.json"


@pytest.fixture(scope="module")
def moto_state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("state")
    server.up(folder)
    try:
        yield folder
    finally:
        server.down(folder)


@pytest.fixture
def local_stack(
    moto_state: Path, database: str, aws_env: None, monkeypatch: pytest.MonkeyPatch
) -> resources.LocalResources:
    """A fresh local stack whose secret points at this test's database; `--local` finds it."""
    endpoint = server.endpoint(moto_state)
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10):
        pass
    monkeypatch.setenv("DDBLOAD_STATE_DIR", str(moto_state))
    monkeypatch.delenv("DDBLOAD_STACK", raising=False)
    monkeypatch.delenv("DDBLOAD_LOCAL", raising=False)
    return resources.create(
        endpoint, load_cdk_json(str(CDK_JSON)), database=database, state_path=moto_state
    )


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def change(
    pk: str,
    version_us: int,
    *,
    table: str = "customers",
    op: str = "MODIFY",
    item: str | None = None,
    seq: str = "1",
) -> StagingLine:
    """One staging line of a ``customers`` change (key ``id``), item text given or made up."""
    if op == "REMOVE":
        item = None
    elif item is None:
        item = f'{{"id":"{pk}","name":"n-{pk}","v":{version_us}}}'
    return StagingLine(
        table=table,
        op=op,
        key=f'{{"id":"{pk}"}}',
        key_types="S",
        item=item,
        item_types=None,
        version_us=version_us,
        seq=seq,
        ttl_delete=False,
        event_id=f"e-{pk}-{version_us}",
        arrival_ms=version_us // 1000,
    )


def put_staging(stack: resources.LocalResources, key: str, lines: list[StagingLine]) -> str:
    """Write a gzip NDJSON staging object; returns its full key."""
    full = f"{stack.staging_prefix}/{key}"
    body = gzip.compress(b"".join(encode_line(line) for line in lines), mtime=0)
    aws.client("s3", stack.endpoint).put_object(Bucket=stack.bucket, Key=full, Body=body)
    return full
