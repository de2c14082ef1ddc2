"""transforms.handler: whole Firehose events in, one result per record out."""

from __future__ import annotations

import base64
import binascii
import json
import subprocess
import sys

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contract import staging
from tests import strategies as ddb
from tests.transforms.fixtures import (
    firehose_event,
    firehose_record,
    load_event,
    load_expected_response,
)
from transforms.handler import (
    RESPONSE_BUDGET_BYTES,
    RESPONSE_LIMIT_BYTES,
    _json_size,
    handler,
    record_bytes,
)
from transforms.normalize import Rejected


def lines_of(response: dict) -> list[staging.StagingLine | None]:
    """Decoded staging lines of a response, None where a record failed."""
    return [
        staging.decode_line(base64.b64decode(r["data"])) if r["result"] == "Ok" else None
        for r in response["records"]
    ]


def logged(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_captured_changes_give_the_expected_response(capsys):
    # GIVEN a captured-shape event: INSERT (µs), MODIFY (ms), INSERT (no precision field),
    # REMOVE, TTL REMOVE
    event = load_event("firehose_kinesis_dynamodb")
    # WHEN transformed
    response = handler(event, None)
    # THEN the whole response is the expected one, and nothing is logged
    assert response == load_expected_response("firehose_kinesis_dynamodb")
    assert capsys.readouterr().out == ""


def test_captured_changes_decode_to_what_dynamodb_sent():
    event = load_event("firehose_kinesis_dynamodb")
    response = handler(event, None)
    lines = lines_of(response)
    changes = [json.loads(base64.b64decode(r["data"])) for r in event["records"]]
    for record, result, line, change in zip(
        event["records"], response["records"], lines, changes, strict=True
    ):
        # THEN each line is partitioned by its table, ends in a newline, and rebuilds the item
        assert result["recordId"] == record["recordId"]
        assert result["metadata"] == {"partitionKeys": {"table": change["tableName"]}}
        assert base64.b64decode(result["data"]).endswith(b"\n")
        assert ddb.comparable(line.typed_item()) == ddb.comparable(
            change["dynamodb"].get("NewImage")
        )
        assert line.seq == record["kinesisRecordMetadata"]["sequenceNumber"]
        assert line.arrival_ms == record["approximateArrivalTimestamp"]
    assert [line.version_us for line in lines] == [
        1764077160123456,  # MICROSECOND: kept
        1764077160456000,  # MILLISECOND: scaled
        1764077160789000,  # 13 digits, no precision field: scaled
        1764077161000001,
        1764077161500000,
    ]
    assert [line.ttl_delete for line in lines] == [False, False, False, False, True]
    assert lines[2].key == '{"id":1.5}'  # canonical number key; item keeps "1.50"
    assert lines[2].item == '{"id":1.50,"name":"Jane Müller"}'


def test_bad_records_fail_alone_with_a_logged_reason(capsys):
    # GIVEN a batch of broken records with one good REMOVE at the end
    event = load_event("firehose_kinesis_bad_records")
    # WHEN transformed
    response = handler(event, None)
    # THEN the response is the expected one: every bad record ProcessingFailed with its data
    assert response == load_expected_response("firehose_kinesis_bad_records")
    for record, result in zip(event["records"], response["records"], strict=True):
        assert result["recordId"] == record["recordId"]
        if result["result"] == "ProcessingFailed":
            assert result["data"] == record["data"]
    assert [r["result"] for r in response["records"]][-1] == "Ok"
    # AND each failure is one JSON log line naming the record and the reason, never values
    logs = logged(capsys)
    failures = [entry for entry in logs if entry["event"] == "record_failed"]
    assert [(f["recordId"], f["reason"]) for f in failures] == [
        (r["recordId"], reason)
        for r, reason in zip(
            event["records"][:-1],
            [
                "not_base64",
                "not_utf8",
                "not_json",
                "not_dynamodb_change",
                "unknown_operation",
                "unknown_type_tag",
                "missing_keys",
                "missing_new_image",
                "bad_number",
                "bad_base64",
                "bad_creation_time",
            ],  # fmt: skip
            strict=True,
        )
    ]
    assert all(f["invocationId"] == event["invocationId"] for f in logs)
    assert "12abc-secret" not in json.dumps(logs)
    assert logs[-1]["event"] == "batch_summary" and logs[-1]["detail"] == "11 of 12"


def test_a_record_without_data_or_metadata_fails_alone(capsys):
    good = firehose_record(orjson.dumps(ddb_change()), 1)
    no_data = {k: v for k, v in firehose_record(b"{}", 2).items() if k != "data"}
    no_meta = {k: v for k, v in good.items() if k != "kinesisRecordMetadata"}
    response = handler(firehose_event([no_data, good, no_meta]), None)
    assert [r["result"] for r in response["records"]] == [
        "ProcessingFailed",
        "Ok",
        "ProcessingFailed",
    ]
    assert response["records"][0]["data"] == ""
    assert [e["reason"] for e in logged(capsys)[:2]] == ["not_base64", "not_kinesis_source"]


def ddb_change(op: str = "INSERT", value: str = "v") -> dict:
    body = {
        "ApproximateCreationDateTime": 1764077160123456,
        "ApproximateCreationDateTimePrecision": "MICROSECOND",
        "Keys": {"pk": {"S": "k"}},
        "SizeBytes": 10,
    }
    if op != "REMOVE":
        body["NewImage"] = {"pk": {"S": "k"}, "value": {"S": value}}
    return {
        "awsRegion": "eu-central-1",
        "eventID": "e",
        "eventName": op,
        "userIdentity": None,
        "recordFormat": "application/json",
        "tableName": "orders",
        "dynamodb": body,
        "eventSource": "aws:dynamodb",
    }


junk = st.one_of(
    st.binary(max_size=40),
    st.builds(
        orjson.dumps, st.dictionaries(st.text(max_size=5), st.integers(-1000, 1000), max_size=3)
    ),
    ddb.change_records().map(lambda r: orjson.dumps({**r, "eventName": "PUT"})),
    ddb.change_records(operations=("INSERT",)).map(
        lambda r: orjson.dumps({**r, "dynamodb": {**r["dynamodb"], "NewImage": {"x": {"Q": 1}}}})
    ),
)


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=25)
@given(
    st.lists(
        st.one_of(
            ddb.change_records().map(lambda r: (True, orjson.dumps(r))),
            junk.map(lambda d: (False, d)),
        ),
        max_size=8,
    )
)
def test_any_batch_gets_one_result_per_record_in_order(batch):
    # GIVEN any mix of valid change records and junk
    event = firehose_event([firehose_record(d, n) for n, (_, d) in enumerate(batch)])
    # WHEN transformed
    response = handler(event, None)
    # THEN there is one result per record, same order, same id
    assert [r["recordId"] for r in response["records"]] == [r["recordId"] for r in event["records"]]
    for (valid, data), record, result in zip(
        batch, event["records"], response["records"], strict=True
    ):
        # AND exactly the valid records are Ok
        assert (result["result"] == "Ok") == valid
        if valid:
            # Ok lines rebuild the NewImage of the record they came from
            change = orjson.loads(data)
            line = staging.decode_line(base64.b64decode(result["data"]))
            assert ddb.comparable(line.typed_item()) == ddb.comparable(
                change["dynamodb"].get("NewImage")
            )
            assert result["metadata"] == {"partitionKeys": {"table": change["tableName"]}}
        else:
            assert result == {
                "recordId": record["recordId"],
                "result": "ProcessingFailed",
                "data": record["data"],
            }


