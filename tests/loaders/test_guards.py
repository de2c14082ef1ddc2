"""The loader's guards, each reached on the real MariaDB: a LOAD DATA warning that names
no row, the merge's count check, the search for the bad file of a failing batch, batch
splitting by files and by bytes, and a restart decided on the read-ahead thread.

Where no real input reaches a guard, the test injects the fault at the narrowest seam
and says so; everything else (the server, the transaction, the ledger) is real.
"""

from __future__ import annotations

import base64
import gzip
import os
import threading
from typing import Any

import pytest

from contract.config import PipelineConfig, parse_config
from loaders import arrowfile, batch, engine, ledger, merge, sql
from loaders.engine import load_staging_bytes
from loaders.errors import TerminalError
from loaders.quarantine import MemoryQuarantine
from loaders.settings import LoaderSettings
from tests.loaders.builders import change, obj, staging_key
from tests.loaders.conftest import fetch


def _config(table: str, columns: dict[str, Any] | None = None) -> PipelineConfig:
    spec: dict[str, Any] = {"partition_key": {"name": "pk"}}
    if columns:
        spec["columns"] = columns
    return parse_config({"tables": {table: spec}})


def _put(table: str, n: int, version: int = 1, prefix: str = "k") -> bytes:
    return change(table, {"pk": {"S": f"{prefix}{n}"}}, {"v": {"N": str(n)}}, version)


def _statuses(admin: Any, keys: list[str]) -> dict[str, str]:
    return {r.s3_key: r.status for r in ledger.ledger_rows(admin, keys)}


def _rows(admin: Any, table: str) -> list[str]:
    return [pk for (pk,) in fetch(admin, f"SELECT pk FROM `{table}` ORDER BY pk")]


def _target_rows(admin: Any, table: str) -> list[str]:
    """The target's keys, or [] when the failed load left no target table at all."""
    if not fetch(admin, "SHOW TABLES LIKE %s", [table]):
        return []
    return _rows(admin, table)


# -- a warning that names no row ---------------------------------------------------------


def test_a_load_data_warning_that_names_no_row_fails_the_file_and_merges_nothing(
    conn: Any, admin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every warning a real input produced names its row ("... at row N"; probed with
    too-long strings, out-of-range integers, extra decimals), so the row-less one is
    injected: the load's real warning is kept (the warning count stays the server's), and
    only the text of SHOW WARNINGS (``sql.show_warnings``, the one seam) is replaced by a
    query answering the same warning without its row."""
    table = "guard_rowless"
    config = _config(table, {"c": {"path": "v", "type": "VARCHAR(3)"}})
    lines = [
        change(table, {"pk": {"S": "fits"}}, {"v": {"S": "ab"}}, 1),
        change(table, {"pk": {"S": "too-long"}}, {"v": {"S": "abcdef"}}, 1),  # warns
    ]
    monkeypatch.setattr(
        sql, "show_warnings", lambda: "SELECT 'Warning', 1265, 'Data truncated for column ''c'''"
    )
    key, etag, data = obj(table, lines)
    q = MemoryQuarantine()

    [result] = load_staging_bytes(conn, config, [(key, etag, data)], quarantine=q)

    # THEN the file fails terminally with the warning's words, and no row was merged
    assert result.status == "failed", result
    assert "names no row" in (result.error or "") and "Data truncated" in (result.error or "")
    assert _target_rows(admin, table) == []
    assert q.rows == {} and q.files == {}
    assert _statuses(admin, [key]) == {key: ledger.FAILED}


def test_the_same_warning_with_its_row_quarantines_only_that_row(conn: Any, admin: Any) -> None:
    """The control of the test above: unpatched, the same input loads and quarantines
    the one row, so the failure above is the row-less warning's doing."""
    table = "guard_rowed"
    config = _config(table, {"c": {"path": "v", "type": "VARCHAR(3)"}})
    lines = [
        change(table, {"pk": {"S": "fits"}}, {"v": {"S": "ab"}}, 1),
        change(table, {"pk": {"S": "too-long"}}, {"v": {"S": "abcdef"}}, 1),
    ]
    key, etag, data = obj(table, lines)
    [result] = load_staging_bytes(conn, config, [(key, etag, data)], quarantine=MemoryQuarantine())
    assert (result.status, result.applied, result.quarantined) == ("loaded", 1, 1), result
    assert _rows(admin, table) == ["fits"]


# -- the count check ---------------------------------------------------------------------


