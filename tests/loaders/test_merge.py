"""The merge core on the real MariaDB: exact values, ordering, quarantine, refusals, ledger."""

from __future__ import annotations

import base64
import gzip
from decimal import Decimal

import orjson
import pytest

from contract.config import parse_config
from contract.values import loads_exact, to_plain
from loaders import ledger
from loaders.engine import load_staging_bytes
from loaders.quarantine import MemoryQuarantine
from tests.loaders.builders import T0, change, gz, obj, staging_key
from tests.loaders.conftest import fetch

NASTY = ["", "NULL", "\\N", "a\tb", "line\nbreak", "cr\rhere", "back\\slash", "quote'\"`",
         "nul\x00byte", "four😀byte𝄞", "trailing  "]  # fmt: skip


def test_nasty_values_round_trip_exactly(conn, admin):
    # GIVEN items whose string key, mapped text column and JSON item hold every nasty value
    config = parse_config(
        {
            "tables": {
                "tbl1": {
                    "partition_key": {"name": "pk", "type": "S"},
                    "columns": {"s": {"path": "s", "type": "TEXT"}},
                }
            }
        }  # fmt: skip
    )
    lines = [
        change("tbl1", {"pk": {"S": f"k{v}"}}, {"s": {"S": v}, "n": {"N": "-0.000123"}}, 10 + i)
        for i, v in enumerate(NASTY)
    ]
    lines.append(change("tbl1", {"pk": {"S": "absent"}}, {"n": {"N": "1"}}, 5))
    # WHEN they are loaded
    [result] = load_staging_bytes(conn, config, [obj("tbl1", lines)])
    # THEN every key, column and item comes back byte for byte, and SQL NULL stays NULL
    assert result.status == "loaded" and result.applied == len(NASTY) + 1
    rows = dict((r[0], r[1:]) for r in fetch(admin, "SELECT pk, s, item FROM tbl1"))
    for v in NASTY:
        s, item = rows[f"k{v}"]
        assert s == v
        assert orjson.loads(item) == {"n": -0.000123, "pk": f"k{v}"}
    assert rows["absent"][0] is None


def test_distinct_keys_stay_distinct_and_numbers_keep_every_digit(conn, admin):
    # GIVEN keys that a PAD SPACE collation or a float would merge, and 38-digit numbers
    config = parse_config({})
    big = "12345678901234567890123456789012345678"
    lines = [
        change("tbl2", {"pk": {"S": "a"}}, {"v": {"N": big}}, 1),
        change("tbl2", {"pk": {"S": "a "}}, {"v": {"N": "-" + big}}, 1),
        change(
            "tbl2", {"pk": {"S": "A"}}, {"v": {"N": "0.1234567890123456789012345678901234567"}}, 1
        ),
    ]
    # WHEN loaded
    [result] = load_staging_bytes(conn, config, [obj("tbl2", lines)])
    # THEN three rows, numbers as JSON numbers with every digit
    assert result.applied == 3
    rows = dict(fetch(admin, "SELECT pk, item FROM tbl2"))
    assert set(rows) == {"a", "a ", "A"}
    assert str(loads_exact(rows["a"])["v"]) == big
    assert str(loads_exact(rows["a "])["v"]) == "-" + big
    assert str(loads_exact(rows["A"])["v"]) == "0.1234567890123456789012345678901234567"


def test_number_and_binary_keys_are_exact(conn, admin):
    # GIVEN a table keyed by binary partition key and numeric sort key
    config = parse_config({})
    blobs = [b"\x00\x01\xff", b"\t\n\r\\", "😀".encode()]
    numbers = ["12345678901234567890123456789012345678", "0.000000000000000000000000001", "-7.5"]
    lines = [
        change("tbl3", {"b": {"B": base64.b64encode(raw).decode()}, "n": {"N": num}}, {}, 1)
        for raw in blobs
        for num in numbers
    ]
    # WHEN loaded
    [result] = load_staging_bytes(conn, config, [obj("tbl3", lines)])
    # THEN the key columns hold the exact bytes and decimals
    assert result.applied == 9
    got = {(bytes(b), n) for b, n in fetch(admin, "SELECT b, n FROM tbl3")}
    assert got == {(raw, Decimal(num)) for raw in blobs for num in numbers}


