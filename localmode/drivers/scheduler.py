"""LOCAL STAND-IN for EventBridge Scheduler invoking the loader Lambda (moto never fires schedules).

``tick`` does what one scheduled invocation does in AWS: it runs the REAL
loader handler (``loaders.handler.handler``) in this process with

* the environment the stack gives the loader Lambda (``lambda_environment``:
  config, bucket, prefixes, secret, work queue, endpoint of the local moto);
* a Scheduler-shaped event: ``{"version": "0", "id", "detail-type":
  "Scheduled Event", "source": "aws.scheduler", "account", "time", "region",
  "resources": [<schedule ARN>], "detail": "{}"}``;
* a Lambda context whose ``get_remaining_time_in_millis`` counts down from the
  configured loader timeout, so the loader's stop-before-timeout logic runs;
* its stdout (summary, EMF metrics) on stderr, as ``drivers.logs`` explains.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from localmode.aws import ACCOUNT_ID
from localmode.drivers.logs import function_logs
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


class _SharedEnvironment:
    """Process environment shared by overlapping invocations in one process.

    Lambda gives each invocation its own process; here invocations may overlap in
    threads (a reload while a scheduled run goes on). Setting and restoring
    ``os.environ`` per invocation would then race: the later one restores what the
    earlier one set, and a stale endpoint outlives both. So invocations with the same
    values share one setting, restored when the last leaves; different values wait.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._values: dict[str, str] | None = None
        self._saved: dict[str, str | None] = {}
        self._users = 0

    @contextmanager
    def use(self, values: Mapping[str, str]) -> Iterator[None]:
        wanted = dict(values)
        with self._cond:
            while self._values is not None and self._values != wanted:
                self._cond.wait()
            if self._values is None:
                self._saved = {name: os.environ.get(name) for name in wanted}
                os.environ.update(wanted)
                self._values = wanted
            self._users += 1
        try:
            yield
        finally:
            with self._cond:
                self._users -= 1
                if self._users == 0:
                    for name, old in self._saved.items():
                        if old is None:
                            os.environ.pop(name, None)
                        else:
                            os.environ[name] = old
                    self._values = None
                    self._cond.notify_all()


_SHARED = _SharedEnvironment()


def environment(values: Mapping[str, str]) -> Any:
    """Set environment variables for the duration of one invocation, then restore them."""
    return _SHARED.use(values)


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
    with environment(lambda_environment(resources)), function_logs():
        return handler(scheduler_event(resources, when), context)
