"""Target tables: create a missing one, add newly mapped columns, refuse an incompatible one.

``prepare_target`` runs before a batch's transaction (MariaDB DDL commits
implicitly). A target is refused when it is one of the loader's own tables, when
another DynamoDB table owns it (the registry, ``sql.REGISTRY``), when its primary
key is not the mapping's key columns, or when it has other unique keys: ``ON
DUPLICATE KEY UPDATE`` fires on any unique index and could overwrite the wrong row.
``claim_target`` runs inside the batch's transaction, so a target is owned from the
same commit that first loads it; a target made before the registry existed is
claimed by the first source that loads it afterwards.
"""

from __future__ import annotations

from typing import Any

from contract.config import TableMapping, is_reserved_target
from loaders import sql
from loaders.errors import TargetOwned, TargetRefused
from loaders.sql import Target


def prepare_target(conn: Any, t: Target) -> None:
    name = t.mapping.target
    if is_reserved_target(name):
        raise TargetRefused(
            f"target table {name!r} of DynamoDB table {t.mapping.source!r} is in the loader's "
            "reserved namespace; give the table another 'target' in cdk.json."
        )
    with conn.cursor() as cur:
        cur.execute(sql.create_registry())
        cur.execute(sql.target_owner(), [name])
        _refuse_other_owner(t.mapping, cur.fetchone())
        conn.commit()  # ends the read above; the DDL below would commit it anyway
        cur.execute(sql.columns_query(), [name])
        existing = [r[0] for r in cur.fetchall()]
        if not existing:
            cur.execute(sql.create_target(t))
        else:
            cur.execute(sql.unique_keys_query(), [name])
            uniques: dict[str, list[str]] = {}
            for index, column in cur.fetchall():
                uniques.setdefault(index, []).append(column.lower())
            wanted = [k.column.lower() for k in t.mapping.keys]
            primary = uniques.pop("PRIMARY", None)
            if primary != wanted:
                raise TargetRefused(
                    f"target table {name!r} has primary key ({', '.join(primary or [])}) but the "
                    f"mapping of {t.mapping.source!r} needs ({', '.join(wanted)}); change the "
                    "table's primary key or the mapping's key columns."
                )
            if uniques:
                raise TargetRefused(
                    f"target table {name!r} has other unique keys ({', '.join(sorted(uniques))}); "
                    "ON DUPLICATE KEY UPDATE could hit the wrong row. Drop them or make them "
                    "non-unique."
                )
            defs = sql.missing_column_defs(t, {c.lower() for c in existing})
            if defs:
                cur.execute(sql.add_columns(t, defs))
        cur.execute(sql.create_tombstones(t))


def claim_target(conn: Any, mapping: TableMapping) -> None:
    """Own ``mapping.target`` for ``mapping.source`` in the caller's transaction, or refuse."""
    with conn.cursor() as cur:
        cur.execute(sql.claim_target(), [mapping.target, mapping.source])
        cur.execute(sql.target_owner(), [mapping.target])
        _refuse_other_owner(mapping, cur.fetchone())


def _refuse_other_owner(mapping: TableMapping, row: tuple[str, str] | None) -> None:
    if row is None or row[0] == mapping.source:
        return
    owner, owned = row
    raise TargetOwned(
        f"MariaDB table {owned!r} holds the items of DynamoDB table {owner!r}, so "
        f"{mapping.source!r} cannot load into {mapping.target!r}; give {mapping.source!r} "
        "its own 'target' in cdk.json."
    )