def test_a_merge_count_that_disagrees_commits_nothing(
    conn: Any, admin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server's own counts always agree on a healthy server, so the disagreement is
    injected: ``merge._changed`` (the changed-row count of one merge statement, read from
    the server) reports one row more than the server did for the batch's second statement,
    after the first statement has already merged rows in the transaction."""
    table = "guard_counts"
    config = _config(table)
    first = obj(table, [_put(table, 0)], "first")
    [r0] = load_staging_bytes(conn, config, [first])
    assert r0.status == "loaded"
    # A file with a REMOVE of k0 and upserts of k1, k2: two merge statements (one per op).
    second = obj(
        table,
        [change(table, {"pk": {"S": "k0"}}, None, 5), _put(table, 1, 5), _put(table, 2, 5)],
        "second",
    )
    real_changed = merge._changed
    calls = []

    def disagreeing(conn: Any, cur: Any) -> int:
        n = real_changed(conn, cur)
        calls.append(n)
        return n + 1 if len(calls) == 2 else n

    monkeypatch.setattr(merge, "_changed", disagreeing)

    [result] = load_staging_bytes(conn, config, [second])

    # THEN the second statement's count was off, and neither statement's rows committed
    assert len(calls) >= 2 and calls[0] >= 1, calls
    assert result.status == "failed" and "counted to win" in (result.error or ""), result
    assert _rows(admin, table) == ["k0"]
    assert fetch(admin, f"SELECT COUNT(*) FROM `{table}` WHERE {sql.DELETED} <> 0") == [(0,)]
    assert _statuses(admin, [first[0], second[0]]) == {
        first[0]: ledger.LOADED,
        second[0]: ledger.FAILED,
    }


# -- the search for the bad file ---------------------------------------------------------


def test_a_failing_batch_is_split_to_fail_only_the_file_at_fault(
    conn: Any, admin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No real file fails terminally by itself while its batch-mates load (bad lines are
    quarantined, not fatal), so one file's merge is made to fail: ``batch.merge_chunk``
    raises a TerminalError for any chunk holding the poisoned key. The engine must find
    that file by loading the batch's files one by one, and load the others."""
    table = "guard_search"
    config = _config(table)
    files = [obj(table, [_put(table, n)], f"f{n}") for n in range(3)]
    poisoned = obj(table, [_put(table, 9, prefix="poison")], "f1b")  # sorts between f1 and f2
    real_merge = batch.merge_chunk

    def failing(conn: Any, t: Any, rows: Any, file: Any = None) -> Any:
        if any(str(k).startswith('{"pk":"poison') for k in rows["key"].to_pylist()):
            raise TerminalError("the poisoned file cannot be merged")
        return real_merge(conn, t, rows, file)

    monkeypatch.setattr(batch, "merge_chunk", failing)
    sizes = []
    real_load = batch.BatchLoader.load

    def spy(self: Any, jobs: list[Any]) -> None:
        sizes.append(len(jobs))
        real_load(self, jobs)

    monkeypatch.setattr(batch.BatchLoader, "load", spy)

    results = load_staging_bytes(conn, config, [*files, poisoned])

    # THEN one batch of four failed, each file was then tried alone, and only one failed
    assert sizes == [4, 1, 1, 1, 1], sizes
    status = {r.key: r.status for r in results}
    assert status == {**{f[0]: "loaded" for f in files}, poisoned[0]: "failed"}, results
    assert _rows(admin, table) == ["k0", "k1", "k2"]
    assert _statuses(admin, [f[0] for f in [*files, poisoned]]) == {
        **{f[0]: ledger.LOADED for f in files},
        poisoned[0]: ledger.FAILED,
    }


# -- batch splitting ---------------------------------------------------------------------


def _committed_per_batch(
    admin: Any, table: str, monkeypatch: pytest.MonkeyPatch
) -> list[tuple[int, int]]:
    """Spy on each batch: (files in it, target rows another session sees right after it),
    so each batch is shown to have committed on its own."""
    seen: list[tuple[int, int]] = []
    real_load = batch.BatchLoader.load

    def spy(self: Any, jobs: list[Any]) -> None:
        n = len(jobs)
        real_load(self, jobs)
        admin.commit()  # a fresh snapshot for the checking session
        seen.append((n, fetch(admin, f"SELECT COUNT(*) FROM `{table}`")[0][0]))

    monkeypatch.setattr(batch.BatchLoader, "load", spy)
    return seen


def test_batches_split_by_file_count_and_each_commits(
    conn: Any, admin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = "guard_files"
    config = _config(table)
    files = [obj(table, [_put(table, n)], f"f{n}") for n in range(5)]
    settings = LoaderSettings(config=config, batch_max_files=2)
    seen = _committed_per_batch(admin, table, monkeypatch)

    results = load_staging_bytes(conn, config, files, settings=settings)

    # THEN batches of 2, 2 and 1 files, each visible to another session once it returned
    assert seen == [(2, 2), (2, 4), (1, 5)], seen
    assert {r.status for r in results} == {"loaded"}
    assert _rows(admin, table) == [f"k{n}" for n in range(5)]
    assert set(_statuses(admin, [f[0] for f in files]).values()) == {ledger.LOADED}


def test_batches_split_by_bytes_and_each_commits(
    conn: Any, admin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = "guard_bytes"
    config = _config(table)
    # Incompressible values give each file a size known to the byte after gzip.
    files = [
        obj(
            table,
            [
                change(
                    table,
                    {"pk": {"S": f"k{n}"}},
                    {"r": {"S": base64.b64encode(os.urandom(3000)).decode()}},
                    1,
                )
            ],
            f"f{n}",
        )
        for n in range(4)
    ]
    largest = max(len(f[2]) for f in files)
    # Two files always fit, three never do: the file limit (32) plays no part.
    settings = LoaderSettings(config=config, batch_max_bytes=2 * largest + 1)
    assert 3 * min(len(f[2]) for f in files) > settings.batch_max_bytes
    seen = _committed_per_batch(admin, table, monkeypatch)

    results = load_staging_bytes(conn, config, files, settings=settings)

    assert seen == [(2, 2), (2, 4)], seen
    assert {r.status for r in results} == {"loaded"}
    assert _rows(admin, table) == [f"k{n}" for n in range(4)]
    assert set(_statuses(admin, [f[0] for f in files]).values()) == {ledger.LOADED}


# -- a restart with threaded reads -------------------------------------------------------


def test_a_file_unreadable_midway_restarts_the_batch_from_the_read_ahead_thread(
    conn: Any, admin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Threaded reads on: Arrow's own reader threads (``arrowfile._THREADS``) and the
    read-ahead thread (``loaders.prefetch``) that builds chunks while the previous one
    merges. A file whose gzip breaks after some of its chunks were merged must roll the
    batch back and redo it without that file."""
    table = "guard_restart"
    monkeypatch.setattr(arrowfile, "_BLOCK", 2048)
    monkeypatch.setattr(arrowfile, "_THREADS", True)
    config = _config(table)
    settings = LoaderSettings(config=config, chunk_rows=30)
    good_lines = [_put(table, n, 2) for n in range(100)] + [_put(table, n, 1) for n in range(100)]
    good = obj(table, good_lines, "a")
    noise = [base64.b64encode(os.urandom(900)).decode() for _ in range(300)]
    broken_lines = [
        change(table, {"pk": {"S": f"x{i}"}}, {"r": {"S": noise[i]}}, 3) for i in range(300)
    ]
    broken = (
        staging_key(table, "b"),
        "eb",
        gzip.compress(b"".join(broken_lines)) + b"\x1f\x8b\x08junk",
    )
    restarts: list[tuple[str, str]] = []
    real_init = batch.Restart.__init__

    def spy(self: Any, job: Any, reason: str) -> None:
        restarts.append((job.key, threading.current_thread().name))
        real_init(self, job, reason)

    monkeypatch.setattr(batch.Restart, "__init__", spy)
    runs = []
    real_run_batch = engine._Runner._run_batch

    def count_runs(self: Any, jobs: list[Any]) -> None:
        runs.append([j.key for j in jobs])
        real_run_batch(self, jobs)

    monkeypatch.setattr(engine._Runner, "_run_batch", count_runs)
    q = MemoryQuarantine()

    results = load_staging_bytes(conn, config, [good, broken], quarantine=q, settings=settings)

    # THEN the read-ahead thread found the break after part of the file was merged, the
    # batch ran again (same two jobs, the broken one now set aside), and only the good
    # file's rows are in the table
    assert restarts == [(broken[0], "ddbload-prefetch")], restarts
    assert runs == [[good[0], broken[0]], [good[0], broken[0]]], runs
    by_key = {r.key: r for r in results}
    a, b = by_key[good[0]], by_key[broken[0]]
    assert (a.status, a.read, a.applied, a.stale) == ("loaded", 200, 100, 100)
    assert b.status == "quarantined" and "unreadable" in (b.error or "") and broken[0] in q.files
    assert fetch(admin, f"SELECT COUNT(*), SUM(pk LIKE 'x%%') FROM `{table}`") == [(100, 0)]
    assert _statuses(admin, [good[0], broken[0]]) == {
        good[0]: ledger.LOADED,
        broken[0]: ledger.QUARANTINED,
    }
