"""LOCAL STAND-IN for EventBridge Scheduler invoking the loader Lambda (moto never fires schedules).

The deployed stack has one schedule per loader lane (``contract.lanes``); at each
period every lane's schedule invokes the loader asynchronously, so the lanes run
at once, each in its own Lambda process. ``tick`` does the same: it starts the
REAL loader handler (``loaders.handler.handler``) for every lane at once, one
thread per lane, and waits for all of them. Each invocation gets

* the environment the stack gives the loader Lambda (``lambda_environment``:
  config, bucket, prefixes, secret, endpoint of the local moto);
* the event the lane's schedule sends: its target input
  (``contract.lanes.lane_event``: the lane, its work queue) with the Scheduler's
  context attributes filled in, the scheduled time and an execution id;
* a Lambda context of its own whose ``get_remaining_time_in_millis`` counts down
  from the configured loader timeout, so the loader's stop-before-timeout logic runs;
* its stdout (summary, EMF metrics) on stderr, as ``drivers.logs`` explains.

``scheduler_event`` is the shape of a schedule without a target input (no lane:
one run of every table), which the fault tests use to invoke the loader directly.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from contract import lanes
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


def lane_event(
    resources: LocalResources, lane: str, when: datetime | None = None
) -> dict[str, Any]:
    """What the lane's schedule delivers to the loader: its input, context attributes filled."""
    moment = (when or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    return lanes.lane_event(
        lane,
        work_queue_url=resources.work_queue_url(lane),
        scheduled_time=moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        execution_id=uuid.uuid4().hex[:16],
    )


def tick_lane(
    resources: LocalResources,
    lane: str,
    *,
    handler: Handler | None = None,
    timeout_seconds: float | None = None,
    when: datetime | None = None,
) -> Any:
    """One scheduled loader run of one lane against the local stack; the handler's response."""
    if handler is None:
        from loaders.handler import handler as real_handler

        handler = real_handler
    timeout = timeout_seconds or resources.config.settings["loader_timeout_seconds"]
    context = LambdaContext(
        f"arn:aws:lambda:{resources.region}:{ACCOUNT_ID}:function:{LOADER_FUNCTION}", timeout
    )
    with environment(lambda_environment(resources)), function_logs():
        return handler(lane_event(resources, lane, when), context)


def tick(
    resources: LocalResources,
    *,
    handler: Handler | None = None,
    timeout_seconds: float | None = None,
    when: datetime | None = None,
) -> dict[str, Any]:
    """One period of every lane's schedule: all lanes run at once; lane -> response.

    Waits for every lane. A lane whose run raised (in AWS: an invocation error the
    schedule's retries and the alarms see) raises here after the others finished.
    """
    names = resources.lane_names()
    with ThreadPoolExecutor(max_workers=len(names), thread_name_prefix="lane") as pool:
        futures = {
            lane: pool.submit(
                tick_lane,
                resources,
                lane,
                handler=handler,
                timeout_seconds=timeout_seconds,
                when=when,
            )
            for lane in names
        }
    return {lane: future.result() for lane, future in futures.items()}
