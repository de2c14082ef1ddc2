"""Property: any changes, split into any files, loaded in any order, with duplicates and
reloads, leave the target equal to what DynamoDB holds (newest version per key).

Drawn per example: the key schema (S, N or B partition key, maybe an S, N or B sort key),
the delete mode and the TTL policy (all four combinations), and items with mapped
columns (INT, VARCHAR(4), DOUBLE) whose values sometimes do not fit: such a change is
quarantined, and a key whose outcome rests on a quarantined change is left out of the
comparison (which older change, if any, stands then depends on the batching).
"""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contract.config import parse_config
from contract.staging import key_text
from contract.values import canonical_number, loads_exact, to_plain
from loaders.engine import load_staging_bytes
from loaders.quarantine import MemoryQuarantine
from tests.loaders.builders import change, gz, staging_key
from tests.loaders.conftest import fetch
from tests.strategies import items, nasty_text, number_texts

TABLE = "prop_t"
COLUMNS = {
    "qty": {"path": "qty", "type": "INT"},
    "name": {"path": "name", "type": "VARCHAR(4)"},
    "price": {"path": "price", "type": "DOUBLE"},
}
# Key numbers DECIMAL(65,27) holds exactly, from 38 integer digits to 27 decimals.
KEY_NUMBERS = ["0", "1", "-1", "1.5", "-7.25", "99.9", "1" * 38, "1E-27"]


@st.composite
def key_value(draw: st.DrawFn, letter: str) -> dict[str, str]:
    if letter == "S":
        return {"S": draw(nasty_text(1, 6))}
    if letter == "B":
        return {"B": base64.b64encode(draw(st.binary(min_size=1, max_size=6))).decode()}
    number = Decimal(draw(st.sampled_from(KEY_NUMBERS)))
    # The same number in another spelling is the same key.
    spelling = draw(st.sampled_from(["f", "E", "zeros"]))
    text = format(number, "E" if spelling == "E" else "f")
    if spelling == "zeros" and "." in text:
        text += "00"
    return {"N": text}


@st.composite
def mapped_values(draw: st.DrawFn) -> dict[str, Any]:
    """Values for the mapped columns, each sometimes absent and sometimes a misfit."""
    out: dict[str, Any] = {}
    qty = draw(st.one_of(st.none(), st.integers(-(2**31), 2**31 - 1), st.just("misfit")))
    if qty == "misfit":
        out["qty"] = draw(st.sampled_from([{"N": "2147483648"}, {"N": "1.5"}, {"S": "7"}]))
    elif qty is not None:
        out["qty"] = {"N": str(qty)}
    name = draw(st.one_of(st.none(), nasty_text(0, 5)))
    if name is not None:
        out["name"] = {"S": name}
    if draw(st.booleans()):
        out["price"] = {"N": draw(number_texts())}
    return out


@st.composite
def histories(draw: st.DrawFn) -> tuple[dict[str, str], list[tuple]]:
    """A key schema and changes of a few keys, each with a distinct (version_us, seq) per
    key. As in DynamoDB, a REMOVE never directly follows another REMOVE of its key."""
    schema = {"pk": draw(st.sampled_from("SNB"))}
    sort = draw(st.sampled_from(["", "S", "N", "B"]))
    if sort:
        schema["sk"] = sort
    keys: dict[str, dict] = {}
    for _ in range(draw(st.integers(1, 4))):
        key = {name: draw(key_value(letter)) for name, letter in schema.items()}
        keys.setdefault(key_text(key)[0], key)
    changes = []
    for key in keys.values():
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
        versions.sort(key=lambda v: (v[0], len(str(v[1])), str(v[1])))
        removed = False
        for version, seq in versions:
            if removed or draw(st.integers(0, 2)):
                other = draw(items(max_size=2))
                item = {k: v for k, v in other.items() if k not in COLUMNS}
                item.update(draw(mapped_values()))
            else:
                item = None
            removed = item is None
            ttl = item is None and draw(st.booleans())
            changes.append((key, item, version, str(seq), ttl))
    return schema, changes


def fits(item: dict[str, Any] | None) -> bool:
    """Whether the mapped columns take the item's values (``loaders.columns``' rules)."""
    if item is None:
        return True
    qty, name = item.get("qty"), item.get("name")
    if qty is not None and ("N" not in qty or qty["N"] in ("2147483648", "1.5")):
        return False
    return name is None or len(name["S"]) <= 4


def stored(key: dict, item: dict[str, Any] | None) -> tuple | None:
    """What the target holds for an upsert: mapped column values and the overflow."""
    if item is None:
        return None
    plain = loads_exact(to_plain({**item, **key})[0])
    qty = plain.pop("qty", None)
    name = plain.pop("name", None)
    price = plain.pop("price", None)
    if price is not None:
        nearest = float(price)
        # The digits stay in the overflow when the DOUBLE reads back as another number.
        if Decimal(repr(nearest)) != Decimal(price):
            plain["price"] = price
        price = nearest
    return (None if qty is None else int(qty), name, price, plain)


