"""LOCAL STAND-IN for a Lambda function's log stream: where its stdout goes.

In AWS, Lambda sends what a function writes to stdout to CloudWatch Logs: the
transform's structured warnings, the loader's run summary and its EMF metrics.
Locally the drivers run those functions inside the caller's process, whose stdout
belongs to the caller's result (``ddbload ... --json`` prints exactly one JSON
document there). So while a function runs, its stdout is the process's stderr,
where the CLI's own logs and progress go.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TextIO


class _StdoutToStderr:
    """One redirection shared by overlapping invocations (threads), undone by the last.

    Each invocation swapping ``sys.stdout`` on its own would race: one that ends
    while another runs would restore the stdout the other one had replaced.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._saved: TextIO | None = None

    @contextmanager
    def use(self) -> Iterator[None]:
        with self._lock:
            if self._users == 0:
                self._saved = sys.stdout
                sys.stdout = sys.stderr
            self._users += 1
        try:
            yield
        finally:
            with self._lock:
                self._users -= 1
                if self._users == 0 and self._saved is not None:
                    sys.stdout = self._saved
                    self._saved = None


_SHARED = _StdoutToStderr()


def function_logs() -> AbstractContextManager[None]:
    """While a local function runs, what it prints goes to stderr (its "CloudWatch")."""
    return _SHARED.use()
