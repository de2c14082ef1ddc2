"""The read-rate bound: what a scan may read per second, on average, across all segments."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from contract.config import parse_config
from ops import backfill
from ops.backfill_sources import RateLimiter
from tests.ops.backfill.conftest import make_table, put_items, sample_item


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@given(
    rate=st.floats(0.5, 5000),
    calls=st.lists(st.tuples(st.floats(0, 100), st.floats(0, 50)), min_size=1, max_size=40),
)
def test_limiter_never_exceeds_its_rate(rate, calls):
    # GIVEN a limiter on a fake clock, and calls that use some amount after some idle time
    clock = FakeClock()
    limiter = RateLimiter(rate, clock=clock, sleep=clock.sleep)
    start = clock.now
    used = 0.0
    for amount, idle in calls:
        clock.sleep(idle)
        # WHEN every call waits first, then charges what it used
        limiter.wait()
        assert used <= rate * (clock.now - start) + 1e-6 * max(1.0, used)
        used += amount
        limiter.charge(amount)
    # THEN before each call, what was used so far fits in rate x elapsed time
    limiter.wait()
    assert used <= rate * (clock.now - start) + 1e-6 * max(1.0, used)


def test_scan_with_item_rate_reads_small_calls(aws):
    # GIVEN a table with 30 items, and a scan client that records its requests
    make_table(aws.ddb, "rate-bf")
    put_items(aws.ddb, "rate-bf", [sample_item(i) for i in range(30)])
    limits: list[int] = []
    aws.ddb.meta.events.register(
        "provide-client-params.dynamodb.Scan", lambda params, **_: limits.append(params["Limit"])
    )
    # WHEN backfilled at 10 items/s with 25-item pages
    result = backfill.run(
        aws.ddb,
        aws.s3,
        aws.store,
        parse_config({}),
        "rate-bf",
        backfill.Options(segments=1, page_items=25, rate_items=10),
    )
    # THEN no call asks for more than one second's worth, and nothing is lost
    assert max(limits) == 10
    assert result.items == 30