def rank(change_: tuple) -> tuple:
    _, _, version, seq, _ = change_
    return (version, len(seq), seq)


def model(changes: list[tuple], soft: bool, keep: bool) -> dict[str, tuple | None]:
    """Key text -> (columns and overflow, deleted, expired); None where the outcome rests on
    a quarantined change. A hard-deleted key has no row."""
    by_key: dict[str, list[tuple]] = {}
    for c in changes:
        by_key.setdefault(key_text(c[0])[0], []).append(c)
    expected: dict[str, tuple | None] = {}
    for ktext, history in by_key.items():
        history.sort(key=rank)
        key, item, _, _, ttl = history[-1]
        if item is not None:
            expected[ktext] = (stored(key, item), 0, 0) if fits(item) else None
            continue
        if ttl and keep:
            flag = (0, 1)  # expired
        elif soft:
            flag = (1, 0)  # deleted (a TTL delete too, when the policy deletes)
        else:
            continue  # hard delete: no row
        upserts = [c for c in history if c[1] is not None]
        if upserts and not fits(upserts[-1][1]):
            expected[ktext] = None
        else:
            expected[ktext] = (stored(key, upserts[-1][1]) if upserts else None, *flag)
    return expected


def rows(admin, schema: dict[str, str]) -> dict[str, tuple]:
    names = list(schema)
    query = (
        f"SELECT {', '.join(names)}, qty, name, price, item, _ddbload_deleted, _ddbload_expired "
        f"FROM `{TABLE}`"
    )
    out = {}
    for row in fetch(admin, query):
        typed = {}
        for name, value in zip(names, row, strict=False):
            letter = schema[name]
            if letter == "S":
                typed[name] = {"S": value}
            elif letter == "N":
                typed[name] = {"N": canonical_number(str(value))}
            else:
                typed[name] = {"B": base64.b64encode(bytes(value)).decode()}
        qty, name, price, item, deleted, expired = row[len(names) :]
        data = None if item is None else (qty, name, price, loads_exact(item))
        out[key_text(typed)[0]] = (data, deleted, expired)
    return out


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data(), history=histories(), soft=st.booleans(), keep=st.booleans())
def test_any_split_and_order_ends_in_dynamodb_state(conn, admin, data, history, soft, keep):
    # GIVEN a fresh target and the changes split into files, some duplicated
    schema, changes = history
    for t in (TABLE, f"_ddbload_tomb_{TABLE}", "_ddbload_ledger"):
        fetch(admin, f"DROP TABLE IF EXISTS `{t}`")
    lines = [change(TABLE, k, i, v, s, ttl=ttl) for k, i, v, s, ttl in changes]
    lines = data.draw(st.permutations(lines))
    cuts = sorted(data.draw(st.sets(st.integers(1, max(1, len(lines) - 1)), max_size=4)))
    parts = [lines[a:b] for a, b in zip([0, *cuts], [*cuts, len(lines)], strict=True) if lines[a:b]]
    objects = [(staging_key(TABLE, f"f{i}"), f"etag{i}", gz(p)) for i, p in enumerate(parts)]
    order = data.draw(
        st.lists(st.sampled_from(objects), min_size=len(objects), max_size=len(objects) + 3)
    )
    order += [o for o in objects if o not in order]
    key = {"partition_key": {"name": "pk", "type": schema["pk"]}}
    if "sk" in schema:
        key["sort_key"] = {"name": "sk", "type": schema["sk"]}
    modes = {
        "delete_mode": "soft" if soft else "delete",
        "ttl_policy": "keep" if keep else "delete",
    }
    config = parse_config({"tables": {TABLE: {**key, **modes, "columns": COLUMNS}}})
    # WHEN loaded one call per group, in that order, then everything reloaded
    group = data.draw(st.integers(1, 3))
    for start in range(0, len(order), group):
        chunk = list({o[0]: o for o in order[start : start + group]}.values())
        for result in load_staging_bytes(conn, config, chunk, quarantine=MemoryQuarantine()):
            assert result.status in ("loaded", "skipped"), result.error
            if result.status == "loaded":
                assert result.read == (
                    result.applied + result.deleted + result.stale + result.quarantined
                )
    # THEN the target holds exactly what the model says, whatever the order
    expected = model(changes, soft, keep)
    decided = {k: v for k, v in expected.items() if v is not None}

    def comparable() -> dict[str, tuple]:
        return {k: v for k, v in rows(admin, schema).items() if expected.get(k, ...) is not None}

    assert comparable() == decided
    # AND reloading every file, in one batch and then one by one, changes nothing
    load_staging_bytes(conn, config, objects, reload=True, quarantine=MemoryQuarantine())
    for o in reversed(objects):
        load_staging_bytes(conn, config, [o], reload=True, quarantine=MemoryQuarantine())
    assert comparable() == decided
