"""Target tables: create a missing one, add newly mapped columns, refuse an incompatible one.

Runs before a batch's transaction (MariaDB DDL commits implicitly). A target
is refused when its primary key is not the mapping's key columns or when it has
other unique keys: ``ON DUPLICATE KEY UPDATE`` fires on any unique index and
could overwrite the wrong row.
"""

from __future__ import annotations

from typing import Any

from loaders import sql
from loaders.errors import TargetRefused
from loaders.sql import Target


def prepare_target(conn: Any, t: Target) -> None:
    name = t.mapping.target
    with conn.cursor() as cur:
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
            have = {c.lower() for c in existing}
            defs = [
                f"{sql.quote(c.name)} {c.sql_type} NULL"
                for c in t.data
                if c.name.lower() not in have
            ]
            defs += [
                f"{sql.quote(col)} {definition}"
                for col, definition in sql.SYSTEM_COLUMNS
                if col not in have
            ]
            if defs:
                cur.execute(sql.add_columns(t, defs))
        cur.execute(sql.create_tombstones(t))