def test_key_that_would_round_is_quarantined_not_merged(conn, admin):
    # GIVEN two numeric keys that differ only beyond the key column's 27 decimals, and a normal key
    config = parse_config({})
    q = MemoryQuarantine()
    k1 = "1." + "0" * 30 + "1"
    k2 = "1." + "0" * 30 + "2"
    lines = [
        change("tbl4", {"n": {"N": k1}}, {"a": {"S": "x"}}, 1),
        change("tbl4", {"n": {"N": k2}}, {"a": {"S": "y"}}, 1),
        change("tbl4", {"n": {"N": "2"}}, {"a": {"S": "z"}}, 1),
    ]
    key, etag, data = obj("tbl4", lines)
    # WHEN loaded
    [result] = load_staging_bytes(conn, config, [(key, etag, data)], quarantine=q)
    # THEN only the exact key loads; the two rounding keys go to quarantine with a reason
    assert (result.applied, result.quarantined, result.stale) == (1, 2, 0)
    assert fetch(admin, "SELECT n FROM tbl4") == [(Decimal("2"),)]
    assert sorted(r["key"] for r in q.rows[key]) == sorted([f'{{"n":{k1}}}', f'{{"n":{k2}}}'])
    assert all("truncated" in r["_reason"].lower() for r in q.rows[key])
    [row] = ledger.ledger_rows(conn, [key])
    assert (row.records_read, row.rows_applied, row.rows_quarantined) == (3, 1, 2)


def test_38_digit_integer_keys_stay_distinct_rows(conn, admin):
    # GIVEN numeric keys at DynamoDB's full 38 digits that differ only in the last digit
    config = parse_config({})
    big = "9" * 37
    keys = [big + "8", big + "9", "-" + big + "9", "0.000000000000000000000000001"]
    lines = [change("tbl38", {"n": {"N": k}}, {"a": {"S": k}}, 1) for k in keys]
    key, etag, data = obj("tbl38", lines)
    # WHEN loaded
    [result] = load_staging_bytes(conn, config, [(key, etag, data)], quarantine=MemoryQuarantine())
    # THEN each is its own row, exactly
    assert (result.applied, result.quarantined) == (4, 0)
    got = sorted(n for (n,) in fetch(admin, "SELECT n FROM tbl38"))
    assert got == sorted(Decimal(k) for k in keys)


def test_misfit_mapped_value_is_quarantined_and_the_rest_loads(conn, admin):
    # GIVEN a mapping with narrow columns and values that do not fit them
    config = parse_config(
        {
            "tables": {
                "tbl5": {
                    "partition_key": {"name": "pk"},
                    "columns": {
                        "code": {"path": "code", "type": "VARCHAR(3)"},
                        "qty": {"path": "meta.qty", "type": "INT"},
                    },
                }
            }
        }  # fmt: skip
    )
    q = MemoryQuarantine()
    lines = [
        change(
            "tbl5",
            {"pk": {"S": "ok"}},
            {"code": {"S": "abc"}, "meta": {"M": {"qty": {"N": "7"}}}},
            1,
        ),
        change("tbl5", {"pk": {"S": "long"}}, {"code": {"S": "abcd"}}, 1),
        change("tbl5", {"pk": {"S": "nan"}}, {"meta": {"M": {"qty": {"S": "many"}}}}, 1),
        change("tbl5", {"pk": {"S": "big"}}, {"meta": {"M": {"qty": {"N": "99999999999"}}}}, 1),
        change("tbl5", {"pk": {"S": "frac"}}, {"meta": {"M": {"qty": {"N": "1.5"}}}}, 1),
    ]
    key, etag, data = obj("tbl5", lines)
    # WHEN loaded
    [result] = load_staging_bytes(conn, config, [(key, etag, data)], quarantine=q)
    # THEN the fitting row loads with its overflow minus mapped paths; the others are quarantined
    assert (result.applied, result.quarantined) == (1, 4)
    [(pk, code, qty, item)] = fetch(admin, "SELECT pk, code, qty, item FROM tbl5")
    assert (pk, code, qty) == ("ok", "abc", 7)
    assert orjson.loads(item) == {"pk": "ok", "meta": {}}
    rejected = {orjson.loads(r["key"])["pk"]: r["_reason"] for r in q.rows[key]}
    assert set(rejected) == {"long", "nan", "big", "frac"}
    assert "code" in rejected["long"] and "qty" in rejected["nan"]
    [row] = ledger.ledger_rows(conn, [key])
    assert (row.records_read, row.rows_applied, row.rows_quarantined, row.status) == (
        5, 1, 4, "loaded",
    )  # fmt: skip