def test_lines_that_outgrow_the_limit_fail_from_the_first_that_does_not_fit(capsys):
    # GIVEN a 3.9 MB event whose lines double on the way out (quotes and backslashes are
    # escaped twice once the item is JSON text inside the line)
    value = '"\\' * 20_000
    datas = [orjson.dumps(ddb_change(value=value)) for _ in range(36)]
    datas.insert(3, orjson.dumps(ddb_change("REMOVE")))
    event = firehose_event([firehose_record(d, n) for n, d in enumerate(datas)])
    assert 3_800_000 < len(json.dumps(event)) < 4_000_000
    # WHEN transformed
    response = handler(event, None)
    # THEN the response is under the limit, in the serializer's widest spelling
    size = len(json.dumps(response))
    assert size <= RESPONSE_BUDGET_BYTES
    # AND it holds Ok lines first, then the rest fail with their original data
    results = [r["result"] for r in response["records"]]
    cut = results.index("ProcessingFailed")
    assert cut > 10 and results[cut:] == ["ProcessingFailed"] * (len(results) - cut)
    for record, result in zip(event["records"][cut:], response["records"][cut:], strict=True):
        assert result["data"] == record["data"]
    # AND the first failed record would not have fitted as an Ok line
    ok_entry = len(json.dumps(response["records"][0])) + 2
    failed_entry = len(json.dumps(response["records"][cut])) + 2
    assert size - failed_entry + ok_entry > RESPONSE_BUDGET_BYTES
    reasons = [e["reason"] for e in logged(capsys) if e["event"] == "record_failed"]
    assert reasons == ["response_budget"] * (len(results) - cut)


