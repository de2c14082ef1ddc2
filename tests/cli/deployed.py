"""A "deployed" ddbload stack in moto: a CloudFormation stack whose outputs name local resources.

The CLI finds a deployed pipeline only through DescribeStacks outputs, so a
stack with those outputs (and one placeholder resource, as CloudFormation
requires) is all it needs to talk to the resources `local_stack` created.
"""

from __future__ import annotations

import json

from contract import lanes, names
from localmode import aws, resources


def outputs_of(stack: resources.LocalResources, **override: str) -> dict[str, str]:
    outputs = {
        names.OUTPUT_BUCKET: stack.bucket,
        names.OUTPUT_STAGING_PREFIX: stack.staging_prefix,
        names.OUTPUT_ERROR_PREFIX: stack.error_prefix,
        names.OUTPUT_QUARANTINE_PREFIX: stack.quarantine_prefix,
        names.OUTPUT_LOADER_FUNCTION: resources.LOADER_FUNCTION,
        names.OUTPUT_DB_SECRET: stack.db_secret_arn,
        names.OUTPUT_CONFIG: stack.config_json,
    }
    for lane in stack.lane_names():
        queues = stack.lanes.get(lane, {})
        outputs[lanes.output_name(lane)] = json.dumps(
            {
                "lane": lane,
                "work_queue_url": queues.get("work_queue_url"),
                "dead_letter_queue_url": queues.get("dead_letter_queue_url"),
                "schedule": f"ddbload-lane-{lanes.resource_id(lane)}",
            }
        )
    outputs.update(override)
    return outputs


def deploy(stack: resources.LocalResources, name: str, outputs: dict[str, str]) -> None:
    template = {
        "Resources": {"Placeholder": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    aws.client("cloudformation", stack.endpoint).create_stack(
        StackName=name, TemplateBody=json.dumps(template)
    )