def test_corrupt_and_non_staging_objects_are_quarantined_while_others_load(conn, admin):
    # GIVEN one good file, one corrupt gzip, one non-JSON file and an object outside the layout
    config = parse_config({})
    q = MemoryQuarantine()
    good = obj("tbl6", [change("tbl6", {"pk": {"S": "a"}}, {"x": {"N": "1"}}, 1)])
    corrupt = (staging_key("tbl6"), "e1", gz([b"{}\n"])[:-6] + b"garbage")
    not_json = (staging_key("tbl6"), "e2", gzip.compress(b"this is not json\n"))
    stray = ("staging/readme.txt", "e3", b"hello")
    # WHEN loaded together
    results = load_staging_bytes(conn, config, [corrupt, good, not_json, stray], quarantine=q)
    # THEN the good file loads and each bad object is quarantined with its reason
    status = {r.key: r.status for r in results}
    assert status == {good[0]: "loaded", corrupt[0]: "quarantined", not_json[0]: "quarantined",
                      stray[0]: "quarantined"}  # fmt: skip
    assert fetch(admin, "SELECT pk FROM tbl6") == [("a",)]
    assert set(q.files) == {corrupt[0], not_json[0], stray[0]}
    assert "not a staging object" in q.files[stray[0]]
    rows = {r.s3_key: r for r in ledger.ledger_rows(conn, list(status))}
    assert rows[corrupt[0]].status == "quarantined" and "unreadable" in rows[corrupt[0]].error


def test_invalid_lines_are_quarantined_with_reason(conn, admin):
    # GIVEN a file with a valid line, a line of another table and a line of an unknown op
    config = parse_config({})
    q = MemoryQuarantine()
    good = change("tbl7", {"pk": {"S": "a"}}, {"x": {"N": "1"}}, 1)
    other = change("zzz", {"pk": {"S": "b"}}, {"x": {"N": "1"}}, 1)
    bad_op = change("tbl7", {"pk": {"S": "c"}}, {"x": {"N": "1"}}, 1).replace(b"MODIFY", b"UPSERT")
    key, etag, data = obj("tbl7", [good, other, bad_op])
    # WHEN loaded
    [result] = load_staging_bytes(conn, config, [(key, etag, data)], quarantine=q)
    # THEN the valid line loads and the others are quarantined, each with its reason
    assert (result.read, result.applied, result.quarantined) == (3, 1, 2)
    reasons = sorted(r["_reason"] for r in q.rows[key])
    assert reasons == ["line belongs to another table", "unknown op"]


