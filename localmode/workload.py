"""A realistic change workload for the demo and the end-to-end tests, written with boto3.

Per configured table it inserts items, updates them (whole-item puts and
``update_item`` SET/REMOVE), deletes some, lets some expire (a TTL delete, see
``stream_to_kinesis.ttl_delete``) and hammers a few hot keys in bursts so that
many changes of one item share a millisecond. Values are the nasty ones: tabs,
newlines, CR, backslashes, quotes, ``NULL`` and ``\\N`` as text, the empty
string, emoji, 38-digit numbers and extreme exponents, binary with NUL bytes,
nested maps and lists, string, number and binary sets. Mapped columns get
values that fit their SQL type, so the reconciliation must come out at zero.
Deterministic for a given seed.
"""

from __future__ import annotations

import os
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from contract.config import PipelineConfig, TableMapping
from localmode.aws import Clients
from localmode.drivers.stream_to_kinesis import ttl_delete
from localmode.resources import TTL_ATTRIBUTE

NASTY_TEXT = (
    "tab\there",
    "new\nline",
    "carriage\rreturn",
    "back\\slash",
    "quote'\"",
    "NULL",
    "\\N",
    "",
    "emoji 🎉🚀",
    "ünïcödé ∑",
    "zero\u200bwidth",
    "  padded  ",
)
BIG_NUMBERS = (
    "12345678901234567890123456789012345678",
    "-0.00000000000000000000000000000000000001",
    "9.9999999999999999999999999999999999999E+125",
    "1E-130",
    "0",
    "-17.250",
)


@dataclass
class WorkloadStats:
    changes: Counter = field(default_factory=Counter)  # insert/update/delete/ttl_delete

    @property
    def total(self) -> int:
        return sum(self.changes.values())


