"""Test helpers: a private local stack (own moto_server, own state folder) and shape checks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from contract.config import PipelineConfig, parse_config
from localmode import resources, server
from localmode.resources import LocalResources

FIXTURES = Path(__file__).parent / "fixtures"

TEST_CONFIG = {
    "tables": {
        "orders": {
            "partition_key": {"name": "pk", "type": "S"},
            "sort_key": {"name": "sk", "type": "N"},
            "columns": {
                "customer_id": {"path": "customer.id", "type": "VARCHAR(64)"},
                "total": {"path": "total", "type": "DECIMAL(38,4)"},
            },
        },
        "blobs": {"partition_key": {"name": "id", "type": "B"}},
    },
    "database": {"name": "ddbload"},
}


def pipeline_config() -> PipelineConfig:
    return parse_config(TEST_CONFIG)


def load_fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


@contextmanager
def private_stack(
    state_dir: Path, config: PipelineConfig | None = None, database: str = "ddbload"
) -> Iterator[LocalResources]:
    """A moto_server and the pipeline resources, stopped afterwards."""
    status = server.up(state_dir)
    try:
        assert status.endpoint
        yield resources.create(
            status.endpoint, config or pipeline_config(), database=database, state_path=state_dir
        )
    finally:
        server.down(state_dir)


def shape(value: Any) -> Any:
    """The JSON shape of a value: object keys and value types, list element shapes."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return sorted({json.dumps(shape(v), sort_keys=True) for v in value})
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__