def test_older_change_never_wins_and_delete_is_not_undone(conn, admin):
    # GIVEN a key updated, deleted, and an older update arriving after the delete
    config = parse_config({})
    newer = obj("tbl8", [change("tbl8", {"pk": {"S": "a"}}, {"v": {"N": "2"}}, 200),
                       change("tbl8", {"pk": {"S": "b"}}, {"v": {"N": "2"}}, 200, seq="10")])  # fmt: skip
    delete = obj("tbl8", [change("tbl8", {"pk": {"S": "a"}}, None, 300)])
    older = obj("tbl8", [change("tbl8", {"pk": {"S": "a"}}, {"v": {"N": "1"}}, 100),
                       change("tbl8", {"pk": {"S": "b"}}, {"v": {"N": "1"}}, 200, seq="9")])  # fmt: skip
    # WHEN loaded newest first, one file per call
    results = [load_staging_bytes(conn, config, [o])[0] for o in (newer, delete, older)]
    # THEN a stays deleted (tombstone), b keeps the change with the larger sequence number
    assert [(r.applied, r.deleted, r.stale) for r in results] == [(2, 0, 0), (0, 1, 0), (0, 0, 2)]
    assert fetch(admin, "SELECT pk, item FROM tbl8") == [("b", '{"v":2,"pk":"b"}')]
    assert fetch(admin, "SELECT pk, _ddbload_version_us FROM _ddbload_tomb_tbl8") == [
        ("a", T0 + 300)
    ]


def test_soft_delete_and_ttl_keep_flag_rows(conn, admin):
    # GIVEN soft delete mode and a TTL policy that keeps expired rows
    config = parse_config({"tables": {"tbl9": {"partition_key": {"name": "pk"},
                                             "delete_mode": "soft", "ttl_policy": "keep"}}})  # fmt: skip
    lines = [
        change("tbl9", {"pk": {"S": "gone"}}, {"v": {"N": "1"}}, 1),
        change("tbl9", {"pk": {"S": "gone"}}, None, 2),
        change("tbl9", {"pk": {"S": "old"}}, {"v": {"N": "1"}}, 1),
        change("tbl9", {"pk": {"S": "old"}}, None, 2, ttl=True),
        change("tbl9", {"pk": {"S": "back"}}, None, 2),
        change("tbl9", {"pk": {"S": "back"}}, {"v": {"N": "3"}}, 3),
    ]
    # WHEN loaded, then an older upsert arrives for the soft-deleted key
    load_staging_bytes(conn, config, [obj("tbl9", lines)])
    load_staging_bytes(conn, config, [obj("tbl9", [change("tbl9", {"pk": {"S": "gone"}}, {}, 1)])])
    # THEN rows stay with their flags and last item; a newer upsert clears the flags
    rows = {
        r[0]: r[1:]
        for r in fetch(admin, "SELECT pk, item, _ddbload_deleted, _ddbload_expired FROM tbl9")
    }
    assert rows["gone"] == ('{"v":1,"pk":"gone"}', 1, 0)
    assert rows["old"] == ('{"v":1,"pk":"old"}', 0, 1)
    assert rows["back"] == ('{"v":3,"pk":"back"}', 0, 0)


def test_ttl_delete_follows_default_policy(conn, admin):
    # GIVEN the default policy (mirror DynamoDB: TTL deletes remove the row)
    config = parse_config({})
    lines = [change("tbl10", {"pk": {"S": "x"}}, {"v": {"N": "1"}}, 1),
             change("tbl10", {"pk": {"S": "x"}}, None, 2, ttl=True)]  # fmt: skip
    # WHEN loaded
    [result] = load_staging_bytes(conn, config, [obj("tbl10", lines)])
    # THEN the row is gone
    assert (result.deleted, result.stale) == (1, 1)
    assert fetch(admin, "SELECT COUNT(*) FROM tbl10") == [(0,)]


def test_a_loaded_file_is_skipped_and_reload_is_harmless(conn, admin):
    # GIVEN a loaded file
    config = parse_config({})
    o = obj("tbl11", [change("tbl11", {"pk": {"S": "a"}}, {"v": {"N": "1"}}, 1)])
    load_staging_bytes(conn, config, [o])
    # WHEN loaded again, then reloaded on purpose
    [again] = load_staging_bytes(conn, config, [o])
    [reloaded] = load_staging_bytes(conn, config, [o], reload=True)
    # THEN the second is skipped, the reload applies nothing new, the ledger counts two loads
    assert again.status == "skipped"
    assert (reloaded.status, reloaded.applied, reloaded.stale) == ("loaded", 0, 1)
    assert fetch(admin, "SELECT COUNT(*) FROM tbl11") == [(1,)]
    [row] = ledger.ledger_rows(conn, [o[0]])
    assert row.load_count == 2


