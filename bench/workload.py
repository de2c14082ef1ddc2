"""A deterministic stream of DynamoDB changes, shaped as Firehose would leave it in S3.

Benchmarks feed the same changes to the loader (as gzip staging objects, the
bytes ``loaders`` reads from S3) and to the baselines it replaces (as the
decoded changes, in arrival order). Generation is never part of a timing.

The mix per emitted change: 1% re-deliveries of an earlier change (Kinesis
sends some records twice), the rest 70% new keys, 25% updates of a live key,
5% deletes of a live key. A deleted key never comes back and a re-delivery
is only ever of a key that is still live, so applying the changes one by one
in arrival order with version guards (the old design, which keeps no
tombstones) ends in the same state as the loader: ``expected``.
"""

from __future__ import annotations

import gzip
import hashlib
import random
from collections.abc import Iterable
from dataclasses import dataclass, field

import orjson

from contract.staging import StagingLine, encode_line, version_key

SOURCE_TABLE = "bench_items"
KEY_ATTRIBUTE = "id"
# ~25k lines of ~600 bytes: a 15 MB object, what a Firehose stream with a
# 64 MB buffer flushes on its time limit at a moderate rate.
LINES_PER_OBJECT = 25_000
# 2025-01-01T00:00:00Z; every change is 1-2 ms after the previous one.
START_US = 1_735_689_600_000_000
_SEQ_BASE = 49_650_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000
_STATUSES = ("new", "paid", "packed", "shipped", "delivered", "returned")
_WORDS = (
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet",
    "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango",
    "uniform", "victor", "whiskey", "xray", "yankee", "zulu",
)  # fmt: skip
# Fixed pools the items draw from (their own seed: the same for every workload).
_POOL = random.Random(7)
_NAMES = tuple(" ".join(_POOL.choices(_WORDS, k=2)).title() for _ in range(1024))
_NOTES = tuple(" ".join(_POOL.choices(_WORDS, k=_POOL.randint(14, 22))) for _ in range(4096))


@dataclass(frozen=True, slots=True)
class Change:
    """One change as the old per-row design saw it (arrival order)."""

    op: str  # INSERT | MODIFY | REMOVE
    key: str  # value of the key attribute ``id``
    item: str | None  # plain JSON text of the new image; None for REMOVE
    version_us: int
    seq: str


@dataclass
class Workload:
    table: str
    changes: list[Change]
    # (s3 key, etag, gzip bytes) per staging object, in delivery order.
    objects: list[tuple[str, str, bytes]]
    # The final state: key -> item JSON text of every live key.
    expected: dict[str, str] = field(repr=False)

    @property
    def staged_bytes(self) -> int:
        return sum(len(body) for _, _, body in self.objects)


def generate(
    n: int,
    *,
    seed: int = 20250101,
    table: str = SOURCE_TABLE,
    lines_per_object: int = LINES_PER_OBJECT,
    mix: tuple[float, float, float, float] = (0.70, 0.25, 0.05, 0.01),
    key_prefix: str = "",
    start_us: int = START_US,
    staged: bool = True,
) -> Workload:
    """``n`` changes of one table; ``mix`` is (new, update, delete, re-delivered) shares.

    ``staged=False`` skips the staging objects (``objects`` stays empty): for rows that
    only need to be in a table before a measurement, at half the generation time.
    """
    new_share, update_share, _, dup_share = mix
    rng = random.Random(seed)
    changes: list[Change] = []
    lines: list[bytes] = []
    live: list[str] = []  # keys that exist now; swap-remove keeps deletes O(1)
    where: dict[str, int] = {}  # key -> index in ``live``
    latest: dict[str, int] = {}  # key -> index in ``changes`` of its newest change
    state: dict[str, str] = {}
    version = start_us
    for i in range(n):
        bits = rng.getrandbits(63)
        version += 1000 + bits % 1001
        seq = str(_SEQ_BASE + i * 7 + (bits >> 10) % 7)
        roll = (bits >> 13) / 2**50
        if roll < dup_share and live:
            # Kinesis re-delivers the exact record: same version, same event id.
            original = changes[latest[live[rng.randrange(len(live))]]]
            changes.append(original)
            if staged:
                lines.append(lines[latest[original.key]])
            continue
        pick = (roll - dup_share) / (1 - dup_share)
        if pick < new_share or not live:
            key = key_prefix + _uuid(rng)
            where[key] = len(live)
            live.append(key)
            op = "INSERT"
        else:
            key = live[rng.randrange(len(live))]
            op = "MODIFY" if pick < new_share + update_share else "REMOVE"
        item = None if op == "REMOVE" else _item(rng, key, version)
        change = Change(op, key, item, version, seq)
        latest[key] = len(changes)
        changes.append(change)
        if staged:
            # orjson leaves ~4 KiB of capacity behind each result; a copy keeps 1M lines small.
            lines.append(memoryview(_line(table, change, rng)).tobytes())
        else:
            rng.getrandbits(128)  # the line's event id: the same changes either way
        if item is None:
            _swap_remove(live, where, key)
            del state[key]
        else:
            state[key] = item
    objects = _objects(table, lines, lines_per_object, seed) if staged else []
    return Workload(table=table, changes=changes, objects=objects, expected=state)


