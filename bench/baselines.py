"""The designs the loader replaces, and its ceiling, as benchmark baselines.

Each writes the same changes (``bench.workload``) into a table of the loader's
default shape (key column + whole item as JSON + version), so the bench can
check that every design ends in the same rows. Upserts and deletes are
version-guarded the way a careful per-record Lambda would do it; with the
workload's guarantees (no key comes back after a delete, re-deliveries only
of live keys) that gives the loader's final state without tombstones.

The fair ceiling (``newest_per_key``, ``load_winners``) is one LOAD DATA of
exactly the rows a merge into an empty target leaves behind, into the loader's
own target and tombstone tables, with no merge: what any keyed design must at
least write. The raw ceiling (``raw_load``) loads every change unkeyed.

Timings start after the changes are decoded into SQL parameters, which
favours the baselines: the loader is timed from gzip bytes. The slow designs
take an optional deadline and return what they applied (a prefix in arrival
order, per shard for the concurrent one), so a busy machine cannot stretch a
benchmark run without bound; their rate and final state are then those of
that prefix.
"""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path

import pymysql

from bench.workload import Change
from contract.staging import version_key
from loaders.sql import DATA_SEQ, DATA_VERSION, SEQ, VERSION, quote

KEY_COLUMN = "id"
ITEM_COLUMN = "item"

# The old design's guard: a change applies only when its version is newer
# than the row's, compared as (version_us, len(seq), seq). The column
# assignments run left to right and see earlier ones, so the verdict is taken
# once into @newer before any version column changes.
_UPSERT = (
    "INSERT INTO `{t}` (`id`, `item`, `version_us`, `seq`) VALUES (%s, %s, %s, %s) "
    "ON DUPLICATE KEY UPDATE "
    "`item` = IF(@newer := (VALUES(`version_us`), CHAR_LENGTH(VALUES(`seq`)), VALUES(`seq`))"
    " > (`version_us`, CHAR_LENGTH(`seq`), `seq`), VALUES(`item`), `item`), "
    "`seq` = IF(@newer, VALUES(`seq`), `seq`), "
    "`version_us` = IF(@newer, VALUES(`version_us`), `version_us`)"
)
_DELETE = (
    "DELETE FROM `{t}` WHERE `id` = %s"
    " AND (`version_us`, CHAR_LENGTH(`seq`), `seq`) < (%s, CHAR_LENGTH(%s), %s)"
)


def create_table(conn: pymysql.Connection, table: str) -> None:
    """The target as the old design kept it: key, whole item, version of the row."""
    with conn.cursor() as cur:
        cur.execute(
            f"CREATE TABLE `{table}` ("
            " `id` VARCHAR(255) NOT NULL PRIMARY KEY,"
            " `item` JSON NOT NULL,"
            " `version_us` BIGINT NOT NULL,"
            " `seq` VARCHAR(64) NOT NULL"
            ") ENGINE=InnoDB"
        )


def _apply(cur: pymysql.cursors.Cursor, table: str, change: Change) -> None:
    if change.item is None:
        cur.execute(
            _DELETE.format(t=table), (change.key, change.version_us, change.seq, change.seq)
        )
    else:
        cur.execute(
            _UPSERT.format(t=table), (change.key, change.item, change.version_us, change.seq)
        )


def _past(deadline: float | None) -> bool:
    return deadline is not None and time.perf_counter() > deadline


def per_row(
    params: dict, table: str, changes: Sequence[Change], deadline: float | None = None
) -> Sequence[Change]:
    """The old design: one autocommit statement per change on one connection.

    Stops at ``deadline`` (``time.perf_counter``) if given; returns the changes
    it applied, always a prefix of ``changes``.
    """
    conn = pymysql.connect(**{**params, "autocommit": True})
    try:
        with conn.cursor() as cur:
            for done, change in enumerate(changes):
                if _past(deadline):
                    return changes[:done]
                _apply(cur, table, change)
    finally:
        conn.close()
    return changes