@pytest.mark.parametrize(
    "ddl, reason",
    [
        ("CREATE TABLE tbl12 (other VARCHAR(10) PRIMARY KEY, pk VARCHAR(10), item JSON)", "primary key"),
        ("CREATE TABLE tbl12 (pk VARCHAR(10) PRIMARY KEY, email VARCHAR(10) UNIQUE, item JSON)",
         "other unique keys"),
    ],
)  # fmt: skip
def test_incompatible_target_is_refused(conn, admin, ddl, reason):
    # GIVEN an existing target whose keys do not match the mapping
    fetch(admin, ddl)
    config = parse_config({})
    # WHEN a file for it is loaded
    [result] = load_staging_bytes(
        conn, config, [obj("tbl12", [change("tbl12", {"pk": {"S": "a"}}, {}, 1)])]
    )
    # THEN it is refused with the reason, and nothing is written
    assert result.status == "failed" and reason in result.error and result.key in result.error
    assert fetch(admin, "SELECT COUNT(*) FROM tbl12") == [(0,)]


def test_existing_target_gets_new_mapped_columns(conn, admin):
    # GIVEN a target created by an earlier mapping, and a mapping that adds a column
    fetch(admin, "CREATE TABLE tbl13 (pk VARCHAR(10) NOT NULL PRIMARY KEY, item JSON)")
    config = parse_config({"tables": {"tbl13": {"partition_key": {"name": "pk"},
                                              "columns": {"n": {"path": "n", "type": "INT"}}}}})  # fmt: skip
    # WHEN a file is loaded
    load_staging_bytes(
        conn, config, [obj("tbl13", [change("tbl13", {"pk": {"S": "a"}}, {"n": {"N": "5"}}, 1)])]
    )
    # THEN the column is added and filled
    assert fetch(admin, "SELECT pk, n FROM tbl13") == [("a", 5)]


def test_load_local_never_sends_another_file(conn, admin, monkeypatch, tmp_path):
    # GIVEN a server that asks for a different file than the loader registered
    from loaders import db

    secret = tmp_path / "secret.txt"
    secret.write_text("pk\tsecret\n")
    real = db.LoadLocalPacketWrapper

    class Evil:
        def __init__(self, packet):
            self.filename = str(secret).encode()
            real(packet)

    monkeypatch.setattr(db, "LoadLocalPacketWrapper", Evil)
    config = parse_config({})
    # WHEN a file is loaded
    [result] = load_staging_bytes(
        conn, config, [obj("tbl14", [change("tbl14", {"pk": {"S": "a"}}, {}, 1)])]
    )
    # THEN the client sent nothing: nothing was staged, the job failed, the request was refused
    assert result.status == "failed" and "staged 0 of 1" in result.error
    assert conn.refused_requests == [str(secret).encode()]
    assert fetch(admin, "SELECT COUNT(*) FROM tbl14") == [(0,)]


def test_plain_item_matches_the_contract_encoding(conn, admin):
    # GIVEN an item with sets, binary, nested maps and lists
    config = parse_config({})
    item = {"ss": {"SS": ["b", "a"]}, "ns": {"NS": ["10", "9.5"]}, "bin": {"B": "AAE="},
            "m": {"M": {"l": {"L": [{"N": "1"}, {"NULL": True}, {"BOOL": False}]}}}}  # fmt: skip
    load_staging_bytes(conn, config, [obj("tbl15", [change("tbl15", {"pk": {"S": "a"}}, item, 1)])])
    # THEN the item column holds exactly the contract's plain JSON text
    [(text,)] = fetch(admin, "SELECT item FROM tbl15")
    assert text == to_plain({**item, "pk": {"S": "a"}})[0].decode()


