"""LOCAL STAND-IN for EventBridge Scheduler invoking the loader Lambda (moto never fires schedules).

``tick`` does what one scheduled invocation does in AWS: it runs the REAL
loader handler (``loaders.handler.handler``) in this process with

* the environment the stack gives the loader Lambda (``lambda_environment``:
  config, bucket, prefixes, secret, work queue, endpoint of the local moto);
* a Scheduler-shaped event: ``{"version": "0", "id", "detail-type":
  "Scheduled Event", "source": "aws.scheduler", "account", "time", "region",
  "resources": [<schedule ARN>], "detail": "{}"}``;
* a Lambda context whose ``get_remaining_time_in_millis`` counts down from the
  configured loader timeout, so the loader's stop-before-timeout logic runs.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from localmode.aws import ACCOUNT_ID
from localmode.resources import LOADER_FUNCTION, LocalResources, lambda_environment

Handler = Callable[[dict[str, Any], Any], Any]


class LambdaContext:
    """The attributes and method of the Python Lambda runtime's context object."""

    def __init__(self, function_arn: str, timeout_seconds: float, memory_mb: int = 1024) -> None:
        self.function_name = function_arn.split(":function:")[-1].split(":")[0]
        self.function_version = "$LATEST"
        self.invoked_function_arn = function_arn
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def scheduler_event(resources: LocalResources, when: datetime | None = None) -> dict[str, Any]:
    """The event EventBridge Scheduler delivers to a Lambda target (documented example shape)."""
    moment = (when or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.scheduler",
        "account": ACCOUNT_ID,
        "time": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": resources.region,
        "resources": [resources.schedule_arn],
        "detail": "{}",
    }


@contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the duration of one invocation, then restore them."""
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, old in before.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old


def tick(
    resources: LocalResources,
    *,
    handler: Handler | None = None,
    timeout_seconds: float | None = None,
    when: datetime | None = None,
) -> Any:
    """One scheduled loader run against the local stack; returns the handler's response."""
    if handler is None:
        from loaders.handler import handler as real_handler

        handler = real_handler
    timeout = timeout_seconds or resources.config.settings["loader_timeout_seconds"]
    context = LambdaContext(
        f"arn:aws:lambda:{resources.region}:{ACCOUNT_ID}:function:{LOADER_FUNCTION}", timeout
    )
    with environment(lambda_environment(resources)):
        return handler(scheduler_event(resources, when), context)
