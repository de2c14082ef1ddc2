"""One LOAD DATA round inside a batch's transaction: stage, check warnings, merge, count.

The caller holds the table's named lock and an open transaction; this module
loads the prepared rows into a temporary stage, moves every row that produced
a warning (a value that does not fit its column, a key that would round) or whose
value a mapped column refused (``loaders.columns``) out to quarantine, then merges the rest with version guards: one statement per op,
over the stage in key order (so the target's B-tree is swept once), after one
query that counts, per file and op, the rows those statements will win. Each
statement's own count of changed rows must agree with it, or nothing commits.
A table without mapped columns has its items checked as JSON only once, by its
overflow column in the merge: when that check refuses one, the round's merge is
rolled back to a savepoint, the items that are not JSON go to quarantine, and the
rest merge again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pymysql

from loaders import columns, sql
from loaders.arrowfile import KEY_VALUE, groups, load_file
from loaders.errors import TerminalError, is_check_failed
from loaders.sql import OP_DELETE, Target

_AT_ROW = re.compile(r"\bat row (\d+)")
_MAX_WARNINGS = 65535
_DUPLICATES = re.compile(rb"Duplicates: (\d+)")


@dataclass
class ChunkOutcome:
    rejected: dict[int, str] = field(default_factory=dict)  # load-file row -> reason
    wins: dict[tuple[int, str], int] = field(default_factory=dict)  # (file, op) -> winners


def _warnings(cur: Any, expected: int) -> dict[int, str]:
    cur.execute(sql.show_warnings())
    rows = cur.fetchall()
    rejected: dict[int, str] = {}
    for level, code, message in rows:
        m = _AT_ROW.search(message)
        if not m:
            raise TerminalError(
                f"LOAD DATA raised a warning that names no row ({level} {code}: {message}); "
                "nothing was merged. Check the mapping's column types."
            )
        rejected.setdefault(int(m.group(1)), f"{level} {code}: {message}")
    if expected > len(rows) or len(rows) >= _MAX_WARNINGS:
        raise TerminalError(
            f"LOAD DATA raised {expected} warnings, more than can be checked one by one; "
            "nothing was merged. The mapping's column types likely do not fit the data."
        )
    return rejected


def _refusal(bad: int, checked: list[sql.DataColumn], codes: list[str | None]) -> str:
    if bad:
        return "the item or its type map is not valid JSON"
    column, code = next((c, x) for c, x in zip(checked, codes, strict=True) if x is not None)
    return columns.reason(column.name, column.sql_type, code)


def _name_columns(t: Target, rows: pa.Table, warned: dict[int, str]) -> dict[int, str]:
    """Reasons that name the mapped column and the DynamoDB type, for rows whose warning
    names a mapped column (the rest keep MariaDB's words). Python runs per refused row only."""
    mapped = {c.name.lower(): c for c in t.data if c.path is not None}
    picked = rows.filter(pc.is_in(rows["_row"], pa.array(list(warned), pa.int64())))
    named = {}
    for row, item, item_types in zip(
        picked["_row"].to_pylist(),
        picked["item"].to_pylist(),
        picked["item_types"].to_pylist(),
        strict=True,
    ):
        column = mapped.get((columns.warned_column(warned[row]) or "").lower())
        if column is not None and column.path is not None:
            tag = columns.dynamodb_type(item, item_types, column.path)
            named[row] = columns.warning_reason(column.name, column.sql_type, tag, warned[row])
    return named


def _may_refuse(t: Target, rows: pa.Table) -> bool:
    """Whether the load can have refused a row (``sql.refused_rows``): the stage checked
    items or mapped values, or some row carries a type map to check. Otherwise the scan
    of the stage that finds them is skipped."""
    if sql.stage_checks_item(t) or any(c.checked for c in t.data):
        return True
    return rows["item_types"].null_count < rows.num_rows


def _changed(conn: Any, cur: Any) -> int:
    """Rows an ``INSERT ... SELECT ... ON DUPLICATE KEY UPDATE`` inserted or changed.

    Affected rows count 1 per insert and 2 per changed row; the server's info line
    counts the changed rows as Duplicates (unchanged ones count nowhere).
    """
    info = conn.last_info()
    m = _DUPLICATES.search(info)
    if m is None:
        raise TerminalError(
            f"the server did not report duplicates for a merge statement ({info!r}); "
            "nothing was committed."
        )
    return cur.rowcount - int(m.group(1))


def _agree(op: str, changed: int, wins: dict[tuple[int, str], int]) -> None:
    counted = sum(n for (_, o), n in wins.items() if o == op)
    if changed != counted:
        raise TerminalError(
            f"the merge of op {op} changed {changed} rows where {counted} were counted to "
            "win; nothing was committed."
        )


def _drop(cur: Any, rejected: dict[int, str]) -> None:
    ids = sorted(rejected)
    for start in range(0, len(ids), 1000):
        part = ids[start : start + 1000]
        cur.execute(sql.delete_stage_rows(len(part)), part)


def merge_chunk(
    conn: Any, t: Target, rows: pa.Table, file: tuple[pa.Buffer, bool] | None = None
) -> ChunkOutcome:
    """Stage ``rows`` (prepared winners), quarantine misfits, merge; no COMMIT here.

    ``file``: the load file of ``rows`` (``arrowfile.load_file``) if already built.
    """
    out = ChunkOutcome()
    if rows.num_rows == 0:
        return out
    with conn.cursor() as cur:
        cur.execute(sql.drop_stage())
        cur.execute(sql.create_stage(t))
        data, escaped = file if file is not None else load_file(rows)
        with conn.infile(data) as name:
            raw_key = KEY_VALUE in rows.column_names
            statement, params = sql.load_data(t, name, escaped, raw_key=raw_key)
            cur.execute(statement, params)
        warning_count = conn.last_warning_count()
        loaded = cur.rowcount
        if warning_count:
            out.rejected.update(_warnings(cur, warning_count))
        if loaded != rows.num_rows:
            raise TerminalError(
                f"LOAD DATA staged {loaded} of {rows.num_rows} rows; nothing was merged."
            )
        if out.rejected:
            out.rejected.update(_name_columns(t, rows, out.rejected))
        if _may_refuse(t, rows):
            query, checked = sql.refused_rows(t)
            cur.execute(query)
            for row, bad, *codes in cur.fetchall():
                out.rejected.setdefault(int(row), _refusal(bad, checked, codes))
        _drop(cur, out.rejected)
        cur.execute(sql.savepoint())
        try:
            _merge_staged(conn, cur, t, rows, out)
        except pymysql.err.Error as e:
            if not is_check_failed(e) or sql.stage_checks_item(t):
                raise
            # The overflow column refused an item the stage did not parse: undo this
            # round's merge, quarantine the items that are not JSON, merge again.
            cur.execute(sql.rollback_to_savepoint())
            cur.execute(sql.unchecked_items(t))
            refused = {int(row): "the item is not valid JSON" for (row,) in cur.fetchall()}
            if not refused:
                raise
            out.rejected.update(refused)
            _drop(cur, refused)
            out.wins.clear()
            _merge_staged(conn, cur, t, rows, out)
        cur.execute(sql.drop_stage())
    return out


def _merge_staged(conn: Any, cur: Any, t: Target, rows: pa.Table, out: ChunkOutcome) -> None:
    """Count each file's winners, then merge the staged rows one op at a time."""
    cur.execute(sql.winners(t))
    for file_no, op_code, count in cur.fetchall():
        out.wins[(int(file_no), op_code)] = int(count)
    for g in groups(rows):
        if g.op == OP_DELETE and t.hard_delete:
            cur.execute(sql.hard_delete(t), [g.first, g.last])
            cur.execute(sql.write_tombstones(t), [g.first, g.last])
        else:
            cur.execute(sql.upsert(t), [g.first, g.last])
        _agree(g.op, _changed(conn, cur), out.wins)
