"""Kinesis stream mode from cdk.json: provisioned with its shard count, still KMS and cdk-nag clean."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from contract.config import ConfigError
from stacks import deploy_options
from tests.stacks.conftest import CDK_JSON, Synthesized, cdk_context, synthesize


def provisioned_config(shards: int) -> dict:
    raw = copy.deepcopy(CDK_JSON["context"][deploy_options.CONTEXT_CONFIG])
    raw.update(kinesis_stream_mode="provisioned", kinesis_shards=shards)
    return raw


@pytest.fixture(scope="module")
def provisioned(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(
        cdk_context(provisioned_config(7)), Path(tmp_path_factory.mktemp("cdk-provisioned"))
    )


def test_provisioned_stream_has_the_configured_shards(provisioned: Synthesized) -> None:
    # GIVEN cdk.json asking for a provisioned stream of 7 shards
    # THEN the one stream is provisioned with 7 shards and keeps its encryption and retention
    _, stream = provisioned.only("AWS::Kinesis::Stream")
    props = stream["Properties"]
    assert props["StreamModeDetails"] == {"StreamMode": "PROVISIONED"}
    assert props["ShardCount"] == 7
    assert props["StreamEncryption"] == {"EncryptionType": "KMS", "KeyId": "alias/aws/kinesis"}
    assert props["RetentionPeriodHours"] == provisioned.config.settings["stream_retention_hours"]


def test_provisioned_stream_is_cdk_nag_clean(provisioned: Synthesized) -> None:
    assert provisioned.violations == []


def test_on_demand_stream_sets_no_shard_count(default_pipeline: Synthesized) -> None:
    _, stream = default_pipeline.only("AWS::Kinesis::Stream")
    assert stream["Properties"]["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}
    assert "ShardCount" not in stream["Properties"]


def test_provisioned_without_shards_stops_synth_with_a_sentence() -> None:
    raw = provisioned_config(3)
    del raw["kinesis_shards"]
    with pytest.raises(ConfigError) as caught:
        deploy_options.load(cdk_context(raw))
    assert any(p.startswith("kinesis_shards is required") for p in caught.value.problems)
