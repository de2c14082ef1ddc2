"""Stack outputs the CLI reads, and the staging bucket's protection and lifecycle."""

from __future__ import annotations

import json

from contract import names
from stacks import defaults
from tests.stacks.conftest import Synthesized

OUTPUT_NAMES = sorted(getattr(names, n) for n in dir(names) if n.startswith("OUTPUT_"))


def test_every_cli_output_is_published(default_pipeline: Synthesized) -> None:
    outputs = default_pipeline.template.to_json()["Outputs"]
    assert set(OUTPUT_NAMES) <= set(outputs)
    config = json.loads(outputs[names.OUTPUT_CONFIG]["Value"])
    assert config == json.loads(default_pipeline.config.to_json())
    assert (
        outputs[names.OUTPUT_STAGING_PREFIX]["Value"]
        == (default_pipeline.config.settings["staging_prefix"])
    )


def staging_bucket(pipeline: Synthesized) -> dict:
    bucket_id = pipeline.logical_id(pipeline.stack.staging.bucket)
    return pipeline.resources("AWS::S3::Bucket")[bucket_id]["Properties"]


def test_staging_bucket_is_encrypted_private_and_logged(default_pipeline: Synthesized) -> None:
    props = staging_bucket(default_pipeline)
    rule = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    logs_id = default_pipeline.logical_id(default_pipeline.stack.staging.access_logs)
    assert props["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": logs_id}
    assert "VersioningConfiguration" not in props


def test_bucket_policy_denies_plain_http(default_pipeline: Synthesized) -> None:
    bucket_id = default_pipeline.logical_id(default_pipeline.stack.staging.bucket)
    policies = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in default_pipeline.resources("AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": bucket_id}
    ]
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in policies[0]
    )


def test_each_prefix_expires_by_lifecycle(default_pipeline: Synthesized) -> None:
    settings = default_pipeline.config.settings
    rules = {
        r.get("Prefix"): r.get("ExpirationInDays")
        for r in staging_bucket(default_pipeline)["LifecycleConfiguration"]["Rules"]
    }
    assert rules[f"{settings['staging_prefix']}/"] == settings["staging_expiry_days"]
    assert rules[f"{settings['error_prefix']}/"] == defaults.ERROR_EXPIRY_DAYS
    assert rules[f"{settings['quarantine_prefix']}/"] == defaults.ERROR_EXPIRY_DAYS


def test_queues_are_encrypted_and_ssl_only(default_pipeline: Synthesized) -> None:
    queues = default_pipeline.resources("AWS::SQS::Queue")
    # each lane's work queue and dead-letter queue, and the schedules' dead-letter queue
    assert len(queues) == 2 * len(default_pipeline.config.tables) + 1
    for queue in queues.values():
        assert queue["Properties"]["SqsManagedSseEnabled"] is True
    assert len(default_pipeline.resources("AWS::SQS::QueuePolicy")) >= 3
