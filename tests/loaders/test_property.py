"""Property: any changes, split into any files, loaded in any order, with duplicates and
reloads, leave the target equal to what DynamoDB holds (newest version per key)."""

from __future__ import annotations

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contract.config import parse_config
from contract.values import to_plain
from loaders.engine import load_staging_bytes
from tests.loaders.builders import change, gz, staging_key
from tests.loaders.conftest import fetch
from tests.strategies import items, nasty_text

TABLE = "prop_t"


@st.composite
def histories(draw):
    """Changes of a few keys, each with a distinct (version_us, seq) per key."""
    keys = draw(st.lists(nasty_text(1, 6), min_size=1, max_size=4, unique=True))
    changes = []
    for key in keys:
        n = draw(st.integers(1, 5))
        # Few distinct microseconds, so ties are broken by seq (compared by length first).
        versions = draw(
            st.lists(
                st.tuples(st.integers(1, 3), st.integers(1, 120)),
                min_size=n,
                max_size=n,
                unique=True,
            )
        )
        for version, seq in versions:
            item = draw(st.one_of(st.none(), items(max_size=3)))
            ttl = item is None and draw(st.booleans())
            changes.append((key, item, version, str(seq), ttl))
    return changes


def model(changes):
    newest = {}
    for key, item, version, seq, _ttl in changes:
        rank = (version, len(seq), seq)
        if key not in newest or rank > newest[key][0]:
            newest[key] = (rank, item)
    return {
        key: to_plain({**item, "pk": {"S": key}})[0].decode()
        for key, (_, item) in newest.items()
        if item is not None
    }


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data(), changes=histories())
def test_any_split_and_order_ends_in_dynamodb_state(conn, admin, data, changes):
    # GIVEN a fresh target and the changes split into files, some duplicated
    for t in (TABLE, f"_ddbload_tomb_{TABLE}", "_ddbload_ledger"):
        fetch(admin, f"DROP TABLE IF EXISTS `{t}`")
    lines = [change(TABLE, {"pk": {"S": k}}, i, v, s, ttl=ttl) for k, i, v, s, ttl in changes]
    lines = data.draw(st.permutations(lines))
    cuts = sorted(data.draw(st.sets(st.integers(1, max(1, len(lines) - 1)), max_size=4)))
    parts = [lines[a:b] for a, b in zip([0, *cuts], [*cuts, len(lines)], strict=True) if lines[a:b]]
    objects = [(staging_key(TABLE, f"f{i}"), f"etag{i}", gz(p)) for i, p in enumerate(parts)]
    order = data.draw(
        st.lists(st.sampled_from(objects), min_size=len(objects), max_size=len(objects) + 3)
    )
    order += [o for o in objects if o not in order]
    config = parse_config({})
    # WHEN loaded one call per group, in that order, then everything reloaded
    group = data.draw(st.integers(1, 3))
    for start in range(0, len(order), group):
        chunk = list({o[0]: o for o in order[start : start + group]}.values())
        for result in load_staging_bytes(conn, config, chunk):
            assert result.status in ("loaded", "skipped"), result.error
            if result.status == "loaded":
                assert result.read == result.applied + result.deleted + result.stale
    load_staging_bytes(conn, config, objects, reload=True)
    # THEN the target holds exactly the newest version of every live key
    got = dict(fetch(admin, f"SELECT pk, item FROM `{TABLE}`"))
    assert got == model(changes)
    assert {k: orjson.loads(v) for k, v in got.items()} == {
        k: orjson.loads(v) for k, v in model(changes).items()
    }