def per_row_concurrent(
    params: dict,
    table: str,
    changes: Sequence[Change],
    deadline: float | None = None,
    connections: int = 8,
) -> Sequence[Change]:
    """The old design scaled out: one writer per shard, a key always on the same shard.

    Kinesis keeps a key's changes in order within its shard, and one Lambda
    per shard writes them; each thread here is such a Lambda. Returns the
    changes applied (a prefix of each shard), in arrival order.
    """
    shards: list[list[int]] = [[] for _ in range(connections)]
    for index, change in enumerate(changes):
        shards[zlib.crc32(change.key.encode()) % connections].append(index)
    applied: list[int] = []
    errors: list[BaseException] = []

    def writer(shard: list[int]) -> None:
        try:
            done = per_row(params, table, [changes[i] for i in shard], deadline)
            applied.extend(shard[: len(done)])
        except BaseException as e:  # surfaced after join: a failed writer fails the case
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(s,)) for s in shards]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return [changes[i] for i in sorted(applied)]


def _runs(batch: Sequence[Change]) -> Iterable[tuple[bool, list[Change]]]:
    """Consecutive changes of the same kind (upsert or delete), in order."""
    run: list[Change] = []
    for change in batch:
        if run and (change.item is None) != (run[0].item is None):
            yield run[0].item is None, run
            run = []
        run.append(change)
    if run:
        yield run[0].item is None, run


def batched(
    params: dict,
    table: str,
    changes: Sequence[Change],
    deadline: float | None = None,
    batch: int = 1000,
) -> Sequence[Change]:
    """Batched writes: ``executemany`` per run of upserts or deletes, one transaction per batch.

    PyMySQL turns an ``executemany`` INSERT into multi-row statements; deletes
    stay one statement per row. Runs keep the arrival order within a batch.
    Stops between batches at ``deadline``; returns the changes applied.
    """
    conn = pymysql.connect(**{**params, "autocommit": False})
    try:
        with conn.cursor() as cur:
            for start in range(0, len(changes), batch):
                if _past(deadline):
                    return changes[:start]
                for is_delete, run in _runs(changes[start : start + batch]):
                    if is_delete:
                        cur.executemany(
                            _DELETE.format(t=table),
                            [(c.key, c.version_us, c.seq, c.seq) for c in run],
                        )
                    else:
                        cur.executemany(
                            _UPSERT.format(t=table),
                            [(c.key, c.item, c.version_us, c.seq) for c in run],
                        )
                conn.commit()
    finally:
        conn.close()
    return changes