def test_a_batch_at_the_request_limit_is_all_ok_when_lines_are_smaller():
    # GIVEN a ~5.9 MB event of items with many small attributes (plain JSON is smaller)
    change = ddb_change()
    change["dynamodb"]["NewImage"].update({f"attr{i}": {"N": str(i)} for i in range(300)})
    data = orjson.dumps(change)
    records = [firehose_record(data, n) for n in range(5_900_000 // (len(data) * 4 // 3 + 300))]
    event = firehose_event(records)
    assert 5_700_000 < len(json.dumps(event)) < RESPONSE_LIMIT_BYTES
    # WHEN transformed THEN every record is Ok and the response is under the limit
    response = handler(event, None)
    assert {r["result"] for r in response["records"]} == {"Ok"}
    assert len(json.dumps(response)) <= RESPONSE_BUDGET_BYTES


def test_handler_module_imports_only_light_dependencies():
    # GIVEN a fresh interpreter WHEN the handler module is imported
    # THEN no heavy or deployment-only package came with it (the Lambda bundle is small)
    code = (
        "import sys, transforms.handler; "
        "heavy = {'boto3', 'botocore', 'pandas', 'pyarrow', 'aws_cdk', 'pymysql'} & set(sys.modules); "
        "print(sorted(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def strict_base64(text: str) -> bytes | None:
    try:
        return binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError):
        return None


@settings(max_examples=500)
@given(
    st.one_of(
        st.binary(max_size=40).map(lambda b: base64.b64encode(b).decode()),
        st.text(alphabet="AQgw/+=\n -_é", max_size=14),
        st.text(max_size=8),
    )
)
def test_record_data_reads_as_binascii_strict_mode_reads_it(text):
    # GIVEN any text as a record's data WHEN read THEN the bytes, or the refusal, are
    # binascii's in strict mode (pybase64 only makes it faster)
    expected = strict_base64(text)
    try:
        got = record_bytes(text)
    except Rejected as e:
        assert expected is None and e.reason == "not_base64"
    else:
        assert got == expected


def test_data_strict_mode_takes_past_a_full_group_still_reads():
    # binascii's strict mode takes an '=' after a full group; pybase64 does not
    assert strict_base64("Kn76=") == b"*~\xfa"
    assert record_bytes("Kn76=") == b"*~\xfa"


@settings(max_examples=300)
@given(st.one_of(st.text(alphabet=st.characters(max_codepoint=127)), st.text()))
def test_a_strings_counted_size_bounds_its_serialized_size_exactly_for_ascii(text):
    serialized = len(json.dumps(text)) - 2
    assert _json_size(text) >= serialized
    if text.isascii():
        assert _json_size(text) == serialized
