"""transforms.normalize: one DynamoDB Kinesis-destination record -> one staging line."""

from __future__ import annotations

import copy
import json

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contract import staging
from tests import strategies as ddb
from transforms.normalize import (
    Rejected,
    decode_json,
    normalize,
    normalize_encoded,
    normalize_json,
)

SEQ = "49660000000000000000000000000000000000000000000000000001"


def change(op: str = "INSERT", **body) -> dict:
    record = {
        "awsRegion": "eu-central-1",
        "eventID": "e1",
        "eventName": op,
        "userIdentity": None,
        "recordFormat": "application/json",
        "tableName": "orders",
        "dynamodb": {
            "ApproximateCreationDateTime": 1764077160123456,
            "ApproximateCreationDateTimePrecision": "MICROSECOND",
            "Keys": {"pk": {"S": "k"}},
            "NewImage": {"pk": {"S": "k"}, "n": {"N": "1.50"}},
            "SizeBytes": 20,
        },
        "eventSource": "aws:dynamodb",
    }
    record["dynamodb"].update(body)
    record["dynamodb"] = {k: v for k, v in record["dynamodb"].items() if v is not None}
    return record


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=60)
@given(ddb.change_records(), st.integers(0, 10**57).map(str), st.integers(0, 2**45))
def test_any_change_becomes_a_line_that_rebuilds_the_item(record, seq, arrival):
    # GIVEN any DynamoDB change record WHEN normalized
    line = normalize(record, sequence_number=seq, arrival_ms=arrival)
    body = record["dynamodb"]
    # THEN the line names the change and its item rebuilds the NewImage exactly
    assert (line.table, line.op, line.event_id) == (
        record["tableName"],
        record["eventName"],
        record["eventID"],
    )
    assert (line.key, line.key_types) == staging.key_text(body["Keys"])
    assert ddb.comparable(line.typed_item()) == ddb.comparable(body.get("NewImage"))
    assert line.version_us == staging.version_us(
        body["ApproximateCreationDateTime"], body.get("ApproximateCreationDateTimePrecision")
    )
    assert (line.seq, line.arrival_ms) == (seq, arrival)
    assert line.ttl_delete == (record["userIdentity"] == ddb.TTL_IDENTITY)
    # AND the line survives its own encoding
    assert staging.decode_line(staging.encode_line(line)) == line


def test_microsecond_and_millisecond_creation_times():
    us = normalize(change(), sequence_number=SEQ, arrival_ms=1)
    ms = normalize(
        change(
            ApproximateCreationDateTime=1764077160123, ApproximateCreationDateTimePrecision=None
        ),
        sequence_number=SEQ,
        arrival_ms=1,
    )
    assert us.version_us == 1764077160123456
    assert ms.version_us == 1764077160123000


def test_ttl_delete_is_flagged_only_for_the_dynamodb_service():
    # GIVEN REMOVEs by the TTL process, by a user, and an odd identity
    ttl = change("REMOVE", NewImage=None)
    ttl["userIdentity"] = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
    user = change("REMOVE", NewImage=None)
    other = copy.deepcopy(ttl)
    other["userIdentity"]["principalId"] = "lambda.amazonaws.com"
    # THEN only the first is a TTL delete, and REMOVE lines carry no item
    lines = [normalize(r, sequence_number=SEQ, arrival_ms=1) for r in (ttl, user, other)]
    assert [line.ttl_delete for line in lines] == [True, False, False]
    assert all(line.item is None and line.item_types is None for line in lines)


def test_old_image_is_not_read():
    # GIVEN a MODIFY whose OldImage would not convert THEN the change still normalizes
    line = normalize(
        change("MODIFY", OldImage={"x": {"WHAT": 1}}), sequence_number=SEQ, arrival_ms=1
    )
    assert line.op == "MODIFY"


def test_sequence_number_is_kept_as_decimal_text_without_leading_zeros():
    line = normalize(change(), sequence_number="000123", arrival_ms=1)
    assert line.seq == "123"


def test_number_keys_are_canonical_and_item_numbers_verbatim():
    line = normalize(
        change(Keys={"pk": {"N": "1.50"}}, NewImage={"pk": {"N": "1.50"}}),
        sequence_number=SEQ,
        arrival_ms=1,
    )
    assert (line.key, line.key_types, line.item) == ('{"pk":1.5}', "N", '{"pk":1.50}')


