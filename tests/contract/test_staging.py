"""contract.staging: the staging line, its version and its key identity."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from contract import staging, values
from contract.staging import BadLine, StagingLine
from tests import strategies as ddb


@st.composite
def staging_lines(draw: st.DrawFn) -> StagingLine:
    keys, item = draw(ddb.keyed_items())
    op = draw(st.sampled_from(staging.OPERATIONS))
    key, key_types = staging.key_text(keys)
    plain, types = values.to_plain(item)
    return StagingLine(
        table=draw(st.from_regex(r"[A-Za-z0-9_.\-]{3,20}", fullmatch=True)),
        op=op,
        key=key,
        key_types=key_types,
        item=None if op == "REMOVE" else plain.decode(),
        item_types=None if op == "REMOVE" or not types else orjson.dumps(types).decode(),
        version_us=draw(st.integers(1, 2**62)),
        seq=str(draw(st.integers(0, 10**60))),
        ttl_delete=draw(st.booleans()),
        event_id=draw(ddb.nasty_text(1, 40)),
        arrival_ms=draw(st.integers(1, 2**50)),
    )


@given(staging_lines())
def test_line_round_trips(line):
    # GIVEN any staging line WHEN encoded and decoded THEN it is the same line, one line long
    raw = staging.encode_line(line)
    assert raw.endswith(b"\n") and raw.count(b"\n") == 1
    assert staging.decode_line(raw) == line


@given(ddb.keyed_items())
def test_line_rebuilds_the_dynamodb_item_and_key(keyed):
    # GIVEN an item with its key
    keys, item = keyed
    key, key_types = staging.key_text(keys)
    plain, types = values.to_plain(item)
    line = StagingLine(
        "t_1", "INSERT", key, key_types, plain.decode(),
        orjson.dumps(types).decode() if types else None, 1, "1", False, "e", 1,
    )  # fmt: skip
    # WHEN the line is read back
    back = staging.decode_line(staging.encode_line(line))
    # THEN the item is the DynamoDB item and the key has the same values
    assert ddb.comparable(back.typed_item()) == ddb.comparable(item)
    typed_key = back.typed_key()
    assert set(typed_key) == set(keys)
    for name, av in keys.items():
        ((letter, value),) = av.items()
        assert list(typed_key[name]) == [letter]
        if letter == "N":
            assert values.canonical_number(typed_key[name]["N"]) == values.canonical_number(value)
        else:
            assert typed_key[name][letter] == value


def test_remove_line_has_no_item():
    line = StagingLine("t_1", "REMOVE", '{"pk":"a"}', "S", None, None, 1, "1", True, "e", 1)
    assert staging.decode_line(staging.encode_line(line)).typed_item() is None


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"v": 2}, "unsupported contract version"),
        ({"op": "UPSERT"}, "unknown op"),
        ({"item": None}, "item must be null exactly when op is REMOVE"),
        ({"version_us": "1"}, "version_us must be int"),
        ({"ttl_delete": 0}, "ttl_delete must be bool"),
        ({"seq": 5}, "seq must be str"),
    ],
)
def test_bad_lines_are_refused_with_reason(change, reason):
    # GIVEN a valid line with one field broken WHEN decoded THEN BadLine names the problem
    good = StagingLine(
        "t_1", "INSERT", '{"pk":"a"}', "S", '{"pk":"a"}', None, 1, "1", False, "e", 1
    )
    obj = orjson.loads(staging.encode_line(good))
    obj.update(change)
    with pytest.raises(BadLine, match=reason):
        staging.decode_line(orjson.dumps(obj))


def test_missing_fields_and_non_json_are_refused():
    with pytest.raises(BadLine, match="missing fields: .*arrival_ms"):
        staging.decode_line(b'{"v":1,"table":"t"}')
    with pytest.raises(BadLine, match="not JSON"):
        staging.decode_line(b"{nope")
    with pytest.raises(BadLine, match="must be a JSON object"):
        staging.decode_line(b"[1]")


@given(st.integers(10**12, 10**13 - 1))
def test_millisecond_creation_times_are_scaled(ms):
    # GIVEN a 13-digit millisecond timestamp WHEN versioned THEN it is in microseconds
    assert staging.version_us(ms) == ms * 1000
    assert staging.version_us(ms, "MILLISECOND") == ms * 1000


@given(st.integers(10**15, 10**16 - 1))
def test_microsecond_creation_times_are_kept(us):
    # GIVEN a 16-digit microsecond timestamp, with or without the precision field
    assert staging.version_us(us, "MICROSECOND") == us
    assert staging.version_us(us) == us


def test_precision_field_decides_for_small_values():
    # GIVEN the MICROSECOND precision field THEN the value is taken as microseconds as is
    assert staging.version_us(1_700_000_000_000, "MICROSECOND") == 1_700_000_000_000
    assert staging.version_us(1_700_000_000_000.0) == 1_700_000_000_000_000


@pytest.mark.parametrize("bad", [0, -5, "1700000000000", None, True, 1.5])
def test_bad_creation_times_are_refused(bad):
    with pytest.raises(BadLine, match="ApproximateCreationDateTime"):
        staging.version_us(bad)


@given(
    st.lists(
        st.tuples(st.integers(1, 10**16), st.integers(0, 10**57).map(str)), min_size=2, max_size=8
    )
)
def test_version_key_orders_by_time_then_sequence_number_as_numbers(versions):
    # GIVEN versions (time, sequence number as decimal text without leading zeros)
    # WHEN sorted by version_key THEN the order is numeric on (time, sequence number)
    by_key = sorted(versions, key=lambda v: staging.version_key(*v))
    by_number = sorted(versions, key=lambda v: (v[0], int(v[1])))
    assert by_key == by_number


def test_sequence_number_breaks_ties_only():
    older = staging.version_key(2, "99999999999999999999")
    newer = staging.version_key(2, "100000000000000000000")
    assert newer > older
    assert staging.version_key(3, "1") > newer


@pytest.mark.parametrize(
    ("a", "b"),
    [("1.50", "1.5E0"), ("100", "1E+2"), ("0.0", "0"), ("-0.010", "-1e-2"), ("1.5", "15E-1")],
)
def test_key_text_is_the_same_for_equal_numbers(a, b):
    # GIVEN the same numeric key spelt two ways WHEN keyed THEN the key texts are equal
    assert staging.key_text({"pk": {"N": a}}) == staging.key_text({"pk": {"N": b}})


@given(ddb.keyed_items())
def test_key_text_sorts_names_and_is_deterministic(keyed):
    # GIVEN keys in any insertion order WHEN keyed THEN names are sorted and letters follow them
    keys, _ = keyed
    text, letters = staging.key_text(dict(reversed(list(keys.items()))))
    assert (text, letters) == staging.key_text(keys)
    assert list(values.loads_exact(text)) == sorted(keys)
    assert letters == "".join(next(iter(keys[n])) for n in sorted(keys))


def test_key_text_distinguishes_38_digit_numbers():
    # GIVEN two 38-digit keys that differ only in the last digit THEN their key texts differ
    a = staging.key_text({"pk": {"N": "12345678901234567890123456789012345678"}})
    b = staging.key_text({"pk": {"N": "12345678901234567890123456789012345679"}})
    assert a != b


@pytest.mark.parametrize(
    "keys", [{}, None, {"pk": {"BOOL": True}}, {"pk": {"SS": ["a"]}}, {"pk": {"S": 5}}]
)
def test_bad_keys_are_refused(keys):
    with pytest.raises(values.BadValue):
        staging.key_text(keys)
