"""The loader process SIGKILLed at random moments, and MariaDB down for several runs.

* SIGKILL: each loader run is a process of its own (``reliability.loader_process``),
  killed after a random delay, many times in a row; then one run finishes.
* MariaDB down: a PRIVATE mariadbd (own data folder and port, never the shared
  server) is stopped while new changes arrive and several scheduled runs try,
  then started again; the backlog drains.
Both end with verify at zero differences and a consistent ledger.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reliability.checks import measure
from reliability.mariadb import PrivateMariaDB
from reliability.scenario import mariadb_url, scenario, tick
from tests.conftest import mariadb_params
from tests.reliability.conftest import load_until_settled

pytestmark = pytest.mark.xdist_group("reliability-process")
ROOT = Path(__file__).resolve().parents[2]


def _run_killed(env: dict[str, str], delay: float) -> tuple[bool, str]:
    """Start a loader run, SIGKILL it after ``delay`` s; (killed while running, its output)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "reliability.loader_process", json.dumps(env)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        proc.wait(timeout=delay)
        killed = False
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        killed = True
    out = proc.stdout.read().decode() if proc.stdout else ""
    if proc.stdout:
        proc.stdout.close()
    return killed, out


def _sigkill_rounds(tmp_path, database, record, kills: int, seed: int) -> None:
    rng = random.Random(seed)
    with scenario(tmp_path, bursts=2, items=40) as s:
        url = mariadb_url(mariadb_params()["port"], database)
        env = s.environment(url)
        killed = finished = 0
        # A run's length depends on the machine: when one finishes before its kill, later
        # kills come sooner, so most rounds really die mid-run.
        latest = 4.0
        # GIVEN a backlog; WHEN loader runs are SIGKILLed at random moments, many times
        for round_ in range(kills):
            if round_ % 3 == 2:
                s.burst(20)  # new objects keep arriving between the kills
            was_killed, _ = _run_killed(env, rng.uniform(0.3, latest))
            killed += was_killed
            finished += not was_killed
            if not was_killed:
                latest = max(0.6, latest * 0.7)
        # AND then runs are left to finish
        final = load_until_settled(s, url)
        outcome = measure(s, mariadb_params(database))
    # THEN some runs died mid-way, and still nothing is lost or applied twice
    assert killed >= kills // 2
    assert outcome.ok, outcome.problems
    record(
        f"loader SIGKILLed at random points ({kills} times)",
        f"each run a process of its own, SIGKILLed 0.3-4 s after start, sooner once runs "
        f"finish first ({kills} rounds, "
        "new objects arriving every third round)",
        f"{killed} runs killed mid-way, {finished} finished first; then {len(final)} run(s) "
        f"to settle; {outcome.objects_settled}/{outcome.objects} objects settled, "
        f"verify {outcome.differences} differences",
        outcome,
    )


def test_loader_sigkilled_a_few_times(tmp_path, database, record):
    _sigkill_rounds(tmp_path, database, record, kills=4, seed=1)


@pytest.mark.reliability
def test_loader_sigkilled_many_times_in_a_row(tmp_path, database, record):
    _sigkill_rounds(tmp_path, database, record, kills=30, seed=2)


@pytest.mark.reliability
def test_mariadb_down_for_several_runs_then_back(tmp_path, record, capfd):
    db = PrivateMariaDB(tmp_path / "mariadb")
    db.install()
    db.start()
    try:
        password = "Rl-down-canary-4d1b9"
        db.set_root_password(password)
        with db.connect() as c, c.cursor() as cur:
            cur.execute("CREATE DATABASE pipeline CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
        with scenario(tmp_path / "state", bursts=2, items=30) as s:
            url = db.url("pipeline")
            # GIVEN a pipeline loading into the private server
            load_until_settled(s, url)
            # WHEN the server stops while changes keep arriving and scheduled runs try
            db.stop()
            down = []
            for _ in range(3):
                s.burst(20)
                down.append(tick(s, url))
            started = time.monotonic()
            db.start()
            # AND it comes back
            after = load_until_settled(s, url)
            drained = time.monotonic() - started
            outcome = measure(
                s,
                {"host": "127.0.0.1", "port": db.port, "user": "root", "password": password,
                 "database": "pipeline"},
            )  # fmt: skip
        out, err = capfd.readouterr()
    finally:
        db.stop()
    # THEN each run while down said so without loading anything, and the backlog drained
    assert [d["status"] for d in down] == ["unreachable"] * 3
    assert outcome.ok, outcome.problems
    leaked = password in out + err + json.dumps(down + after)
    assert not leaked
    record(
        "MariaDB down for several runs",
        "private mariadbd (own data folder and port) stopped with SIGTERM; 3 bursts of changes "
        "and 3 scheduled runs while down; then started again",
        f"runs while down: {[d['status'] for d in down]}; back up: {len(after)} run(s), "
        f"{drained:.1f} s to drain {outcome.objects} objects; verify {outcome.differences} "
        f"differences; password in output: {leaked}",
        outcome,
    )