def broken(path: tuple[str, ...], value) -> dict:
    record = change()
    target = record
    for part in path[:-1]:
        target = target[part]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return record


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ([1, 2], "not_dynamodb_change"),
        ({"hello": "world"}, "not_dynamodb_change"),
        (broken(("eventSource",), "aws:kinesis"), "not_dynamodb_change"),
        (broken(("dynamodb",), KeyError), "not_dynamodb_change"),
        (broken(("tableName",), 7), "not_dynamodb_change"),
        (broken(("tableName",), "../x"), "not_dynamodb_change"),
        (broken(("eventID",), KeyError), "not_dynamodb_change"),
        (broken(("eventName",), "UPSERT"), "unknown_operation"),
        (broken(("eventName",), KeyError), "unknown_operation"),
        (broken(("dynamodb", "ApproximateCreationDateTime"), KeyError), "bad_creation_time"),
        (broken(("dynamodb", "ApproximateCreationDateTime"), "now"), "bad_creation_time"),
        (broken(("dynamodb", "Keys"), KeyError), "missing_keys"),
        (broken(("dynamodb", "Keys"), {}), "missing_keys"),
        (broken(("dynamodb", "Keys"), {"pk": {"BOOL": True}}), "bad_key"),
        (broken(("dynamodb", "Keys"), {"pk": {"N": "1x"}}), "bad_number"),
        (broken(("dynamodb", "NewImage"), KeyError), "missing_new_image"),
        (broken(("dynamodb", "NewImage"), [1]), "missing_new_image"),
        (broken(("dynamodb", "NewImage", "n"), {"D": "1"}), "unknown_type_tag"),
        (broken(("dynamodb", "NewImage", "n"), {"N": "1.2.3"}), "bad_number"),
        (broken(("dynamodb", "NewImage", "n"), {"N": 5}), "bad_number"),
        (broken(("dynamodb", "NewImage", "n"), {"B": "@@@"}), "bad_base64"),
        (broken(("dynamodb", "NewImage", "n"), {"BS": ["AA==", "!"]}), "bad_base64"),
        (broken(("dynamodb", "NewImage", "n"), {"SS": []}), "bad_value"),
        (broken(("dynamodb", "NewImage", "n"), {"S": "a", "N": "1"}), "bad_value"),
    ],
)
def test_bad_records_are_rejected_with_a_reason(record, reason):
    with pytest.raises(Rejected) as caught:
        normalize(record, sequence_number=SEQ, arrival_ms=1)
    assert caught.value.reason == reason
    assert caught.value.detail


def test_rejection_names_where_but_never_the_value():
    record = change(NewImage={"pk": {"S": "k"}, "card": {"M": {"cvv": {"N": "secret-123"}}}})
    with pytest.raises(Rejected) as caught:
        normalize(record, sequence_number=SEQ, arrival_ms=1)
    assert caught.value.reason == "bad_number"
    assert "NewImage.card.cvv" in caught.value.detail
    assert "secret" not in str(caught.value)


@pytest.mark.parametrize(
    ("seq", "arrival"), [("", 1), ("12a", 1), (None, 1), (SEQ, "1"), (SEQ, -1), (SEQ, 2**63)]
)
def test_bad_kinesis_metadata_is_rejected(seq, arrival):
    with pytest.raises(Rejected) as caught:
        normalize(change(), sequence_number=seq, arrival_ms=arrival)
    assert caught.value.reason in ("bad_sequence_number", "bad_arrival_time")


def exact_verdict(raw: bytes, seq: str, arrival: int) -> tuple[str, ...]:
    """What the exact path (orjson, the whole record) makes of ``raw``: the line or the reason."""
    try:
        line, table = normalize_encoded(decode_json(raw), sequence_number=seq, arrival_ms=arrival)
    except Rejected as e:
        return ("Rejected", e.reason, e.detail)
    return ("Ok", line.decode(), table)


def verdict(raw: bytes, seq: str, arrival: int) -> tuple[str, ...]:
    try:
        line, table = normalize_json(raw, sequence_number=seq, arrival_ms=arrival)
    except Rejected as e:
        return ("Rejected", e.reason, e.detail)
    return ("Ok", line.decode(), table)


