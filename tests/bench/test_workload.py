"""The benchmark workload: deterministic, in the promised mix, and the same final state
whether the changes are merged newest-wins (the loader) or applied one by one (the old design).
"""

from __future__ import annotations

import gzip
import re
from collections import Counter

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.workload import Change, Workload, generate, replay
from contract.staging import decode_line, version_key


def _decoded(workload: Workload) -> list:
    lines = []
    for _, _, body in workload.objects:
        lines.extend(decode_line(raw) for raw in gzip.decompress(body).splitlines())
    return lines


def _newest_wins(lines: list) -> dict[str, str]:
    """What the loader must end with: per key the newest change, kept only if not a delete."""
    newest: dict[str, object] = {}
    for line in lines:
        current = newest.get(line.key)
        if current is None or version_key(line.version_us, line.seq) > version_key(
            current.version_us, current.seq
        ):
            newest[line.key] = line
    return {decode_key(line.key): line.item for line in newest.values() if line.item is not None}


def decode_key(key_text: str) -> str:
    return orjson.loads(key_text)["id"]


def _one_by_one(changes: list[Change]) -> dict[str, str]:
    """The old design without tombstones: apply each change if newer than the row."""
    rows: dict[str, Change] = {}
    for change in changes:
        row = rows.get(change.key)
        if row is not None and version_key(change.version_us, change.seq) <= version_key(
            row.version_us, row.seq
        ):
            continue
        if change.item is None:
            rows.pop(change.key, None)
        else:
            rows[change.key] = change
    return {key: change.item for key, change in rows.items() if change.item is not None}


def test_same_seed_same_objects_other_seed_other_objects():
    # GIVEN two workloads from one seed and one from another
    a, b, c = generate(600, seed=5), generate(600, seed=5), generate(600, seed=6)
    # THEN the staging objects are byte-identical only for the same seed
    assert a.objects == b.objects
    assert [body for _, _, body in a.objects] != [body for _, _, body in c.objects]


def test_objects_hold_the_changes_in_arrival_order_as_valid_staging_lines():
    # GIVEN a workload cut into objects of 700 lines
    workload = generate(2_000, seed=11, lines_per_object=700)
    # WHEN every object is decoded with the contract's decoder
    lines = _decoded(workload)
    # THEN the objects are sized as asked and carry exactly the changes, in order
    assert [len(gzip.decompress(b).splitlines()) for _, _, b in workload.objects] == [
        700,
        700,
        600,
    ]
    assert [
        Change(line.op, decode_key(line.key), line.item, line.version_us, line.seq)
        for line in lines
    ] == workload.changes
    keys = [key for key, _, _ in workload.objects]
    assert len(set(keys)) == len(keys)
    assert all(k.startswith("staging/table=bench_items/") and k.endswith(".gz") for k in keys)
    assert all(re.fullmatch("[0-9a-f]{32}", etag) for _, etag, _ in workload.objects)


def test_mix_and_row_size_are_as_specified():
    # GIVEN 20,000 changes
    workload = generate(20_000, seed=3)
    lines = _decoded(workload)
    # WHEN counted by kind (a re-delivery repeats an earlier event id)
    distinct = {line.event_id: line.op for line in lines}
    redelivered = len(lines) - len(distinct)
    ops = Counter(distinct.values())
    # THEN the shares are 70/25/5 of distinct changes plus ~1% re-deliveries
    assert 0.007 < redelivered / len(lines) < 0.013
    assert abs(ops["INSERT"] / len(distinct) - 0.70) < 0.015
    assert abs(ops["MODIFY"] / len(distinct) - 0.25) < 0.015
    assert abs(ops["REMOVE"] / len(distinct) - 0.05) < 0.01
    # AND the items are about 400 bytes
    sizes = [len(item) for item in workload.expected.values()]
    assert 300 < sum(sizes) / len(sizes) < 450


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(min_value=1, max_value=400),
    seed=st.integers(min_value=0, max_value=2**32),
    per_object=st.integers(min_value=1, max_value=150),
    dup_share=st.sampled_from([0.0, 0.01, 0.2]),
    cut=st.floats(min_value=0, max_value=1),
)
def test_newest_wins_and_one_by_one_agree_with_the_model(n, seed, per_object, dup_share, cut):
    # GIVEN any workload, re-deliveries as frequent as 20%
    workload = generate(n, seed=seed, lines_per_object=per_object, mix=(0.6, 0.3, 0.1, dup_share))
    lines = _decoded(workload)
    # WHEN its staging lines are merged newest-wins, and its changes applied one by one
    merged = _newest_wins(lines)
    applied = _one_by_one(workload.changes)
    # THEN both end in the workload's model: the baselines and the loader are comparable
    assert merged == workload.expected
    assert applied == workload.expected
    # AND the model of any prefix (what a baseline stopped by its time budget applied) is right
    k = int(cut * n)
    assert (
        replay(workload.changes[:k]) == _newest_wins(lines[:k]) == _one_by_one(workload.changes[:k])
    )
    assert replay(workload.changes) == workload.expected


def test_a_workload_without_staging_objects_has_the_same_changes():
    # GIVEN the same seed, with and without staging objects
    staged = generate(3_000, seed=11, lines_per_object=1_000)
    bare = generate(3_000, seed=11, staged=False)
    # THEN the changes and the final state are the same; only the objects are left out
    assert bare.changes == staged.changes and bare.expected == staged.expected
    assert bare.objects == [] and len(staged.objects) == 3