def test_texts_with_raw_control_characters_take_the_escaped_format(conn, admin):
    # GIVEN an item whose JSON text has a raw tab, newline and CR between tokens, beside
    # backslash escapes, and an ordinary line in the same file
    config = parse_config({})
    text = '{"pk":"odd",\t"s":"back\\\\slash \\"q\\" \\t",\r\n"n":1}'
    raw = change("tbl16", {"pk": {"S": "odd"}}, {}, 1)
    odd = orjson.dumps({**orjson.loads(raw), "item": text}) + b"\n"
    plain = change("tbl16", {"pk": {"S": "plain"}}, {"s": {"S": "NULL"}}, 1)
    # WHEN loaded
    [result] = load_staging_bytes(conn, config, [obj("tbl16", [odd, plain])])
    # THEN both items are stored exactly as written
    assert result.applied == 2
    rows = dict(fetch(admin, "SELECT pk, item FROM tbl16"))
    assert rows == {"odd": text, "plain": '{"s":"NULL","pk":"plain"}'}


def test_tombstones_older_than_the_retention_are_pruned(conn, admin):
    # GIVEN a delete older than the tombstone retention and a recent one
    config = parse_config({})
    hours = config.settings["tombstone_retention_hours"]
    old = -(hours + 1) * 3_600_000_000
    load_staging_bytes(conn, config, [obj("tbl17", [change("tbl17", {"pk": {"S": "old"}}, None, old),
                                                    change("tbl17", {"pk": {"S": "new"}}, None, 1)])])  # fmt: skip
    assert len(fetch(admin, "SELECT pk FROM _ddbload_tomb_tbl17")) == 2
    # WHEN a later run loads the table
    load_staging_bytes(conn, config, [obj("tbl17", [change("tbl17", {"pk": {"S": "x"}}, {}, 2)])])
    # THEN only the recent tombstone is left
    assert fetch(admin, "SELECT pk FROM _ddbload_tomb_tbl17") == [("new",)]


def test_per_file_counts_are_exact_when_files_overlap_in_one_batch(conn, admin):
    # GIVEN a target holding k1@5 and k2@5, then one batch of two files whose keys overlap:
    # file A: k1@3 (stale), k2@7 (wins), k3@1 (loses to B's k3@2), k4 delete@4 (new tombstone)
    # file B: k3@2 (wins), k2@6 (loses to A's k2@7), k1 delete@9 (wins), k5@1 (new)
    config = parse_config({})
    t = "tblcnt"
    seed = obj(t, [change(t, {"pk": {"S": k}}, {"v": {"N": "0"}}, 5) for k in ("k1", "k2")])
    load_staging_bytes(conn, config, [seed])
    file_a = obj(t, [
        change(t, {"pk": {"S": "k1"}}, {"v": {"N": "1"}}, 3),
        change(t, {"pk": {"S": "k2"}}, {"v": {"N": "1"}}, 7),
        change(t, {"pk": {"S": "k3"}}, {"v": {"N": "1"}}, 1),
        change(t, {"pk": {"S": "k4"}}, None, 4),
    ], name="a")  # fmt: skip
    file_b = obj(t, [
        change(t, {"pk": {"S": "k3"}}, {"v": {"N": "2"}}, 2),
        change(t, {"pk": {"S": "k2"}}, {"v": {"N": "2"}}, 6),
        change(t, {"pk": {"S": "k1"}}, None, 9),
        change(t, {"pk": {"S": "k5"}}, {"v": {"N": "2"}}, 1),
    ], name="b")  # fmt: skip
    # WHEN both load in one call (one batch)
    a, b = load_staging_bytes(conn, config, [file_a, file_b])
    # THEN each file's counts say exactly which of its changes won
    assert (a.read, a.applied, a.deleted, a.stale) == (4, 1, 1, 2)
    assert (b.read, b.applied, b.deleted, b.stale) == (4, 2, 1, 1)
    rows = fetch(admin, f"SELECT pk, JSON_VALUE(item, '$.v') FROM {t} ORDER BY pk")
    assert rows == [("k2", "1"), ("k3", "2"), ("k5", "2")]
    ledger_rows = {r.s3_key: r for r in ledger.ledger_rows(conn, [file_a[0], file_b[0]])}
    assert (ledger_rows[file_a[0]].rows_applied, ledger_rows[file_b[0]].rows_applied) == (1, 2)
