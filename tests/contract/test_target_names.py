"""Default target names: distinct sources never meet, the loader's namespace is out of reach."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contract.config import IDENTIFIER, ConfigError, is_reserved_target, parse_config, target_name

# DynamoDB table names: 3-255 of [a-zA-Z0-9_.-]; weighted towards the characters that collide.
NAMES = st.text(alphabet=st.sampled_from("ab_.-AB09"), min_size=3, max_size=80) | st.text(
    alphabet=st.sampled_from("abcXYZ0189_.-"), min_size=60, max_size=255
)


@pytest.mark.parametrize(
    ("source", "expected"),
    [("orders", "orders"), ("Orders_2024", "Orders_2024"), ("_private", "_private")],
)
def test_a_name_that_is_already_a_valid_identifier_is_kept(source, expected):
    assert target_name(source) == expected


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("ev-log.v2", "ev_log.v2"),
        ("a-b", "a.b"),
        ("x" * 64 + "1", "x" * 64 + "2"),
        ("x" * 64, "x" * 64 + "y"),
        ("_ddbload_tomb_orders", "t_ddbload_tomb_orders"),
        ("1abc", "_1abc"),
    ],
)
def test_names_the_old_rule_merged_get_distinct_targets(a, b):
    assert target_name(a) != target_name(b)


@given(NAMES)
def test_every_default_target_is_a_valid_name_outside_the_loaders_namespace(source):
    name = target_name(source)
    assert IDENTIFIER.fullmatch(name)
    assert not is_reserved_target(name)
    assert target_name(source) == name  # stable


@given(NAMES, NAMES)
def test_any_two_tables_are_kept_apart_or_refused(a, b):
    # GIVEN two distinct DynamoDB table names, both configured without a 'target'
    if a == b:
        return
    assert target_name(a) != target_name(b)
    raw = {"tables": {a: {"partition_key": {"name": "pk"}}, b: {"partition_key": {"name": "pk"}}}}
    # WHEN the config is parsed
    try:
        config = parse_config(raw)
    except ConfigError as err:
        # THEN either it is refused with one sentence naming both tables ...
        [problem] = err.problems
        assert repr(a) in problem and repr(b) in problem
        assert target_name(a).lower() == target_name(b).lower()
    else:
        # ... or their targets differ, also ignoring case
        assert config.tables[a].target.lower() != config.tables[b].target.lower()


def test_configured_targets_that_collide_are_refused_naming_both_tables():
    with pytest.raises(ConfigError) as err:
        parse_config(
            {
                "tables": {
                    "one": {"partition_key": {"name": "pk"}, "target": "Shared"},
                    "two": {"partition_key": {"name": "pk"}, "target": "shared"},
                    "three": {"partition_key": {"name": "pk"}, "target": "other"},
                }
            }
        )
    [problem] = err.value.problems
    assert "'one'" in problem and "'two'" in problem and "'three'" not in problem
    assert problem.endswith("give one of them a different 'target'.")


def test_target_of_names_the_declared_target_else_the_default():
    config = parse_config({"tables": {"orders": {"partition_key": {"name": "pk"}, "target": "o"}}})
    assert config.target_of("orders") == "o"
    assert config.target_of("ev-log.v2") == target_name("ev-log.v2")
