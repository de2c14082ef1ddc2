"""Where local mode keeps what it started: a project-local ``.state/`` folder.

``DDBLOAD_STATE_DIR`` overrides it (tests give each module its own folder so
parallel runs never share a server). The files are small JSON documents
written atomically, so a reader never sees half a file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

ENV_STATE_DIR = "DDBLOAD_STATE_DIR"
DEFAULT_DIR = ".state"
# Documents that describe one running local stack; forgotten when it stops.
RESOURCES_FILE = "resources.json"
STREAM_CHECKPOINTS_FILE = "stream_checkpoints.json"
KINESIS_CHECKPOINTS_FILE = "kinesis_checkpoints.json"
TTL_MARKS_FILE = "ttl_marks.json"
LOCAL_STACK_FILES = (
    RESOURCES_FILE,
    STREAM_CHECKPOINTS_FILE,
    KINESIS_CHECKPOINTS_FILE,
    TTL_MARKS_FILE,
)


def state_dir(path: str | os.PathLike[str] | None = None) -> Path:
    """The state folder: ``path``, else ``$DDBLOAD_STATE_DIR``, else ``./.state``."""
    chosen = Path(path or os.environ.get(ENV_STATE_DIR) or DEFAULT_DIR)
    chosen.mkdir(parents=True, exist_ok=True)
    return chosen.resolve()


def read(folder: Path, name: str) -> dict[str, Any] | None:
    """A state document, or None when it does not exist."""
    try:
        return json.loads((folder / name).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


def write(folder: Path, name: str, doc: dict[str, Any]) -> None:
    """Replace a state document atomically."""
    tmp = folder / f".{name}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(doc, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp, folder / name)


def remove(folder: Path, name: str) -> None:
    (folder / name).unlink(missing_ok=True)
