"""A bounded soak: a steady change stream through the local pipeline, sampled as it runs.

Every ``interval`` seconds: a burst of changes to DynamoDB, the stream driver,
the Firehose driver (its buffer interval decides when objects appear), and one
scheduled loader run. Each sample records the changes written so far, the
staging objects not yet in the ledger, the lag (from a burst's write to the
end of the run that loaded its object, or its age if still pending), and this process's RSS
(moto, drivers and the loader all run in it). Stops by itself after ``seconds``; then
measures the end-to-end latency of every change committed (``ops.latency``: commit
time minus change time) beside the bound the default settings promise.
"""

from __future__ import annotations

import resource
import time
from dataclasses import dataclass, field
from typing import Any

import pymysql

from contract.config import freshness_objective, parse_config
from loaders import ledger
from ops.latency import LatencyDistribution
from ops.latency import measure as measure_latency
from reliability.scenario import Scenario, tick


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class SoakResult:
    samples: list[dict[str, Any]] = field(default_factory=list)
    bursts: int = 0
    runs: int = 0
    # Commit time minus change time of every change committed (ops.latency), and the
    # bound the default settings promise for it (contract.config.freshness_objective).
    latency: LatencyDistribution | None = None
    bound_seconds: int = field(
        default_factory=lambda: freshness_objective(parse_config({}).settings)
    )


def soak(
    s: Scenario,
    url: str,
    conn_params: dict[str, Any],
    *,
    seconds: float,
    interval: float = 4.0,
    items: int = 10,
) -> SoakResult:
    out = SoakResult()
    started = time.monotonic()
    written_at: dict[str, float] = {}  # staging key -> when its burst was written
    conn = pymysql.connect(**{**conn_params, "autocommit": True})
    try:
        while time.monotonic() - started < seconds:
            tick_at = time.monotonic()
            s.workload.burst(items)
            out.bursts += 1
            s.stream.pump()
            stats = s.hose.pump()
            s.delivered.add(stats)
            s.objects += stats.objects
            for key in stats.objects:
                written_at[key] = tick_at
            tick(s, url)
            out.runs += 1
            out.samples.append(_sample(conn, s, started, written_at))
            time.sleep(max(0.0, interval - (time.monotonic() - tick_at)))
        # Drain: the last buffers, then runs until nothing is behind (bounded).
        stats = s.hose.flush()
        s.objects += stats.objects
        for key in stats.objects:
            written_at[key] = time.monotonic()
        for _ in range(5):
            tick(s, url)
            out.runs += 1
            sample = _sample(conn, s, started, written_at)
            if sample["behind"] == 0:
                break
        out.samples.append(sample)
        out.latency = measure_latency(conn, s.aws.s3, s.res.bucket, s.objects)
    finally:
        conn.close()
    return out


def _sample(conn: Any, s: Scenario, started: float, written_at: dict[str, float]) -> dict[str, Any]:
    ledger.ensure_ledger(conn)
    now = time.monotonic()
    keys = list(written_at)
    done = ledger.done_keys(conn, keys) if keys else set()
    pending = [k for k in keys if k not in done]
    # Lag: from the burst's write to the run that settled its object (just now); objects
    # still pending count with their age so far.
    lag = max((now - written_at[k] for k in keys), default=0.0)
    for k in done:
        written_at.pop(k, None)
    return {
        "t": now - started,
        "written": s.workload.stats.total,
        "behind": len(pending),
        "lag": lag,
        "rss_mib": rss_mib(),
    }
