"""What each reliability test measured, one JSON line per row of the report.

Tests call the ``record`` fixture (``tests/reliability/conftest.py``); at the
end of the test it appends the row, with the test's outcome, to the file named
by ``DDBLOAD_RELIABILITY_RESULTS`` (set by ``python -m reliability``). Without
that variable nothing is written: ``make test`` runs the same tests silently.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ENV_RESULTS = "DDBLOAD_RELIABILITY_RESULTS"


@dataclass
class Row:
    kind: str  # "fault" or "security"
    name: str  # the fault or attack
    how: str  # how it was injected
    happened: str  # what happened, with the measured figures
    rows_lost: int | None  # None where rows do not apply (e.g. a template check)
    rows_doubled: int | None
    test: str = ""
    outcome: str = ""  # passed / failed / xfailed, from pytest
    figures: dict[str, Any] = field(default_factory=dict)


def results_path() -> Path | None:
    value = os.environ.get(ENV_RESULTS)
    return Path(value) if value else None


def append(row: Row) -> None:
    path = results_path()
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(asdict(row), default=str, sort_keys=True) + "\n"
    # One write per row with O_APPEND: rows from two xdist workers never interleave.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def read(path: Path) -> list[Row]:
    if not path.exists():
        return []
    return [Row(**json.loads(line)) for line in path.read_text().splitlines() if line.strip()]
