"""Network faults between the loader and MariaDB, through a TCP proxy that breaks on cue.

Each case arms one fault (drop, reset, stall) at a point of the load (mid
LOAD DATA LOCAL, around COMMIT), runs scheduled loader invocations through the
proxy until the backlog is settled, then reconciles against DynamoDB and audits
the ledger: nothing lost, nothing doubled.
"""

from __future__ import annotations

import pytest

from loaders.db import connect
from loaders.settings import LoaderSettings
from reliability.checks import measure
from reliability.fault_proxy import FaultProxy
from reliability.scenario import mariadb_url, tick
from tests.conftest import for_database, mariadb_params
from tests.reliability.conftest import load_until_settled

pytestmark = pytest.mark.xdist_group("reliability-network")

CASES = [
    # (id, pattern, action, after_bytes, forward_first, what it models)
    ("drop-mid-load", b"\x03LOAD DATA", "drop", 4096, True, "FIN 4 KB into the load file"),
    ("reset-mid-load", b"\x03LOAD DATA", "reset", 4096, True, "RST 4 KB into the load file"),
    ("stall-mid-load", b"\x03LOAD DATA", "stall", 4096, True, "2 s stall 4 KB into the load file"),
    ("stall-then-reset-mid-load", b"\x03LOAD DATA", "stall_reset", 0, True, "2 s stall, then RST"),
    ("drop-before-commit", b"\x03COMMIT", "drop", 0, False, "FIN instead of COMMIT"),
    ("reset-before-commit", b"\x03COMMIT", "reset", 0, False, "RST instead of COMMIT"),
    ("drop-after-commit", b"\x03COMMIT", "drop", 0, True, "COMMIT reaches the server, reply lost"),
    ("reset-after-commit", b"\x03COMMIT", "reset", 0, True, "COMMIT reaches the server, then RST"),
    ("stall-at-commit", b"\x03COMMIT", "stall", 0, False, "2 s stall before COMMIT"),
]

# In `make test`; the others run in `make reliability`.
FAST = {"drop-mid-load", "reset-before-commit", "reset-after-commit"}


@pytest.mark.parametrize(
    ("pattern", "action", "after_bytes", "forward_first", "model"),
    [
        pytest.param(*c[1:], id=c[0], marks=() if c[0] in FAST else pytest.mark.reliability)
        for c in CASES
    ],
)
def test_network_fault_during_a_load_loses_and_doubles_nothing(
    shared_scenario, database, record, pattern, action, after_bytes, forward_first, model
):
    s = shared_scenario
    # GIVEN staging objects in S3 and a proxy to MariaDB armed with one fault
    with FaultProxy(("127.0.0.1", mariadb_params()["port"])) as proxy:
        proxy.arm(
            pattern,
            action,
            after_bytes=after_bytes,
            stall_seconds=2.0,
            forward_first=forward_first,
        )
        # WHEN scheduled loader runs go through the proxy until the backlog is settled
        summaries = load_until_settled(s, mariadb_url(proxy.port, database))

    # THEN the fault fired, and MariaDB equals DynamoDB with every object loaded once
    outcome = measure(s, mariadb_params(database))
    assert proxy.fired == [f"{action}@{pattern.decode().strip(chr(3))}"]
    assert outcome.objects == len(s.objects) > 0
    assert outcome.ok, outcome.problems
    assert outcome.differences == 0 and outcome.dynamodb_items > 0
    record(
        f"network: {action} {'mid-LOAD' if b'LOAD' in pattern else 'at COMMIT'}",
        f"TCP proxy between loader and MariaDB: {model}",
        f"{len(summaries)} loader run(s), {proxy.connections} connection(s); "
        f"{outcome.objects_settled}/{outcome.objects} objects settled, "
        f"verify {outcome.differences} differences over {outcome.dynamodb_items} items",
        outcome,
    )


def test_connection_lost_before_the_first_batch_is_reported_not_raised(
    shared_scenario, database, record
):
    """TCP proxy cuts the connection when the loader creates its ledger table."""
    s = shared_scenario
    with FaultProxy(("127.0.0.1", mariadb_params()["port"])) as proxy:
        # GIVEN a connection cut when the loader creates its ledger table, right after connecting
        proxy.arm(b"CREATE TABLE IF NOT EXISTS", "drop", forward_first=False)
        # WHEN a scheduled run starts
        summary = tick(s, mariadb_url(proxy.port, database))
    # THEN the run reports the database unreachable instead of raising
    assert proxy.fired
    assert summary["status"] in ("unreachable", "incomplete")


def test_loader_session_does_not_outlive_the_loader(shared_scenario, database, record):
    """A loader session's wait_timeout, read back from the server."""
    # GIVEN the loader's own connection, opened as a run opens it
    settings = LoaderSettings(
        config=for_database(shared_scenario.config, database),
        mariadb_url=mariadb_url(mariadb_params()["port"], database),
    )
    conn = connect(settings)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT @@session.wait_timeout")
            (wait_timeout,) = cur.fetchone()
    finally:
        conn.close()
    # THEN the server drops a silent session soon after the Lambda can no longer be running
    limit = int(shared_scenario.config.settings["loader_timeout_seconds"]) + 300
    assert wait_timeout <= limit
