"""The freshness objective: derived from the buffers, the schedule and the loader timeout
unless set, and a set value checked against what a healthy pipeline may take."""

from __future__ import annotations

import pytest

from contract.config import ConfigError, freshness_floor, freshness_objective, parse_config


def test_the_default_is_derived_from_the_buffers_schedule_and_timeout() -> None:
    # GIVEN the default settings: 60 s processor buffer, 60 s Firehose buffer (x1.5 with
    # dynamic partitioning), a 5-minute schedule and a 600 s loader timeout
    settings = parse_config({}).settings
    # THEN the objective is their sum, and no value is stored for it
    assert settings["freshness_objective_seconds"] is None
    assert freshness_objective(settings) == 60 + 90 + 300 + 600
    # AND it follows each of them
    slower = parse_config(
        {
            "processor_buffer_seconds": 120,
            "firehose_buffer_seconds": 301,
            "schedule_minutes": 10,
            "loader_timeout_seconds": 900,
        }  # fmt: skip
    ).settings
    assert freshness_floor(slower) == 120 + 452 + 600  # 1.5 x 301 rounded up
    assert freshness_objective(slower) == 120 + 452 + 600 + 900


def test_a_set_objective_is_used_within_its_bounds() -> None:
    floor = freshness_floor(parse_config({}).settings)
    for value in (floor, 30 * 86_400):
        settings = parse_config({"freshness_objective_seconds": value}).settings
        assert freshness_objective(settings) == value


@pytest.mark.parametrize(
    ("raw", "start"),
    [
        ({"freshness_objective_seconds": 449}, "freshness_objective_seconds is 449; it must be "
         "between 450 (the Firehose buffers and one schedule period"),
        ({"freshness_objective_seconds": 86_401, "staging_expiry_days": 1},
         "freshness_objective_seconds is 86401; it must be between 450"),
        ({"freshness_objective_seconds": "600"},
         "freshness_objective_seconds must be a positive whole number or null, got '600'."),
    ],
)  # fmt: skip
def test_an_objective_out_of_bounds_is_one_sentence(raw: dict, start: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(raw)
    (problem,) = caught.value.problems
    assert problem.startswith(start) and problem.endswith("."), problem
