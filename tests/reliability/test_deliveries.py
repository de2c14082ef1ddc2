"""Duplicated, reordered and late deliveries; a prefix reloaded while scheduled runs go on.

Each test has its own local pipeline (it changes what is in S3), loads under
the fault, then reconciles against DynamoDB and audits the ledger.
"""

from __future__ import annotations

import gzip
import json
import threading

import pytest

from reliability.checks import measure
from reliability.scenario import as_event, mariadb_url, scenario, tick
from tests.conftest import mariadb_params
from tests.reliability.conftest import load_until_settled

pytestmark = pytest.mark.xdist_group("reliability-deliveries")


def _url(database: str) -> str:
    return mariadb_url(mariadb_params()["port"], database)


def test_firehose_retry_rewrites_and_duplicates_objects(tmp_path, database, record):
    with scenario(tmp_path, bursts=3, items=25) as s:
        # GIVEN every staging object delivered twice: a copy under a new name (a Firehose
        # retry), and one object rewritten in place with other bytes (new ETag)
        originals = list(s.objects)
        for key in originals:
            s.put(key.replace(".gz", "-retry.gz"), s.get(key))
        rewritten = originals[0]
        s.put(rewritten, gzip.compress(gzip.decompress(s.get(rewritten)), compresslevel=1))
        # WHEN scheduled runs load the backlog
        runs = load_until_settled(s, _url(database))
        # THEN nothing is lost or doubled; every copy is in the ledger once
        outcome = measure(s, mariadb_params(database))
    assert outcome.objects == 2 * len(originals)
    assert outcome.ok, outcome.problems
    record(
        "duplicated delivery (Firehose retry)",
        f"each of {len(originals)} staging objects copied under a second name; one rewritten "
        "in place with new bytes (new ETag)",
        f"{len(runs)} run(s); {outcome.objects_settled}/{outcome.objects} objects settled, "
        f"{outcome.records} records read, verify {outcome.differences} differences",
        outcome,
    )


def test_old_object_arriving_after_newer_ones(tmp_path, database, record):
    with scenario(tmp_path, bursts=3, items=25) as s:
        # GIVEN the oldest objects held back while the newer ones load
        held = s.objects[: len(s.objects) // 3]
        newer = [k for k in s.objects if k not in held]
        load = tick(s, _url(database), {"action": "load", "keys": newer})
        assert load["files"] == {"loaded": len(newer)}
        # WHEN the old ones arrive late, named by their S3 events on the work queue
        queue = s.aws.sqs.create_queue(QueueName=f"late-{database}")["QueueUrl"]
        s.aws.sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(as_event(s, held)))
        late = tick(s, _url(database), DDBLOAD_WORK_QUEUE_URL=queue)
        # THEN they load, the older changes lose to the newer ones, nothing is lost or doubled
        outcome = measure(s, mariadb_params(database))
    assert late["acknowledged"] == 1 and late["files"].get("loaded") == len(held)
    assert late["rows"]["stale"] > 0
    assert outcome.ok, outcome.problems
    record(
        "late delivery (old object after newer ones)",
        f"{len(held)} oldest objects loaded only after the {len(newer)} newer ones, "
        "discovered through their S3 event on the work queue",
        f"late objects loaded with {late['rows']['stale']} stale records ignored; "
        f"verify {outcome.differences} differences",
        outcome,
    )


def test_reordered_delivery_newest_first(tmp_path, database, record):
    with scenario(tmp_path, bursts=4, items=20) as s:
        # GIVEN objects loaded one at a time, newest first
        for key in reversed(s.objects):
            tick(s, _url(database), {"action": "load", "keys": [key]})
        outcome = measure(s, mariadb_params(database))
    assert outcome.ok, outcome.problems
    record(
        "reordered delivery (newest object first)",
        f"{len(s.objects)} objects loaded one per run in reverse order",
        f"verify {outcome.differences} differences over {outcome.dynamodb_items} items",
        outcome,
    )


def test_prefix_reloaded_while_scheduled_runs_go_on(tmp_path, database, record):
    with scenario(tmp_path, bursts=2, items=25) as s:
        url = _url(database)
        first = list(s.objects)
        load_until_settled(s, url)
        # GIVEN new changes arriving while an operator reloads the whole staging prefix
        s.burst(25)
        reloads: list[dict] = []
        errors: list[BaseException] = []

        def reload() -> None:
            try:
                reloads.append(
                    tick(s, url, {"action": "reload", "prefix": s.res.staging_prefix + "/"})
                )
            except BaseException as e:  # noqa: BLE001 - re-raised in the test thread
                errors.append(e)

        # WHEN the reload and scheduled runs go on at once
        worker = threading.Thread(target=reload)
        worker.start()
        scheduled = load_until_settled(s, url)
        worker.join(timeout=120)
        assert not worker.is_alive() and not errors
        # THEN every object is applied by the scheduled runs, the reload, or both: at most twice
        outcome = measure(
            s, mariadb_params(database), expected_loads={k: 2 for k in s.staging_keys()}
        )
    assert reloads and reloads[0]["status"] == "ok", reloads
    assert outcome.ok, outcome.problems
    record(
        "reload of a prefix during scheduled runs",
        f"`reload` of the staging prefix ({len(first)} loaded + new objects) in one thread "
        "while scheduled runs load new objects in another (same tables, named lock)",
        f"reload: {reloads[0]['files']}; scheduled: {len(scheduled)} run(s); "
        f"verify {outcome.differences} differences",
        outcome,
    )
