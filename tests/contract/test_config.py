"""contract.config: every problem reported at once, one sentence each; safe SQL types."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contract import config
from contract.config import ConfigError, parse_config

ROOT = Path(__file__).resolve().parents[2]


def problems_of(raw) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(raw)
    assert str(caught.value).startswith("invalid ddbload configuration: ")
    return caught.value.problems


def one_table(**spec) -> dict:
    return {"tables": {"orders": {"partition_key": {"name": "pk"}, **spec}}}


def test_the_repository_cdk_json_is_valid():
    cfg = config.load_cdk_json(str(ROOT / "cdk.json"))
    assert "orders" in cfg.tables
    assert cfg.tables["orders"].keys[0].name == "pk"


def test_empty_config_takes_the_defaults():
    cfg = parse_config({})
    assert cfg.tables == {}
    assert cfg.settings == config.DEFAULTS
    assert cfg.database == config.DatabaseConfig()


@pytest.mark.parametrize(
    ("raw", "sentence"),
    [
        ([], "the ddbload configuration must be a JSON object."),
        ({"colour": 1}, "unknown setting 'colour'."),
        ({"tables": []}, "tables must be an object"),
        ({"tables": {"x": {"partition_key": {"name": "pk"}}}}, "not a valid DynamoDB table name"),
        ({"tables": {"orders": 5}}, "table 'orders' must be an object."),
        ({"tables": {"orders": {}}}, "table 'orders' needs a partition_key."),
        (one_table(colour=1), "table 'orders': unknown setting 'colour'"),
        (one_table(partition_key={"name": ""}), "partition_key must be an object with a non-empty"),
        (one_table(partition_key={"name": "pk", "type": "BOOL"}), "key types are S, N or B"),
        (one_table(partition_key={"name": "a-b"}), "maps to column 'a-b', which is not a valid"),
        (one_table(partition_key={"name": "pk", "column": "_ddbload_pk"}), "reserved prefix"),
        (one_table(sort_key={"name": "sk", "type": "X"}), "sort_key 'sk' has type 'X'"),
        (one_table(target="bad name"), "target 'bad name' is not a valid MariaDB table name"),
        (one_table(columns=[]), "columns must be an object"),
        (one_table(columns={"1x": {"type": "INT"}}), "column '1x': not a valid column name"),
        (one_table(columns={"_ddbload_x": {"type": "INT"}}), "is reserved for the loader"),
        (one_table(columns={"c": "INT"}), "column 'c' must be an object with 'path' and 'type'"),
        (one_table(columns={"c": {"path": 'a."b', "type": "INT"}}), "path must be a non-empty"),
        (one_table(columns={"c": {"path": "a..b", "type": "INT"}}), "path must be a non-empty"),
        (one_table(columns={"c": {"type": "INT; DROP TABLE x"}}), "is not supported"),
        (one_table(overflow_column="x y"), "overflow_column 'x y' is not a valid column name"),
        (one_table(columns={"PK": {"type": "INT"}}), "column names used twice: pk"),
        (one_table(delete_mode="hard"), "delete_mode 'hard' must be one of delete, soft"),
        (one_table(ttl_policy="ignore"), "ttl_policy 'ignore' must be one of delete, keep"),
        (one_table(existing="yes"), "existing must be true or false"),
        ({"database": 5}, "database must be an object."),
        ({"database": {"name": "my-db"}}, "database name 'my-db' is not a valid"),
        (
            {"database": {"existing": {"endpoint": "h", "vpc_id": "v", "security_group_id": "g"}}},
            "database.existing needs 'secret_arn'",
        ),
        ({"database": {"engine_version": "5.5"}}, "engine_version '5.5' must be 10.11 or 11.4"),
        ({"database": {"deletion_protection": "no"}}, "deletion_protection must be true or false"),
        ({"schedule_minutes": 0}, "schedule_minutes must be a positive whole number, got 0."),
        ({"schedule_minutes": True}, "schedule_minutes must be a positive whole number"),
        ({"schedule_minutes": 2000}, "schedule_minutes is 2000; it must be between 1 and 1440."),
        ({"firehose_buffer_mb": 5}, "firehose_buffer_mb is 5; it must be between 64 and 128."),
        ({"staging_prefix": "a/../b"}, "staging_prefix must be an S3 prefix"),
        (
            {"staging_prefix": "x", "error_prefix": "x"},
            "staging_prefix, error_prefix and quarantine_prefix must differ.",
        ),
    ],
)
def test_each_problem_gets_its_sentence(raw, sentence):
    # GIVEN a configuration with one problem WHEN parsed THEN exactly that sentence is reported
    problems = problems_of(raw)
    assert len(problems) == 1, problems
    assert sentence in problems[0]
    assert problems[0].endswith(".")


def test_two_tables_into_one_target_are_refused():
    raw = {
        "tables": {
            "orders": {"partition_key": {"name": "pk"}, "target": "t"},
            "Orders2": {"partition_key": {"name": "pk"}, "target": "T"},
        }
    }
    assert problems_of(raw) == [
        "tables 'Orders2' and 'orders' would both load into MariaDB table 'T' / 't'; "
        "give one of them a different 'target'."
    ]


def test_all_problems_are_reported_at_once():
    # GIVEN a configuration with several independent problems
    raw = {
        "tables": {
            "orders": {
                "partition_key": {"name": "pk", "type": "Q"},
                "columns": {"c": {"path": "c", "type": "VARCHAR(10)) ; --"}},
                "delete_mode": "hard",
            },
            "x": {"partition_key": {"name": "id"}},
        },
        "database": {"engine_version": "1"},
        "schedule_minutes": -1,
        "surprise": True,
    }
    # WHEN parsed THEN each one is named, in one error
    problems = problems_of(raw)
    for part in ("'surprise'", "type 'Q'", "is not supported", "delete_mode", "table 'x'",
                 "engine_version", "schedule_minutes"):  # fmt: skip
        assert sum(part in p for p in problems) == 1, (part, problems)
    assert len(problems) == 7


@pytest.mark.parametrize(
    "sql_type",
    [
        "INT; DROP TABLE users",
        "VARCHAR(10)) ENGINE=x",
        "TEXT CHARACTER SET latin1",
        "INT -- comment",
        "DECIMAL(10,2)/*x*/",
        "JSON DEFAULT (SLEEP(5))",
        "VARCHAR(10) COLLATE utf8mb4_bin",
        "ENUM('a','b')",
        "",
        5,
        None,
    ],
)
def test_sql_type_whitelist_refuses_anything_else(sql_type):
    problems = problems_of(one_table(columns={"c": {"path": "c", "type": sql_type}}))
    assert (
        problems == [p for p in problems if "column 'c': type" in p and "is not supported" in p]
        and len(problems) == 1
    )


@pytest.mark.parametrize(
    "sql_type",
    ["int", "BIGINT UNSIGNED", "DECIMAL(38,4)", "decimal( 10 )", "VARCHAR(255)", "LONGTEXT",
     "VARBINARY(16)", "BLOB", "DATE", "DATETIME(6)", "TIMESTAMP", "JSON", "BOOLEAN", "DOUBLE"],
)  # fmt: skip
def test_sql_type_whitelist_accepts_plain_types(sql_type):
    cfg = parse_config(one_table(columns={"c": {"path": "c", "type": sql_type}}))
    assert cfg.tables["orders"].columns[0].sql_type == sql_type.strip().upper()


def test_tombstones_must_outlive_stream_and_staging():
    # GIVEN tombstones kept for less than stream retention plus staging lifetime
    raw = {"stream_retention_hours": 24, "staging_expiry_days": 7, "tombstone_retention_hours": 191}
    # THEN the config is refused and says why; exactly enough is accepted
    (problem,) = problems_of(raw)
    assert "tombstone_retention_hours is 191" in problem and "(192 hours)" in problem
    assert "resurrect a deleted row" in problem
    raw["tombstone_retention_hours"] = 192
    assert parse_config(raw).settings["tombstone_retention_hours"] == 192


def test_unconfigured_table_gets_a_lossless_default():
    cfg = parse_config({})
    mapping = cfg.mapping_for("my-table.v2", {"pk": "S", "sk": "N"})
    # the readable form had to change, so a hash of the exact name keeps it distinct
    assert re.fullmatch(r"my_table_v2_[0-9a-f]{8}", mapping.target)
    assert [(k.name, k.type, k.column) for k in mapping.keys] == [
        ("pk", "S", "pk"),
        ("sk", "N", "sk"),
    ]
    assert mapping.overflow_column == "item" and mapping.columns == ()
    with pytest.raises(ConfigError, match="not configured and its key is unknown"):
        cfg.mapping_for("other")
    with pytest.raises(ConfigError, match="declare the table"):
        cfg.mapping_for("other", {"a-b": "S"})


def test_from_json_reports_bad_json_as_a_sentence():
    with pytest.raises(ConfigError, match="DDBLOAD_CONFIG is not valid JSON"):
        config.from_json("{")


names = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True)
sql_types = st.sampled_from(["INT", "BIGINT", "DECIMAL(38,4)", "VARCHAR(64)", "TEXT", "JSON"])


@st.composite
def raw_tables(draw: st.DrawFn) -> dict:
    key_names = draw(st.lists(names, min_size=1, max_size=2, unique=True))
    columns = draw(st.dictionaries(names.map(lambda n: "c_" + n), sql_types, max_size=3))
    spec = {
        "partition_key": {"name": key_names[0], "type": draw(st.sampled_from("SNB"))},
        "columns": {
            c: {"path": draw(st.lists(names, min_size=1, max_size=3)), "type": t}
            for c, t in columns.items()
        },
        "overflow_column": draw(st.sampled_from(["item", "rest", None])),
        "delete_mode": draw(st.sampled_from(config.DELETE_MODES)),
        "ttl_policy": draw(st.sampled_from(config.TTL_POLICIES)),
        "existing": draw(st.booleans()),
    }
    if len(key_names) > 1:
        spec["sort_key"] = {"name": key_names[1], "type": draw(st.sampled_from("SNB"))}
    return spec


@given(
    st.dictionaries(
        st.from_regex(r"[a-z][a-z0-9_.\-]{2,12}", fullmatch=True), raw_tables(), max_size=3
    ),
    st.integers(1, 1440),
    st.booleans(),
)
def test_config_round_trips_through_its_json(tables, schedule, existing_db):
    # GIVEN any valid configuration
    raw = {"tables": tables, "schedule_minutes": schedule}
    if existing_db:
        raw["database"] = {
            "existing": {"endpoint": "db.local", "port": 3306, "secret_arn": "arn:s",
                         "vpc_id": "vpc-1", "security_group_id": "sg-1"},
        }  # fmt: skip
    try:
        cfg = parse_config(raw)
    except ConfigError as e:
        # generated targets or column names may collide; that is a refusal, not a round trip
        assert all("used twice" in p or "would both load into" in p for p in e.problems)
        return
    # WHEN written with to_json (what the stacks hand the loader) and parsed again
    again = parse_config(json.loads(cfg.to_json()))
    # THEN it is the same configuration
    assert again == cfg
