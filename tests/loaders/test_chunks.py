"""Large files stream in bounded chunks within one transaction; a file that breaks after
part of it was merged is rolled back and quarantined while the others load."""

from __future__ import annotations

import base64
import gzip
import os

from contract.config import parse_config
from loaders import arrowfile, batch, ledger
from loaders.engine import load_staging_bytes
from loaders.quarantine import MemoryQuarantine
from loaders.settings import LoaderSettings
from tests.loaders.builders import change, obj, staging_key
from tests.loaders.conftest import fetch


def test_chunked_load_and_restart_without_a_file_broken_midway(conn, admin, monkeypatch):
    # GIVEN tiny read blocks and chunks, a good file whose older versions come in later
    # chunks, and a file whose gzip breaks after several chunks were merged
    monkeypatch.setattr(arrowfile, "_BLOCK", 2048)
    monkeypatch.setattr(arrowfile, "_THREADS", False)  # errors surface in file order
    settings = LoaderSettings(config=parse_config({}), chunk_rows=30)
    newer = [change("chunky", {"pk": {"S": f"k{i}"}}, {"v": {"N": "2"}}, 20) for i in range(100)]
    older = [change("chunky", {"pk": {"S": f"k{i}"}}, {"v": {"N": "1"}}, 10) for i in range(100)]
    good = obj("chunky", newer + older, "a")
    # Incompressible items: the gzip breaks far beyond the decompressor's first read.
    noise = [base64.b64encode(os.urandom(900)).decode() for _ in range(300)]
    broken_lines = [
        change("chunky", {"pk": {"S": f"x{i}"}}, {"r": {"S": noise[i]}}, 30) for i in range(300)
    ]
    broken = (
        staging_key("chunky", "b"),
        "eb",
        gzip.compress(b"".join(broken_lines)) + b"\x1f\x8b\x08junk",
    )
    q = MemoryQuarantine()
    restarts = []
    real_init = batch.Restart.__init__

    def spy(self, job, reason):
        restarts.append(job.key)
        real_init(self, job, reason)

    monkeypatch.setattr(batch.Restart, "__init__", spy)
    # WHEN both load in one batch
    results = load_staging_bytes(
        conn, settings.config, [good, broken], quarantine=q, settings=settings
    )
    # THEN the good file is complete with exact counts, nothing of the broken one remains
    assert restarts == [broken[0]], results  # it broke after part of it was merged
    by_key = {r.key: r for r in results}
    a, b = by_key[good[0]], by_key[broken[0]]
    assert (a.status, a.read, a.applied, a.stale) == ("loaded", 200, 100, 100)
    assert b.status == "quarantined" and "unreadable" in b.error and broken[0] in q.files
    assert fetch(admin, "SELECT COUNT(*), SUM(pk LIKE 'x%%'), MIN(item) FROM chunky") == [
        (100, 0, '{"v":2,"pk":"k0"}')
    ]
    rows = {r.s3_key: r.status for r in ledger.ledger_rows(admin, [good[0], broken[0]])}
    assert rows == {good[0]: "loaded", broken[0]: "quarantined"}