def replay(changes: Iterable[Change]) -> dict[str, str]:
    """The state after applying ``changes`` one by one with version guards (no tombstones).

    For a whole workload this is ``expected``; for the prefix a baseline
    applied before its deadline, it is what that baseline's table must hold.
    """
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
    return {key: c.item for key, c in rows.items() if c.item is not None}


def _swap_remove(live: list[str], where: dict[str, int], key: str) -> None:
    index = where.pop(key)
    last = live.pop()
    if last != key:
        live[index] = last
        where[last] = index


def _uuid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _item(rng: random.Random, key: str, version: int) -> str:
    """A ~400-byte order-like item: strings, exact decimals, a nested map, a list.

    One draw of random bits feeds every field: generation stays a small part
    of a benchmark run.
    """
    r = rng.getrandbits(160)
    return orjson.dumps(
        {
            KEY_ATTRIBUTE: key,
            "customer": {
                "id": f"c-{r % 10**8:08d}",
                "name": _NAMES[(r >> 27) & 1023],
                "tier": (r >> 37) & 3,
            },
            "status": _STATUSES[(r >> 39) % len(_STATUSES)],
            "total": orjson.Fragment(f"{(r >> 42) % 10**7}.{(r >> 66) % 100:02d}"),
            "quantity": 1 + (r >> 73) % 40,
            "updated_us": version,
            "lines": [f"sku-{(r >> (80 + 20 * j)) % 10**6:06d}" for j in range(1 + (r >> 79) % 3)],
            "gift": (r >> 140) % 10 == 0,
            "note": _NOTES[(r >> 144) & 4095],
        }
    ).decode()


def _line(table: str, change: Change, rng: random.Random) -> bytes:
    return encode_line(
        StagingLine(
            table=table,
            op=change.op,
            key=orjson.dumps({KEY_ATTRIBUTE: change.key}).decode(),
            key_types="S",
            item=change.item,
            item_types=None,
            version_us=change.version_us,
            seq=change.seq,
            ttl_delete=False,
            event_id=f"{rng.getrandbits(128):032x}",
            arrival_ms=change.version_us // 1000 + 5 + change.version_us % 896,
        )
    )


def _objects(
    table: str, lines: list[bytes], per_object: int, seed: int
) -> list[tuple[str, str, bytes]]:
    """Cut lines into gzip objects named as Firehose names them under the staging prefix."""
    objects = []
    for number, start in enumerate(range(0, len(lines), per_object)):
        body = gzip.compress(b"".join(lines[start : start + per_object]), compresslevel=6)
        day, hour, minute = 1 + number // 288, number // 12 % 24, number % 12 * 5
        key = (
            f"staging/table={table}/2025/01/{day:02d}/{hour:02d}/"
            f"ddbload-staging-1-2025-01-{day:02d}-{hour:02d}-{minute:02d}-00-"
            f"{seed:08x}-{number:06d}.gz"
        )
        etag = hashlib.md5(body, usedforsecurity=False).hexdigest()  # as the loader keeps it
        objects.append((key, etag, body))
    return objects
