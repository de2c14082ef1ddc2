"""A lane per table in the template: its own work queue and dead-letter queue, S3 notifications
filtered to its staging folder, its own schedule invoking the loader with the lane in its input."""

from __future__ import annotations

import json

import pytest

from contract import lanes, layout
from stacks import defaults
from tests.stacks.conftest import Synthesized
from tests.stacks.template_queries import actions_of, function_role, joined, role_statements


def lane_queues(pipeline: Synthesized) -> dict[str, tuple[str, str]]:
    """Configured table -> (work queue, dead-letter queue) logical ids."""
    found = {}
    for name, lane in pipeline.stack.loader.lanes.items():
        if lane.work_queue is not None:
            assert lane.dead_letters is not None
            found[name] = (
                pipeline.logical_id(lane.work_queue),
                pipeline.logical_id(lane.dead_letters),
            )
    return found


def schedule_inputs(pipeline: Synthesized) -> dict[str, dict]:
    """Lane -> the input its schedule sends the loader (Refs as ``<LogicalId>``)."""
    inputs = {}
    for schedule in pipeline.resources("AWS::Scheduler::Schedule").values():
        payload = json.loads(joined(schedule["Properties"]["Target"]["Input"]))
        assert payload[lanes.EVENT_LANE] not in inputs, "two schedules for one lane"
        inputs[payload[lanes.EVENT_LANE]] = payload
    return inputs


@pytest.fixture(params=["default", "existing"])
def pipeline(request: pytest.FixtureRequest) -> Synthesized:
    return request.getfixturevalue(f"{request.param}_pipeline")


def test_every_configured_table_has_its_own_queue_and_dead_letter_queue(
    pipeline: Synthesized,
) -> None:
    # GIVEN the configured tables
    tables = sorted(pipeline.config.tables)
    # WHEN reading each lane's queues
    queues = lane_queues(pipeline)
    # THEN every table has a work queue of its own with its own dead-letter queue
    assert sorted(queues) == tables
    assert len({q for pair in queues.values() for q in pair}) == 2 * len(tables)
    resources = pipeline.resources("AWS::SQS::Queue")
    timeout = pipeline.config.settings["loader_timeout_seconds"]
    for work, dead in queues.values():
        props = resources[work]["Properties"]
        assert props["RedrivePolicy"] == {
            "deadLetterTargetArn": {"Fn::GetAtt": [dead, "Arn"]},
            "maxReceiveCount": defaults.WORK_QUEUE_MAX_RECEIVES,
        }
        assert props["VisibilityTimeout"] > timeout
        assert props["SqsManagedSseEnabled"] is True


def test_s3_notifies_each_table_queue_for_its_staging_folder_only(pipeline: Synthesized) -> None:
    # GIVEN each table's queue
    queues = lane_queues(pipeline)
    staging = pipeline.config.settings["staging_prefix"]
    # WHEN reading the bucket's notifications
    _, notifications = pipeline.only("Custom::S3BucketNotifications")
    configs = notifications["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
    # THEN one per configured table: objects created under that table's folder, to its queue
    by_queue = {c["QueueArn"]["Fn::GetAtt"][0]: c for c in configs}
    assert len(configs) == len(queues) == len(by_queue)
    for table, (work, _) in queues.items():
        config = by_queue[work]
        assert config["Events"] == ["s3:ObjectCreated:*"]
        assert config["Filter"]["Key"]["FilterRules"] == [
            {"Name": "prefix", "Value": layout.table_prefix(staging, table)}
        ]
    # AND no filter contains another (S3 refuses overlapping filters for one event type)
    prefixes = [c["Filter"]["Key"]["FilterRules"][0]["Value"] for c in configs]
    assert not [(a, b) for a in prefixes for b in prefixes if a != b and b.startswith(a)]


def test_each_lane_has_a_schedule_that_invokes_the_loader_for_that_lane(
    pipeline: Synthesized,
) -> None:
    # GIVEN the lanes: the configured tables and the default lane
    queues = lane_queues(pipeline)
    loader_id = pipeline.logical_id(pipeline.stack.loader.function)
    # WHEN reading what each schedule sends
    inputs = schedule_inputs(pipeline)
    # THEN one schedule per lane, naming its lane and its own work queue
    assert sorted(inputs) == sorted([*pipeline.config.tables, lanes.DEFAULT_LANE])
    for table, (work, _) in queues.items():
        assert inputs[table][lanes.EVENT_WORK_QUEUE_URL] == f"<{work}>"
        assert inputs[table]["scheduled_time"] == "<aws.scheduler.scheduled-time>"
        assert inputs[table]["execution_id"] == "<aws.scheduler.execution-id>"
    # AND the default lane (tables missing from the config) has no queue: it sweeps
    assert lanes.EVENT_WORK_QUEUE_URL not in inputs[lanes.DEFAULT_LANE]
    # AND every schedule invokes the same loader function, asynchronously, in parallel
    targets = {
        s["Properties"]["Target"]["Arn"]["Fn::GetAtt"][0]
        for s in pipeline.resources("AWS::Scheduler::Schedule").values()
    }
    assert targets == {loader_id}
    loader = pipeline.resources("AWS::Lambda::Function")[loader_id]["Properties"]
    assert "ReservedConcurrentExecutions" not in loader


def test_the_loader_consumes_every_lane_queue_and_nothing_else(pipeline: Synthesized) -> None:
    loader_id = pipeline.logical_id(pipeline.stack.loader.function)
    statements = role_statements(pipeline.template, function_role(pipeline.template, loader_id))
    receive = [resource for action, resource in actions_of(statements, "sqs:ReceiveMessage")]
    arns = {joined(r) for resource in receive for r in resource_list(resource)}
    assert arns == {f"<{work}.Arn>" for work, _ in lane_queues(pipeline).values()}


def resource_list(resource: object) -> list:
    return resource if isinstance(resource, list) else [resource]


def test_outputs_describe_every_lane_for_the_operator_tools(pipeline: Synthesized) -> None:
    outputs = pipeline.template.to_json()["Outputs"]
    queues = lane_queues(pipeline)
    found = {}
    for name, output in outputs.items():
        if name.startswith(lanes.OUTPUT_LANE_PREFIX):
            lane = json.loads(joined(output["Value"]))
            assert name == lanes.output_name(lane["lane"])
            found[lane["lane"]] = lane
    assert sorted(found) == sorted([*pipeline.config.tables, lanes.DEFAULT_LANE])
    for table, (work, dead) in queues.items():
        assert found[table]["work_queue_url"] == f"<{work}>"
        assert found[table]["dead_letter_queue_url"] == f"<{dead}>"
    assert found[lanes.DEFAULT_LANE].get("work_queue_url") is None
    assert all(lane["schedule"] for lane in found.values())


def test_lane_resource_names_are_stable_and_distinct() -> None:
    # Queues keep their logical ids when tables join or leave: a lane's id is its own.
    names = ["orders", "Orders", "ev-log.v2", "ev_log.v2", "a" * 255, lanes.DEFAULT_LANE]
    ids = [lanes.resource_id(n) for n in names]
    assert len(set(ids)) == len(ids)
    assert all(i.isalnum() and len(i) <= 48 for i in ids)
    assert lanes.resource_id("orders") == lanes.resource_id("orders")
