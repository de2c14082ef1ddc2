"""Loader lanes: which run loads which table, and the event that starts a lane's run.

A lane is one loader run per schedule tick for one configured table: its own SQS
work queue (S3 notifications filtered to ``<staging>/table=<name>/``), its own
schedule, its own named lock in MariaDB. Lanes share nothing, so a slow, locked
or failing table never delays another. Tables that are not in the config (their
staging objects still load, losslessly, with the default mapping) share the one
``DEFAULT_LANE``: S3 refuses notification filters that overlap, and a catch-all
``<staging>/`` filter would overlap every table's, so the default lane has no
queue and finds its files by sweeping recent hour folders (``loaders.discovery``).

The stacks build one schedule per lane whose input is ``lane_event``; the local
scheduler stand-in sends the same event, and ``loaders.handler`` reads it back.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from contract.config import PipelineConfig

# Not a DynamoDB table name (those are 3-255 of A-Z a-z 0-9 _ . -), so no table owns it.
DEFAULT_LANE = "*"
DEFAULT_LANE_TITLE = "unconfigured tables"
# What the schedule sends: no "action" key means a scheduled run to the loader handler.
SCHEDULE_SOURCE = "ddbload.schedule"
EVENT_LANE = "lane"
EVENT_WORK_QUEUE_URL = "work_queue_url"
# CloudFormation outputs of the lanes: one per lane, ``OUTPUT_LANE_PREFIX`` + a name
# made of letters and digits (``output_name``), its value the lane's JSON description.
OUTPUT_LANE_PREFIX = "LoaderLane"


def lanes(config: PipelineConfig) -> list[str]:
    """Every lane of a pipeline: its configured tables in name order, then the default lane."""
    return [*sorted(config.tables), DEFAULT_LANE]


def lane_of(table: str, config: PipelineConfig) -> str:
    """The lane that loads ``table``'s staging objects."""
    return table if table in config.tables else DEFAULT_LANE


def has_queue(lane: str) -> bool:
    """Whether the lane has a work queue of its own (only configured tables do)."""
    return lane != DEFAULT_LANE


def title(lane: str) -> str:
    """The lane as a person reads it."""
    return f"{DEFAULT_LANE} ({DEFAULT_LANE_TITLE})" if lane == DEFAULT_LANE else lane


def lane_event(
    lane: str,
    *,
    work_queue_url: str | None,
    scheduled_time: str,
    execution_id: str,
) -> dict[str, Any]:
    """What a lane's schedule sends the loader: the lane, its queue, when and which tick.

    The stacks pass EventBridge Scheduler's context-attribute placeholders for the
    time and the id, which the Scheduler fills in at each invocation.
    """
    event: dict[str, Any] = {"source": SCHEDULE_SOURCE, EVENT_LANE: lane}
    if work_queue_url:
        event[EVENT_WORK_QUEUE_URL] = work_queue_url
    event["scheduled_time"] = scheduled_time
    event["execution_id"] = execution_id
    return event


def resource_id(lane: str) -> str:
    """Letters and digits naming the lane's resources, distinct per lane and stable: the
    same table keeps its queues across deploys however many tables join or leave."""
    if lane == DEFAULT_LANE:
        return "Default"
    readable = re.sub(r"[^A-Za-z0-9]", "", lane)[:40]
    digest = hashlib.sha256(lane.encode("utf-8")).hexdigest()[:8]
    return f"{readable}{digest}"


def output_name(lane: str) -> str:
    """The lane's CloudFormation output name."""
    return OUTPUT_LANE_PREFIX + resource_id(lane)
