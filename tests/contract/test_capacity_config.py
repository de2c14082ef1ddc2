"""Kinesis capacity in the config: on-demand by default, provisioned only with a bounded shard count."""

from __future__ import annotations

import pytest

from contract import config
from contract.config import ConfigError, from_json, parse_config


def problems_of(raw: dict) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(raw)
    return caught.value.problems


def test_default_is_on_demand_without_shards():
    settings = parse_config({}).settings
    assert settings["kinesis_stream_mode"] == "on-demand"
    assert settings["kinesis_shards"] is None


def test_provisioned_with_shards_survives_the_trip_to_the_loader():
    # GIVEN a provisioned stream with 12 shards
    cfg = parse_config({"kinesis_stream_mode": "provisioned", "kinesis_shards": 12})
    # WHEN the stacks hand the validated JSON to the runtime (DDBLOAD_CONFIG)
    again = from_json(cfg.to_json())
    # THEN both sides read the same capacity
    assert again.settings["kinesis_stream_mode"] == "provisioned"
    assert again.settings["kinesis_shards"] == 12


def test_on_demand_written_out_with_null_shards_parses_again():
    cfg = parse_config({"kinesis_stream_mode": "on-demand"})
    assert from_json(cfg.to_json()).settings == cfg.settings


@pytest.mark.parametrize(
    ("raw", "sentence"),
    [
        ({"kinesis_stream_mode": "ON_DEMAND"}, "kinesis_stream_mode must be on-demand or provisioned, got 'ON_DEMAND'."),
        ({"kinesis_stream_mode": None}, "kinesis_stream_mode must be on-demand or provisioned, got None."),
        ({"kinesis_stream_mode": "provisioned"}, "kinesis_shards is required with kinesis_stream_mode provisioned"),
        ({"kinesis_shards": 4}, "kinesis_shards applies only to kinesis_stream_mode provisioned"),
        ({"kinesis_stream_mode": "provisioned", "kinesis_shards": 0}, "kinesis_shards is 0; it must be a whole number from 1 to 500"),
        ({"kinesis_stream_mode": "provisioned", "kinesis_shards": 501}, "kinesis_shards is 501;"),
        ({"kinesis_stream_mode": "provisioned", "kinesis_shards": "4"}, "kinesis_shards is '4';"),
        ({"kinesis_stream_mode": "provisioned", "kinesis_shards": 4.0}, "kinesis_shards is 4.0;"),
        ({"kinesis_stream_mode": "provisioned", "kinesis_shards": True}, "kinesis_shards is True;"),
    ],
)  # fmt: skip
def test_bad_capacity_is_one_sentence_naming_the_setting(raw, sentence):
    problems = problems_of(raw)
    assert len(problems) == 1, problems
    assert problems[0].startswith(sentence), problems
    assert problems[0].endswith(".")


def test_the_bounds_are_the_ones_stated():
    # The smallest and largest accepted counts, one past each refused.
    for shards in (1, config.KINESIS_SHARDS_MAX):
        cfg = parse_config({"kinesis_stream_mode": "provisioned", "kinesis_shards": shards})
        assert cfg.settings["kinesis_shards"] == shards
    for shards in (0, config.KINESIS_SHARDS_MAX + 1):
        assert problems_of({"kinesis_stream_mode": "provisioned", "kinesis_shards": shards})


def test_capacity_problems_come_with_the_others_at_once():
    problems = problems_of(
        {"kinesis_stream_mode": "provisioned", "schedule_minutes": 0, "colour": "red"}
    )
    assert any(p.startswith("kinesis_shards is required") for p in problems)
    assert any(p.startswith("schedule_minutes") for p in problems)
    assert "unknown setting 'colour'." in problems