# Any JSON value, numbers included that orjson and msgspec read differently
# (integers past 64 bits) or refuse (1e999 once written).
json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**70), 2**70),
        st.floats(allow_nan=False),
        st.text(max_size=6),
        st.sampled_from(["S", "N", "M", "INSERT", "REMOVE", "aws:dynamodb", "MICROSECOND"]),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.sampled_from(["S", "N", "M", "L", "x", "BOOL"]), children, max_size=2),
    ),
    max_leaves=6,
)
READ_PATHS = [
    ("eventSource",),
    ("eventName",),
    ("eventID",),
    ("tableName",),
    ("userIdentity",),
    ("dynamodb",),
    ("dynamodb", "ApproximateCreationDateTime"),
    ("dynamodb", "ApproximateCreationDateTimePrecision"),
    ("dynamodb", "Keys"),
    ("dynamodb", "NewImage"),
    ("dynamodb", "NewImage", "pk"),
    ("dynamodb", "NewImage", "n"),
    ("dynamodb", "NewImage", "n", "N"),
    ("dynamodb", "Keys", "pk", "S"),
]


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=150)
@given(ddb.change_records(), st.integers(0, 10**57).map(str), st.integers(0, 2**45))
def test_the_fast_path_gives_the_exact_paths_line_for_any_change(record, seq, arrival):
    # GIVEN any change record, OldImage and all, as the bytes Kinesis carries
    raw = orjson.dumps(record)
    # WHEN normalized from its JSON THEN the line is the one the exact path gives
    assert verdict(raw, seq, arrival) == exact_verdict(raw, seq, arrival)
    assert verdict(raw, seq, arrival)[0] == "Ok"


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=300)
@given(st.sampled_from(READ_PATHS), json_values, st.sampled_from(["INSERT", "MODIFY", "REMOVE"]))
def test_the_fast_path_gives_the_exact_paths_verdict_when_a_read_field_is_anything(path, value, op):
    # GIVEN a change record with any JSON value at a field the transform reads
    record = change(op, OldImage={"pk": {"S": "k"}}, NewImage=None if op == "REMOVE" else {})
    if op != "REMOVE":
        record["dynamodb"]["NewImage"] = {"pk": {"S": "k"}, "n": {"N": "1.50"}}
    target = record
    for part in path[:-1]:
        if type(target.get(part)) is not dict:
            target[part] = {}
        target = target[part]
    target[path[-1]] = value
    # written by the standard library, which spells what orjson refuses (1e999 as Infinity)
    raw = json.dumps(record).encode()
    # WHEN normalized THEN line or rejection, reason and words are the exact path's
    assert verdict(raw, SEQ, 1) == exact_verdict(raw, SEQ, 1)


@pytest.mark.parametrize(
    "raw",
    [
        b"\xff\xfe",
        b"[1, 2]",
        b'{"eventSource": "aws:dynamodb", "dynamodb": "x"}',
        b'{"eventSource": "aws:dynamodb"} trailing',
        b'{"eventSource": "aws:dynamodb", "eventName": "\\ud800"}',
        b"[" * 3000 + b"]" * 3000,
    ],
)
def test_what_the_fast_path_cannot_read_the_exact_path_judges(raw):
    assert verdict(raw, SEQ, 1) == exact_verdict(raw, SEQ, 1)
    assert verdict(raw, SEQ, 1)[0] == "Rejected"


@pytest.mark.parametrize("created", [2**63, 2**64, 2**70, 1e300])
def test_a_creation_time_past_int64_is_refused_not_a_crash(created):
    # orjson reads 2**64 as a float; the fast path leaves it to the exact path, and
    # neither may make a line the encoder cannot write (that would fail the batch)
    raw = json.dumps(change(ApproximateCreationDateTime=created)).encode()
    assert verdict(raw, SEQ, 1) == exact_verdict(raw, SEQ, 1)
    assert verdict(raw, SEQ, 1)[:2] == ("Rejected", "bad_creation_time")


def test_duplicate_fields_read_as_on_the_exact_path_the_last_one_wins():
    raw = (
        b'{"eventSource":"aws:dynamodb","eventID":"e1","eventName":"REMOVE","tableName":"orders",'
        b'"eventName":"INSERT","dynamodb":{"ApproximateCreationDateTime":1764077160123,'
        b'"Keys":{"pk":{"S":"a"},"pk":{"S":"b"}},"NewImage":{"pk":{"S":"a"},"pk":{"S":"b"}}}}'
    )
    assert verdict(raw, SEQ, 1) == exact_verdict(raw, SEQ, 1)
    assert '"op":"INSERT"' in verdict(raw, SEQ, 1)[1]


def test_the_old_image_is_skipped_unparsed():
    # GIVEN a MODIFY whose OldImage holds bytes that are not UTF-8 (never sent by
    # DynamoDB; the transform does not read OldImage)
    raw = orjson.dumps(change("MODIFY", OldImage={"pk": {"S": "k"}, "x": {"S": "@@"}}))
    raw = raw.replace(b'"@@"', b'"\xff\xfe"')
    # THEN the fast path still makes the line, which the exact path would refuse
    assert verdict(raw, SEQ, 1)[0] == "Ok"
    assert exact_verdict(raw, SEQ, 1)[:2] == ("Rejected", "not_utf8")