def _tsv_field(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def write_raw_file(changes: Sequence[Change], path: Path) -> None:
    """The prepared load file of the ceiling: one TSV row per change, no merge to do."""
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for c in changes:
            item = "\\N" if c.item is None else _tsv_field(c.item)
            f.write(f"{_tsv_field(c.key)}\t{c.op}\t{item}\t{c.version_us}\t{c.seq}\n")


def create_raw_table(conn: pymysql.Connection, table: str, *, keyed: bool = False) -> None:
    """Staging-shaped; unkeyed (rows land in arrival order, nothing to look up) or
    with the target's primary key ``id``."""
    with conn.cursor() as cur:
        key = ", PRIMARY KEY (`id`)" if keyed else ""
        cur.execute(
            f"CREATE TABLE `{table}` ("
            " `id` VARCHAR(255) NOT NULL,"
            " `op` VARCHAR(8) NOT NULL,"
            " `item` LONGTEXT NULL,"
            " `version_us` BIGINT NOT NULL,"
            f" `seq` VARCHAR(64) NOT NULL{key}"
            ") ENGINE=InnoDB"
        )


def raw_load(params: dict, table: str, path: Path, *, replace: bool = False) -> int:
    """The ceiling: one ``LOAD DATA LOCAL INFILE`` of a prepared file, one COMMIT
    (``replace``: a later row of a key replaces the earlier one)."""
    conn = pymysql.connect(**{**params, "autocommit": False, "local_infile": True})
    try:
        with conn.cursor() as cur:
            loaded = cur.execute(
                f"LOAD DATA LOCAL INFILE %s {'REPLACE ' if replace else ''}INTO TABLE `{table}` "
                "CHARACTER SET utf8mb4"
                " FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n'"
                " (`id`, `op`, `item`, `version_us`, `seq`)",
                (str(path),),
            )
            cur.execute("SHOW WARNINGS")
            warnings = cur.fetchall()
        conn.commit()
    finally:
        conn.close()
    if warnings:
        raise RuntimeError(f"raw LOAD DATA gave warnings: {warnings[:3]}")
    return loaded


def newest_per_key(changes: Iterable[Change]) -> list[Change]:
    """The newest change of each key, in key order: what a merge into an empty table keeps
    (rows for upserts, tombstones for deletes)."""
    newest: dict[str, Change] = {}
    for change in changes:
        held = newest.get(change.key)
        if held is None or version_key(change.version_us, change.seq) > version_key(
            held.version_us, held.seq
        ):
            newest[change.key] = change
    # Python orders str by code point, which is the UTF-8 byte order of the key column.
    return [newest[key] for key in sorted(newest)]


def write_winner_files(winners: Sequence[Change], rows: Path, tombs: Path) -> tuple[int, int]:
    """The ceiling's load files: live rows (key, item, version, seq) and tombstones
    (key, version, seq); returns how many lines each holds."""
    counts = [0, 0]
    with (
        open(rows, "w", encoding="utf-8", newline="\n") as r,
        open(tombs, "w", encoding="utf-8", newline="\n") as t,
    ):
        for c in winners:
            if c.item is None:
                t.write(f"{_tsv_field(c.key)}\t{c.version_us}\t{c.seq}\n")
                counts[1] += 1
            else:
                r.write(f"{_tsv_field(c.key)}\t{_tsv_field(c.item)}\t{c.version_us}\t{c.seq}\n")
                counts[0] += 1
    return counts[0], counts[1]


_LOAD = (
    "LOAD DATA LOCAL INFILE %s INTO TABLE {table} CHARACTER SET utf8mb4"
    " FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' {columns}"
)


def load_winners(
    params: dict,
    *,
    table: str,
    tomb: str,
    key_column: str,
    item_column: str,
    rows: Path,
    tombs: Path,
) -> tuple[int, int]:
    """The fair ceiling: the winners into the target and its tombstones, one COMMIT.

    The version columns get what a merge writes (the data version of a live row is
    its version); the target's JSON column checks every item as it does for the loader.
    """
    version, seq, data_version, data_seq = (
        quote(c) for c in (VERSION, SEQ, DATA_VERSION, DATA_SEQ)
    )
    conn = pymysql.connect(**{**params, "autocommit": False, "local_infile": True})
    try:
        with conn.cursor() as cur:
            loaded = cur.execute(
                _LOAD.format(
                    table=quote(table),
                    columns=f"({quote(key_column)}, {quote(item_column)}, @v, @s) SET "
                    f"{version} = @v, {seq} = @s, {data_version} = @v, {data_seq} = @s",
                ),
                (str(rows),),
            )
            cur.execute("SHOW WARNINGS")
            warnings = list(cur.fetchall())
            buried = cur.execute(
                _LOAD.format(table=quote(tomb), columns=f"({quote(key_column)}, {version}, {seq})"),
                (str(tombs),),
            )
            cur.execute("SHOW WARNINGS")
            warnings += cur.fetchall()
        conn.commit()
    finally:
        conn.close()
    if warnings:
        raise RuntimeError(f"the ceiling's LOAD DATA gave warnings: {warnings[:3]}")
    return loaded, buried
