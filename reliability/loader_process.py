"""One scheduled loader run in a process of its own, for the SIGKILL test.

Usage: ``python -m reliability.loader_process ENV_JSON``: sets the Lambda
environment given as JSON, runs the REAL ``loaders.handler.handler`` with a
Scheduler-shaped event and prints its response as one JSON line. The parent
kills it (SIGKILL) at a random moment; whatever it had not committed must be
loaded by a later run, and nothing it committed may be applied again.
"""

from __future__ import annotations

import json
import os
import sys


def main() -> None:
    os.environ.update(json.loads(sys.argv[1]))
    from loaders.handler import handler

    event = {"version": "0", "detail-type": "Scheduled Event", "source": "aws.scheduler"}
    print(json.dumps(handler(event, None), default=str), flush=True)


if __name__ == "__main__":
    main()
