"""Every pipeline setting has bounds: outside them synth stops with one sentence, inside
them (at both ends) the stack synthesizes without a CDK traceback."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from contract.config import ConfigError, parse_config
from stacks import defaults
from tests.stacks.conftest import CDK_JSON, Synthesized, cdk_context, synthesize

# (setting, lowest allowed, highest allowed)
BOUNDS = [
    ("schedule_minutes", 1, 1440),
    ("firehose_buffer_seconds", 60, 900),
    ("firehose_buffer_mb", 64, 128),
    ("processor_buffer_seconds", 60, 900),
    ("processor_buffer_mb", 1, 3),
    ("staging_expiry_days", 1, 3650),
    ("stream_retention_hours", 24, 8760),
    ("loader_timeout_seconds", 60, 900),
    ("loader_reserved_concurrency", 1, 1000),
]
# tombstone_retention_hours must also cover the other two; give it room at both ends.
ROOMY = {"tombstone_retention_hours": 24 * 365 * 20}


def problems_of(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(raw)
    return caught.value.problems


@pytest.mark.parametrize(("name", "low", "high"), BOUNDS)
def test_values_just_outside_the_bounds_get_one_sentence(name: str, low: int, high: int) -> None:
    for value in (low - 1, high + 1):
        problems = problems_of({name: value, **ROOMY})
        assert len(problems) == 1, problems
        assert problems[0].startswith(name) and problems[0].endswith("."), problems[0]
        assert "\n" not in problems[0]


@pytest.mark.parametrize(("name", "low", "high"), BOUNDS)
def test_the_bounds_themselves_are_accepted(name: str, low: int, high: int) -> None:
    for value in (low, high):
        assert parse_config({name: value, **ROOMY}).settings[name] == value


@pytest.mark.parametrize("value", ["2", 1.5, True, [], {}])
def test_settings_are_whole_numbers(value: object) -> None:
    for name, _, _ in BOUNDS:
        problems = problems_of({name: value})
        assert problems == [
            f"{name} must be a positive whole number"
            + (" or null" if name == "loader_reserved_concurrency" else "")
            + f", got {value!r}."
        ]


def test_tombstones_must_outlive_the_stream_and_the_staging_files() -> None:
    raw = {"stream_retention_hours": 48, "staging_expiry_days": 2, "tombstone_retention_hours": 95}
    assert len(problems_of(raw)) == 1
    assert parse_config({**raw, "tombstone_retention_hours": 96})
    assert len(problems_of({"tombstone_retention_hours": 24 * 365 * 20 + 1})) == 1


@pytest.mark.parametrize(
    "prefixes",
    [
        {"staging_prefix": "data", "error_prefix": "data/errors"},
        {"quarantine_prefix": "staging/q"},
    ],
)
def test_prefixes_may_not_nest(prefixes: dict[str, str]) -> None:
    problems = problems_of(prefixes)
    assert len(problems) == 1 and "must not contain one another" in problems[0], problems


def test_prefix_length_is_bounded() -> None:
    assert len(problems_of({"staging_prefix": "a" * 101})) == 1
    assert parse_config({"staging_prefix": "a" * 100})


def test_reserved_concurrency_is_off_by_default() -> None:
    assert parse_config({}).settings["loader_reserved_concurrency"] is None


def extreme(which: int) -> dict[str, Any]:
    """cdk.json's pipeline with every bounded setting at its low (0) or high (1) end."""
    raw = copy.deepcopy(CDK_JSON["context"]["ddbload"])
    raw.update({name: bound[which] for name, *bound in BOUNDS})
    raw["tombstone_retention_hours"] = (
        raw["stream_retention_hours"] + 24 * raw["staging_expiry_days"]
        if which == 0
        else 24 * 365 * 20
    )
    return raw


@pytest.fixture(scope="module", params=[0, 1], ids=["lowest", "highest"])
def extreme_pipeline(request: pytest.FixtureRequest, tmp_path_factory) -> Synthesized:
    # Before the fix, schedule_minutes above 360 and firehose_buffer_seconds below 60
    # crashed here with a CDK traceback.
    raw = extreme(request.param)
    return synthesize(cdk_context(raw), Path(tmp_path_factory.mktemp("cdk-extreme")))


def test_every_setting_at_its_bounds_synthesizes(extreme_pipeline: Synthesized) -> None:
    settings = extreme_pipeline.config.settings
    for schedule in extreme_pipeline.resources("AWS::Scheduler::Schedule").values():
        age = schedule["Properties"]["Target"]["RetryPolicy"]["MaximumEventAgeInSeconds"]
        assert 60 <= age <= defaults.SCHEDULER_MAX_EVENT_AGE_SECONDS
    _, invoke_config = extreme_pipeline.only("AWS::Lambda::EventInvokeConfig")
    lambda_age = invoke_config["Properties"]["MaximumEventAgeInSeconds"]
    assert 60 <= lambda_age <= defaults.LAMBDA_MAX_EVENT_AGE_SECONDS
    loader_id = extreme_pipeline.logical_id(extreme_pipeline.stack.loader.function)
    loader = extreme_pipeline.resources("AWS::Lambda::Function")[loader_id]["Properties"]
    assert loader["ReservedConcurrentExecutions"] == settings["loader_reserved_concurrency"]
    _, stream = extreme_pipeline.only("AWS::KinesisFirehose::DeliveryStream")
    hints = stream["Properties"]["ExtendedS3DestinationConfiguration"]["BufferingHints"]
    assert hints == {
        "IntervalInSeconds": settings["firehose_buffer_seconds"],
        "SizeInMBs": settings["firehose_buffer_mb"],
    }