class Workload:
    """Writes changes to the configured tables; remembers which keys are live."""

    def __init__(
        self,
        config: PipelineConfig,
        aws: Clients,
        *,
        run_id: str,
        seed: int = 7,
        state_path: str | os.PathLike[str] | None = None,
        tables: list[str] | None = None,
    ) -> None:
        self.config = config
        self.aws = aws
        self.run_id = run_id
        self.rng = random.Random(seed)
        self.state_path = state_path
        self.tables = tables or sorted(config.tables)
        self.live: dict[str, list[dict[str, Any]]] = {t: [] for t in self.tables}
        self.next_id = 0
        self.stats = WorkloadStats()

    # -- values ------------------------------------------------------------------------

    def _text(self, limit: int = 40) -> str:
        parts = self.rng.sample(NASTY_TEXT, k=self.rng.randint(1, 3))
        return "|".join(parts)[:limit]

    def _key_value(self, letter: str, i: int, part: int) -> dict[str, Any]:
        if letter == "S":
            flavour = ("", "\ttab", " 🎉", "/é")[i % 4]
            return {"S": f"{self.run_id}-{i}-{part}{flavour}"}
        if letter == "N":
            # unique per run and within DECIMAL(65,30): integer part and fraction
            return {"N": f"{self.rng.randint(1, 10**20)}{i:08d}.{part:03d}"}
        return {"B": self.run_id.encode() + i.to_bytes(6, "big") + bytes([part, 0, 255])}

    def _mapped_value(self, sql_type: str) -> dict[str, Any]:
        kind = sql_type.split("(")[0].split()[0].upper()
        size = re.findall(r"\d+", sql_type)
        if kind in ("VARCHAR", "CHAR"):
            return {"S": self._text(max(1, int(size[0]) if size else 20))}
        if kind.endswith("TEXT"):
            return {"S": self._text(200)}
        if kind == "DECIMAL":
            precision = int(size[0]) if size else 10
            scale = int(size[1]) if len(size) > 1 else 0
            whole = str(self.rng.randint(0, 10 ** min(precision - scale, 18) - 1))
            frac = "".join(str(self.rng.randint(0, 9)) for _ in range(min(scale, 6)))
            sign = self.rng.choice(("", "-"))
            return {"N": f"{sign}{whole}.{frac}" if frac else f"{sign}{whole}"}
        if kind.endswith("INT"):
            return {"N": str(self.rng.randint(-100, 100))}
        if kind in ("DOUBLE", "FLOAT"):
            return {"N": f"{self.rng.randint(0, 999)}.5"}
        if kind == "BOOLEAN":
            return {"BOOL": self.rng.random() < 0.5}
        if kind == "JSON":
            return {"M": {"k": {"S": self._text()}, "n": {"N": self.rng.choice(BIG_NUMBERS)}}}
        if kind.endswith("BINARY") or kind.endswith("BLOB"):
            n = min(int(size[0]) if size else 16, 16)
            return {"B": bytes(self.rng.randrange(256) for _ in range(n))}
        if kind == "DATE":
            return {"S": f"2024-0{self.rng.randint(1, 9)}-1{self.rng.randint(0, 9)}"}
        if kind in ("DATETIME", "TIMESTAMP"):
            return {"S": f"2024-01-0{self.rng.randint(1, 9)} 12:34:5{self.rng.randint(0, 9)}"}
        return {"S": self._text()}

    def _item(self, mapping: TableMapping, key: dict[str, Any]) -> dict[str, Any]:
        rng = self.rng
        item: dict[str, Any] = dict(key)
        item["note"] = {"S": self._text(120)}
        item["big"] = {"N": rng.choice(BIG_NUMBERS)}
        item["raw"] = {"B": bytes(rng.randrange(256) for _ in range(rng.randint(1, 24))) + b"\0"}
        item["tags"] = {"SS": sorted({self._text(10) or "x" for _ in range(3)})}
        item["scores"] = {"NS": sorted({rng.choice(BIG_NUMBERS[:2]), str(rng.randint(1, 9))})}
        item["blobs"] = {"BS": [b"\x00\x01", bytes([rng.randrange(2, 256)])]}
        item["meta"] = {
            "M": {
                "nested": {"M": {"deeper": {"L": [{"NULL": True}, {"BOOL": True}, {"S": "x"}]}}},
                "S": {"S": "a map key named S"},
                "list": {"L": [{"N": "1"}, {"M": {"k": {"SS": ["a", "b"]}}}]},
            }
        }
        if rng.random() < 0.3:
            item["empty"] = {"S": ""}
        if rng.random() < 0.1:
            item["long"] = {"S": "long text " * rng.randint(50, 300)}
        for column in mapping.columns:
            node = item
            for part in column.path[:-1]:
                node = node.setdefault(part, {"M": {}})["M"]
            node[column.path[-1]] = self._mapped_value(column.sql_type)
        return item

    # -- changes -----------------------------------------------------------------------

    def _new_key(self, mapping: TableMapping) -> dict[str, Any]:
        self.next_id += 1
        return {
            k.name: self._key_value(k.type, self.next_id, part)
            for part, k in enumerate(mapping.keys)
        }

    def insert(self, table: str) -> None:
        mapping = self.config.tables[table]
        key = self._new_key(mapping)
        self.aws.dynamodb.put_item(TableName=table, Item=self._item(mapping, key))
        self.live[table].append(key)
        self.stats.changes["insert"] += 1

    def update(self, table: str, key: dict[str, Any] | None = None) -> None:
        if not self.live[table]:
            return self.insert(table)
        mapping = self.config.tables[table]
        key = key or self.rng.choice(self.live[table])
        if self.rng.random() < 0.5:
            self.aws.dynamodb.put_item(TableName=table, Item=self._item(mapping, key))
        else:
            self.aws.dynamodb.update_item(
                TableName=table,
                Key=key,
                UpdateExpression="SET #n = :n, #b = :b REMOVE #e",
                ExpressionAttributeNames={"#n": "note", "#b": "big", "#e": "empty"},
                ExpressionAttributeValues={
                    ":n": {"S": self._text(120)},
                    ":b": {"N": self.rng.choice(BIG_NUMBERS)},
                },
            )
        self.stats.changes["update"] += 1
        return None

    def delete(self, table: str, *, ttl: bool = False) -> None:
        if not self.live[table]:
            return
        key = self.live[table].pop(self.rng.randrange(len(self.live[table])))
        if ttl:
            self.aws.dynamodb.update_item(
                TableName=table,
                Key=key,
                UpdateExpression="SET #t = :t",
                ExpressionAttributeNames={"#t": TTL_ATTRIBUTE},
                ExpressionAttributeValues={":t": {"N": "1"}},  # long expired
            )
            self.stats.changes["update"] += 1
            ttl_delete(self.aws, table, key, self.state_path)
            self.stats.changes["ttl_delete"] += 1
        else:
            self.aws.dynamodb.delete_item(TableName=table, Key=key)
            self.stats.changes["delete"] += 1

    def burst(self, items: int) -> None:
        """One burst of about ``items`` new items plus updates, deletes and hot keys."""
        rng = self.rng
        for _ in range(items):
            self.insert(rng.choice(self.tables))
        for _ in range(items // 2):
            self.update(rng.choice(self.tables))
        for _ in range(max(1, items // 10)):
            self.delete(rng.choice(self.tables))
        for _ in range(max(1, items // 20)):
            self.delete(rng.choice(self.tables), ttl=True)
        # hot keys: many changes of one item back to back (same millisecond, often)
        for _ in range(max(1, items // 100)):
            table = rng.choice(self.tables)
            if self.live[table]:
                key = rng.choice(self.live[table])
                for _ in range(5):
                    self.update(table, key)
