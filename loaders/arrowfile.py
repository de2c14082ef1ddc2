"""Staging objects -> Arrow -> the tab-separated load file, with C++ kernels only.

``read_batches`` streams one gzip NDJSON object as record batches (bounded
memory); ``prepare`` validates, assigns op codes and keeps the newest version
per key; ``load_file`` renders the LOAD DATA input. No Python runs per row
except for the (rare) rows that go to quarantine.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from contract.staging import CONTRACT_VERSION, OPERATIONS
from loaders.sql import OP_DELETE, OP_EXPIRE, OP_UPSERT

SCHEMA = pa.schema(
    [
        ("v", pa.int64()),
        ("table", pa.string()),
        ("op", pa.string()),
        ("key", pa.string()),
        ("key_types", pa.string()),
        ("item", pa.string()),
        ("item_types", pa.string()),
        ("version_us", pa.int64()),
        ("seq", pa.string()),
        ("ttl_delete", pa.bool_()),
        ("event_id", pa.string()),
        ("arrival_ms", pa.int64()),
    ]
)
_PARSE = pj.ParseOptions(explicit_schema=SCHEMA, unexpected_field_behavior="ignore")
_BLOCK = 4 << 20
# Parse on the thread pool; with readahead a corrupt block may surface before earlier ones.
_THREADS = True
_TAB, _NEWLINE, _EMPTY = (pa.scalar(s, pa.large_string()) for s in ("\t", "\n", ""))


def read_batches(data: bytes) -> Iterator[pa.RecordBatch]:
    """Record batches of one gzip NDJSON staging object; raises on corrupt or unreadable data."""
    stream = pa.input_stream(pa.py_buffer(data), compression="gzip")
    # Closing the reader stops its readahead thread when a file is abandoned midway.
    options = pj.ReadOptions(block_size=_BLOCK, use_threads=_THREADS)
    reader = pj.open_json(stream, read_options=options, parse_options=_PARSE)
    try:
        yield from reader
    finally:
        reader.close()


def with_position(batch: pa.RecordBatch, file_index: int, first_line: int) -> pa.Table:
    """Tag rows with their file (index in the batch) and line number (1-based) in it."""
    n = batch.num_rows
    table = pa.Table.from_batches([batch])
    table = table.append_column("_file", pc.fill_null(pa.nulls(n, pa.int32()), file_index))
    return table.append_column("_line", pa.array(range(first_line, first_line + n), pa.int64()))


@dataclass
class Prepared:
    rows: pa.Table  # the winners, one per key, with _op and _row columns
    bad: pa.Table  # invalid lines, with a _reason column
    # Where a flag-only change (soft delete, expiry) wins, the newest upsert before it:
    # merged first so the flagged row keeps the data it had, whatever the batching.
    before_marks: pa.Table


def _check(table: pa.Table, source: str, key_types: str) -> pa.Array:
    """Per row: the first reason the line is invalid, or null."""
    checks = [
        (pc.is_null(table["key"]), "key is missing"),
        (pc.is_null(table["version_us"]), "version_us is missing"),
        (pc.is_null(table["seq"]), "seq is missing"),
        (pc.and_kleene(pc.is_valid(table["item"]), pc.equal(table["item"], "")), "item is empty"),
        (
            pc.not_equal(pc.fill_null(table["v"], -1), CONTRACT_VERSION),
            "unsupported contract version",
        ),
        (pc.invert(pc.is_in(table["op"], pa.array(OPERATIONS))), "unknown op"),
        (pc.not_equal(pc.fill_null(table["table"], ""), source), "line belongs to another table"),
        (
            pc.not_equal(pc.fill_null(table["key_types"], ""), key_types),
            "key types differ from the table's key",
        ),
        (
            pc.not_equal(pc.is_null(table["item"]), pc.equal(table["op"], "REMOVE")),
            "item must be null exactly when op is REMOVE",
        ),
    ]
    reason = pa.nulls(table.num_rows, pa.string())
    for mask, text in reversed(checks):
        mask = pc.fill_null(mask, True)
        reason = pc.if_else(mask, pa.scalar(text), reason)
    return reason


def _newest_per_key(sorted_rows: pa.Table) -> pa.Array:
    """Mask of the first row of each key in rows sorted by key, newest first."""
    keys = sorted_rows["key"].combine_chunks()
    n = len(keys)
    if not n:
        return pa.array([], pa.bool_())
    return pa.concat_arrays([pa.array([True]), pc.not_equal(keys.slice(1), keys.slice(0, n - 1))])


def _numbered(rows: pa.Table, narrow: pa.Table, at: pa.Array) -> pa.Table:
    """The rows at ``at`` of ``rows``, ordered by op, keys ascending within, numbered from 1.

    ``narrow`` holds the ``_op`` of those rows (in ``at`` order, keys ascending); the
    stable sort keeps keys ascending within each op. Each op is then one ``_row`` range
    of the stage that the merge runs in key order, one statement per op (a statement
    per file would sweep the target's key space once per file). The wide rows (items)
    are copied once, here.
    """
    order = pc.sort_indices(narrow, sort_keys=[("_op", "ascending")])
    picked = rows.take(pc.take(at, order))
    picked = picked.append_column("_op", pc.take(narrow["_op"], order))
    return picked.append_column("_row", pa.array(range(1, picked.num_rows + 1), pa.int64()))


@dataclass(frozen=True)
class Group:
    """The rows of one op: a contiguous ``_row`` range of a numbered table."""

    op: str
    first: int
    last: int


def groups(rows: pa.Table) -> list[Group]:
    """The op groups of a table numbered by ``prepare``, in row order."""
    if rows.num_rows == 0:
        return []
    counts = rows.group_by(["_op"], use_threads=False).aggregate([("_row", "min"), ("_row", "max")])
    found = [
        Group(op, int(first), int(last))
        for op, first, last in zip(
            counts["_op"].to_pylist(),
            counts["_row_min"].to_pylist(),
            counts["_row_max"].to_pylist(),
            strict=True,
        )
    ]
    return sorted(found, key=lambda g: g.first)


def prepare(
    table: pa.Table, source: str, key_types: str, *, ttl_keep: bool, soft_delete: bool
) -> Prepared:
    """Validate, assign op codes, and keep the newest version of each key.

    Sorting and picking run on a narrow table (key, version, seq, op, file) and on row
    positions; the wide rows are copied only once, as the winners (``_numbered``).
    """
    reason = _check(table, source, key_types)
    invalid = pc.is_valid(reason)
    bad = table.filter(invalid).append_column("_reason", pc.filter(reason, invalid))
    at = pc.indices_nonzero(pc.invert(invalid))
    narrow = table.select(["key", "version_us", "seq", "op", "ttl_delete", "_file"]).take(at)
    removes = pc.equal(narrow["op"], "REMOVE")
    expire = pc.and_(removes, pc.fill_null(narrow["ttl_delete"], False)) if ttl_keep else None
    op = pc.if_else(removes, pa.scalar(OP_DELETE), pa.scalar(OP_UPSERT))
    if expire is not None:
        op = pc.if_else(expire, pa.scalar(OP_EXPIRE), op)
    narrow = narrow.select(["key", "version_us", "seq", "_file"]).append_column("_op", op)
    narrow = narrow.append_column("_seqlen", pc.utf8_length(narrow["seq"]))
    order = pc.sort_indices(
        narrow,
        sort_keys=[
            ("key", "ascending"),
            ("version_us", "descending"),
            ("_seqlen", "descending"),
            ("seq", "descending"),
        ],
    )
    narrow = narrow.take(order)
    at = pc.take(at, order)
    keep = _newest_per_key(narrow)
    winners, winners_at = narrow.filter(keep), pc.filter(at, keep)
    marks = [OP_EXPIRE] + ([OP_DELETE] if soft_delete else [])
    is_mark = pc.is_in(winners["_op"], pa.array(marks))
    before, before_at = narrow.slice(0, 0), at.slice(0, 0)
    if pc.any(is_mark).as_py():
        upserting = pc.equal(narrow["_op"], OP_UPSERT)
        upserts, upserts_at = narrow.filter(upserting), pc.filter(at, upserting)
        newest = _newest_per_key(upserts)
        upserts, upserts_at = upserts.filter(newest), pc.filter(upserts_at, newest)
        marked = pc.is_in(upserts["key"], winners.filter(is_mark)["key"])
        before, before_at = upserts.filter(marked), pc.filter(upserts_at, marked)
    return Prepared(_numbered(table, winners, winners_at), bad, _numbered(table, before, before_at))


_CONTROL = ("\t", "\n", "\r", "\0")


def _escape(arr: pa.Array) -> pa.Array:
    """Text for LOAD DATA with ESCAPED BY '\\': escape \\ tab newline CR NUL; NULL -> \\N."""
    for raw, escaped in (
        ("\\", "\\\\"),
        ("\t", "\\t"),
        ("\n", "\\n"),
        ("\r", "\\r"),
        ("\0", "\\0"),
    ):
        if pc.any(pc.match_substring(arr, raw)).as_py():
            arr = pc.replace_substring(arr, raw, escaped)
    return pc.fill_null(arr, "\\N")


_CONTROL_BYTES = tuple(c.encode() for c in _CONTROL)
# Character data is checked in slices of this size: bounded copies, C-speed searches.
_SCAN_BYTES = 16 << 20


def _needs_escaping(texts: list[pa.Array]) -> bool:
    """Whether any text holds a byte the unescaped format cannot carry (JSON from the
    transform never does: its strings escape control characters).

    Scans each column's character data once as raw bytes, not string by string; bytes
    of the buffer outside the column's values can only make it choose the escaped
    format, which is always correct.
    """
    for arr in texts:
        if len(arr) == 0 or arr.null_count == len(arr):
            continue
        offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)
        first, last = int(offsets[arr.offset]), int(offsets[arr.offset + len(arr)])
        data = arr.buffers()[2]
        for start in range(first, last, _SCAN_BYTES):
            part = data.slice(start, min(_SCAN_BYTES, last - start)).to_pybytes()
            if any(c in part for c in _CONTROL_BYTES):
                return True
    return False


# A column of the prepared rows: the key attribute's value alone, sent as its own field.
KEY_VALUE = "_key"
_NUMBER = r"^-?[0-9]+(\.[0-9]+)?$"


def with_key_value(rows: pa.Table, name: str, letter: str) -> pa.Table:
    """``rows`` with a ``KEY_VALUE`` column: each ``{"<name>": value}`` key text sliced to its
    value (S and B: the string, B still base64; N: the number), so the server need not
    parse the key's JSON. Only when every text has exactly that plain form (no escape, no
    other attribute), which then means what the JSON means; otherwise ``rows`` unchanged
    and the stage reads the key out of the JSON.
    """
    if rows.num_rows == 0 or '"' in name or "\\" in name:
        return rows
    quoted = letter in ("S", "B")
    head = f'{{"{name}":' + ('"' if quoted else "")
    tail = '"}' if quoted else "}"
    keys = rows["key"]
    if keys.null_count or not (
        pc.all(pc.starts_with(keys, head)).as_py()
        and pc.all(pc.ends_with(keys, tail)).as_py()
        and not pc.any(pc.match_substring(keys, "\\")).as_py()
    ):
        return rows
    values = pc.utf8_slice_codeunits(keys, len(head), -len(tail))
    plain = (
        not pc.any(pc.match_substring(values, '"')).as_py()
        if quoted
        else pc.all(pc.match_substring_regex(values, _NUMBER)).as_py()
    )
    return rows.append_column(KEY_VALUE, values) if plain else rows


def load_file(rows: pa.Table) -> tuple[pa.Buffer, bool]:
    """The LOAD DATA input (_row, _file, _op, key, version_us, seq, item, item_types; one
    line per row) and whether it is escaped (``ESCAPED BY '\\'``) or plain (``ESCAPED BY ''``).

    Plain needs no rewriting of the texts and is chosen when no text holds a tab,
    newline, CR or NUL; a NULL item or type map is then the empty field (never a valid
    one). The type map tells mapped columns B from S and sets from lists.
    """
    if rows.num_rows == 0:
        return pa.py_buffer(b""), False
    key_field = KEY_VALUE if KEY_VALUE in rows.column_names else "key"
    names = (key_field, "seq", "item", "item_types")
    texts = [rows[c].combine_chunks().cast(pa.large_string()) for c in names]
    escaped = _needs_escaping(texts)
    if escaped:
        texts = [_escape(t) for t in texts]
    key, seq, item, item_types = texts
    # The joins write a NULL item or type map as the empty field (plain; _escape has
    # already made them \N), so no column is copied just to fill its nulls.
    null = {"null_handling": "replace", "null_replacement": ""}
    # The newline goes on the last field, a small column: joining the whole lines once
    # more to append it would copy every byte of the file again.
    ended = pc.binary_join_element_wise(item_types, _EMPTY, _NEWLINE, **null)
    fields = [
        pc.cast(rows["_row"], pa.large_string()).combine_chunks(),
        pc.cast(rows["_file"], pa.large_string()).combine_chunks(),
        rows["_op"].combine_chunks().cast(pa.large_string()),
        key,
        pc.cast(rows["version_us"], pa.large_string()).combine_chunks(),
        seq,
        item,
        ended,
    ]
    lines = pc.binary_join_element_wise(*fields, _TAB, **null)
    data = lines.buffers()[2]
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)
    first = int(offsets[lines.offset])
    last = int(offsets[lines.offset + len(lines)])
    return data.slice(first, last - first), escaped
