"""End-to-end latency measured change by change, for ``ddbload demo`` and the soak.

The pipeline keeps per-file figures (``loaders.freshness``: each file's oldest,
median and newest change time and its commit time in the ledger). A measurement
over a bounded local run can afford exact figures: it reads every committed
staging object again and takes, for each change, the file's commit time
(``committed_at`` in the ledger) minus the change's time (``version_us``; backfill
lines have none).
"""

from __future__ import annotations

import bisect
from dataclasses import asdict, dataclass, field
from datetime import UTC
from typing import Any

import numpy as np
import pyarrow as pa

from loaders import ledger
from loaders.arrowfile import read_batches
from loaders.freshness import change_times

# Histogram bucket upper bounds, in seconds (the last bucket is everything above).
BUCKETS = (0.25, 0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 25, 30, 45, 60, 90, 120, 300, 600, 900, 1800)


@dataclass
class LatencyDistribution:
    """Commit time minus change time over every committed change measured, in seconds."""

    changes: int
    files: int
    p50_seconds: float
    p90_seconds: float
    p99_seconds: float
    max_seconds: float
    # Changes per bucket: more than "gt" seconds, at most "le" (None: no upper bound).
    histogram: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def distribution(latencies: np.ndarray, files: int) -> LatencyDistribution | None:
    """Percentiles (nearest lower rank: always a measured value) and a histogram."""
    if latencies.size == 0:
        return None
    p50, p90, p99 = (float(np.percentile(latencies, q, method="lower")) for q in (50, 90, 99))
    counts = [0] * (len(BUCKETS) + 1)
    for value in latencies.tolist():
        counts[bisect.bisect_left(BUCKETS, value)] += 1
    lows: list[float] = [0, *BUCKETS]
    highs: list[float | None] = [*BUCKETS, None]  # None: above the last bound
    return LatencyDistribution(
        changes=int(latencies.size),
        files=files,
        p50_seconds=round(p50, 3),
        p90_seconds=round(p90, 3),
        p99_seconds=round(p99, 3),
        max_seconds=round(float(latencies.max()), 3),
        histogram=[
            {"gt": gt, "le": le, "changes": n}
            for gt, le, n in zip(lows, highs, counts, strict=True)
            if n
        ],
    )


def measure(conn: Any, s3: Any, bucket: str, keys: list[str]) -> LatencyDistribution | None:
    """Exact latency of every change in these staging objects that the ledger shows loaded."""
    committed: dict[str, int] = {}
    for row in ledger.ledger_rows(conn, keys):
        if row.status == ledger.LOADED and row.committed_at is not None:
            at = int(row.committed_at.replace(tzinfo=UTC).timestamp() * 1_000_000)
            committed[row.s3_key] = min(at, committed.get(row.s3_key, at))
    parts: list[np.ndarray] = []
    for key, at in committed.items():
        data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        columns = [change_times(b) for b in read_batches(data)]
        if not columns:
            continue
        versions = pa.chunked_array(columns, pa.int64()).drop_null().to_numpy()
        parts.append((at - versions) / 1e6)
    if not parts:
        return None
    return distribution(np.concatenate(parts), files=len(parts))
