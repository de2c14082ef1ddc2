"""The scheduled loader: schedule, dead letters, work queue, concurrency, least privilege."""

from __future__ import annotations

import json

from contract import names as env
from stacks import defaults
from tests.stacks.conftest import EXISTING_SUBNETS, Synthesized
from tests.stacks.template_queries import (
    actions_of,
    function_role,
    joined,
    role_statements,
)


def loader(pipeline: Synthesized) -> tuple[str, dict]:
    logical = pipeline.logical_id(pipeline.stack.loader.function)
    return logical, pipeline.resources("AWS::Lambda::Function")[logical]["Properties"]


def test_schedule_invokes_the_loader_with_retries_and_a_dead_letter_queue(
    default_pipeline: Synthesized,
) -> None:
    # GIVEN schedule_minutes from the config
    minutes = default_pipeline.config.settings["schedule_minutes"]
    loader_id, _ = loader(default_pipeline)
    dlq_id = default_pipeline.logical_id(default_pipeline.stack.loader.schedule_dead_letters)
    # WHEN reading the schedules (one per lane, tests/stacks/test_lanes.py)
    schedules = default_pipeline.resources("AWS::Scheduler::Schedule").values()
    assert schedules
    for schedule in schedules:
        props = schedule["Properties"]
        target = props["Target"]
        # THEN each runs at that rate, targets the loader, retries, and dead-letters
        assert props["ScheduleExpression"] == f"rate({minutes} minutes)"
        assert props["State"] == "ENABLED"
        assert target["Arn"] == {"Fn::GetAtt": [loader_id, "Arn"]}
        assert target["RetryPolicy"]["MaximumRetryAttempts"] == defaults.SCHEDULE_RETRY_ATTEMPTS
        assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [dlq_id, "Arn"]}}
        # No "action": the loader handler takes that as a scheduled run.
        payload = json.loads(joined(target["Input"]))
        assert "action" not in payload
        assert payload["source"] == "ddbload.schedule"


def test_schedule_rate_follows_the_config(existing_pipeline: Synthesized) -> None:
    for schedule in existing_pipeline.resources("AWS::Scheduler::Schedule").values():
        assert schedule["Properties"]["ScheduleExpression"] == "rate(10 minutes)"


def test_loader_runs_unreserved_in_the_vpc_without_layers(default_pipeline: Synthesized) -> None:
    _, props = loader(default_pipeline)
    assert props["Handler"] == defaults.LOADER_HANDLER
    # No reservation by default: accounts with a concurrency quota of 100 or less refuse one.
    assert "ReservedConcurrentExecutions" not in props
    assert props["Timeout"] == default_pipeline.config.settings["loader_timeout_seconds"]
    assert props["VpcConfig"]["SubnetIds"], "the loader must run in the database's VPC"
    # pyarrow and numpy are in the bundle; a layer would bring other versions.
    assert "Layers" not in props


def test_loader_environment_carries_the_validated_config(default_pipeline: Synthesized) -> None:
    _, props = loader(default_pipeline)
    variables = props["Environment"]["Variables"]
    assert json.loads(variables[env.ENV_CONFIG]) == json.loads(default_pipeline.config.to_json())
    settings = default_pipeline.config.settings
    assert variables[env.ENV_STAGING_PREFIX] == settings["staging_prefix"]
    assert variables[env.ENV_ERROR_PREFIX] == settings["error_prefix"]
    assert variables[env.ENV_QUARANTINE_PREFIX] == settings["quarantine_prefix"]
    bucket_id = default_pipeline.logical_id(default_pipeline.stack.staging.bucket)
    assert variables[env.ENV_BUCKET] == {"Ref": bucket_id}
    # A lane's work queue comes with its schedule's event, not from the environment.
    assert env.ENV_WORK_QUEUE_URL not in variables
    assert env.ENV_DB_SECRET in variables


def test_loader_reads_only_staging_and_writes_only_quarantine(
    default_pipeline: Synthesized,
) -> None:
    # GIVEN the loader's role
    loader_id, _ = loader(default_pipeline)
    statements = role_statements(
        default_pipeline.template, function_role(default_pipeline.template, loader_id)
    )
    settings = default_pipeline.config.settings
    bucket_id = default_pipeline.logical_id(default_pipeline.stack.staging.bucket)
    # WHEN listing every S3 action it may take, with its resource
    s3 = sorted((action, joined(resource)) for action, resource in actions_of(statements, "s3:"))
    # THEN: get staging objects, list the bucket (staging prefix only), put quarantine objects
    assert s3 == [
        ("s3:GetObject", f"<{bucket_id}.Arn>/{settings['staging_prefix']}/*"),
        ("s3:ListBucket", f"<{bucket_id}.Arn>"),
        ("s3:PutObject", f"<{bucket_id}.Arn>/{settings['quarantine_prefix']}/*"),
    ]
    listing = next(s for s in statements if s["Action"] == "s3:ListBucket")
    assert listing["Condition"] == {
        "StringLike": {"s3:prefix": [f"{settings['staging_prefix']}/*"]}
    }


def test_loader_consumes_the_queue_and_reads_the_secret(default_pipeline: Synthesized) -> None:
    loader_id, _ = loader(default_pipeline)
    statements = role_statements(
        default_pipeline.template, function_role(default_pipeline.template, loader_id)
    )
    sqs = {a for a, _ in actions_of(statements, "sqs:")}
    assert {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"} <= sqs
    assert "sqs:SendMessage" not in sqs
    secrets = {a for a, _ in actions_of(statements, "secretsmanager:")}
    assert "secretsmanager:GetSecretValue" in secrets
    assert not [a for a, _ in actions_of(statements, "dynamodb:")]


def test_existing_database_places_the_loader_in_the_given_subnets(
    existing_pipeline: Synthesized,
) -> None:
    _, props = loader(existing_pipeline)
    assert props["VpcConfig"]["SubnetIds"] == EXISTING_SUBNETS
