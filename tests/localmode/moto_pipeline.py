"""Test helpers: a private local pipeline (own moto_server, own state folder) and shape checks.

The pipeline config is the one the reliability scenarios use (``reliability.scenario``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from contract.config import PipelineConfig
from localmode import resources, server
from localmode.resources import LocalResources
from reliability.scenario import pipeline_config
from tests.fixtures import load_json

FIXTURES = Path(__file__).parent / "fixtures"

__all__ = ["FIXTURES", "load_fixture", "pipeline_config", "private_pipeline", "shape"]


def load_fixture(name: str) -> Any:
    """A captured AWS event shape, ``fixtures/<name>`` (sources in fixtures/SOURCES.md)."""
    return load_json(FIXTURES / name)


@contextmanager
def private_pipeline(
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
