"""``python -m reliability``: run every reliability test, then write docs/RELIABILITY.md.

Runs ``tests/reliability`` in full (the ``reliability``-marked slow tests
included) under a hard time limit, collects the rows the tests recorded, and
renders the report. Exits with pytest's exit code (or 124 on timeout).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from reliability import report, results

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "RELIABILITY.md"
TIME_LIMIT_SECONDS = 600


def main(argv: list[str]) -> int:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="ddbload-reliability-") as tmp:
        path = Path(tmp) / "results.jsonl"
        env = dict(os.environ, **{results.ENV_RESULTS: str(path)})
        command = [
            sys.executable, "-m", "pytest", "tests/reliability",
            "-m", "reliability or not reliability",
            "-n", "2", "--dist", "loadgroup", "-q", "-p", "no:cacheprovider", *argv,
        ]  # fmt: skip
        # A session of its own, so a timeout stops the xdist workers too.
        proc = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
        try:
            code = proc.wait(timeout=TIME_LIMIT_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            print(f"reliability: stopped after {TIME_LIMIT_SECONDS} s", file=sys.stderr)
            code = 124
        rows = results.read(path)
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(
        report.render(rows, seconds=time.monotonic() - started, exit_code=code), encoding="utf-8"
    )
    print(f"reliability: {len(rows)} checks written to {DOC.relative_to(ROOT)}")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
