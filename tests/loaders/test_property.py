"""Property: any changes, split into any files, loaded in any order, with duplicates and
reloads, leave the target equal to what DynamoDB holds (newest version per key)."""

from __future__ import annotations

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


def plain(key, item):
    return None if item is None else to_plain({**item, "pk": {"S": key}})[0].decode()


def newest_per_key(changes, upserts_only=False):
    newest = {}
    for key, item, version, seq, ttl in changes:
        if upserts_only and item is None:
            continue
        rank = (version, len(seq), seq)
        if key not in newest or rank > newest[key][0]:
            newest[key] = (rank, item, ttl)
    return newest


def model(changes, soft_keep):
    """What the target must hold: DynamoDB's items; with soft delete and TTL keep, also the
    removed keys, flagged, with the data of their newest upsert (NULL if none)."""
    newest = newest_per_key(changes)
    if not soft_keep:
        return {
            k: (plain(k, item), 0, 0) for k, (_, item, _t) in newest.items() if item is not None
        }
    data = newest_per_key(changes, upserts_only=True)
    return {
        k: (
            plain(k, data[k][1]) if k in data else None,
            int(item is None and not ttl),
            int(item is None and ttl),
        )
        for k, (_, item, ttl) in newest.items()
    }


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data(), changes=histories(), soft_keep=st.booleans())
def test_any_split_and_order_ends_in_dynamodb_state(conn, admin, data, changes, soft_keep):
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
    modes = {"delete_mode": "soft", "ttl_policy": "keep"} if soft_keep else {}
    config = parse_config({"tables": {TABLE: {"partition_key": {"name": "pk"}, **modes}}})
    # WHEN loaded one call per group, in that order, then everything reloaded
    group = data.draw(st.integers(1, 3))
    for start in range(0, len(order), group):
        chunk = list({o[0]: o for o in order[start : start + group]}.values())
        for result in load_staging_bytes(conn, config, chunk):
            assert result.status in ("loaded", "skipped"), result.error
            if result.status == "loaded":
                assert result.read == result.applied + result.deleted + result.stale
    # THEN the target holds exactly what the model says, whatever the order
    query = f"SELECT pk, item, _ddbload_deleted, _ddbload_expired FROM `{TABLE}`"
    expected = model(changes, soft_keep)
    assert {r[0]: r[1:] for r in fetch(admin, query)} == expected
    # AND reloading every file, in one batch and then one by one, changes nothing
    load_staging_bytes(conn, config, objects, reload=True)
    for o in reversed(objects):
        load_staging_bytes(conn, config, [o], reload=True)
    assert {r[0]: r[1:] for r in fetch(admin, query)} == expected
