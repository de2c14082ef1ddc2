"""Subprocess for the fault test: a scheduled run that is SIGKILLed after COMMIT, before
it acknowledges its work messages. Usage: python -m tests.loaders.crash_after_commit ARGS_JSON"""

from __future__ import annotations

import json
import os
import signal
import sys

import boto3

from contract.config import from_json
from loaders import discovery, handler
from loaders.db import connect
from loaders.settings import LoaderSettings


def main() -> None:
    args = json.loads(sys.argv[1])
    settings = LoaderSettings(
        config=from_json(args["config"]),
        bucket=args["bucket"],
        work_queue_url=args["queue_url"],
        mariadb_url=args["mariadb_url"],
        visibility_seconds=1,
    )

    def die(*_a, **_k):
        os.kill(os.getpid(), signal.SIGKILL)

    discovery.acknowledge = die
    kw = {"region_name": "us-east-1", "endpoint_url": args["endpoint"]}
    conn = connect(settings)
    handler.run_scheduled(conn, boto3.client("s3", **kw), boto3.client("sqs", **kw), settings)
    sys.exit(3)  # not reached: acknowledge kills the process


if __name__ == "__main__":
    main()
