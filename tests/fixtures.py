"""The one loader of JSON fixtures (captured events, expected responses) for every test suite."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def load_json(path: Path) -> Any:
    """The JSON document in ``path``, read as UTF-8."""
    return json.loads(path.read_text(encoding="utf-8"))
