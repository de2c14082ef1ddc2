"""Every SQL statement the loader sends, one builder per statement kind.

Identifiers are validated (``contract.config.IDENTIFIER``) and back-quoted
here and nowhere else; values (JSON paths, versions, keys) always travel as
driver parameters. ``Target`` describes one MariaDB target table as the
statements need it.
"""

from __future__ import annotations

from dataclasses import dataclass

from contract.config import IDENTIFIER, SYSTEM_PREFIX, TableMapping
from loaders import columns
from loaders.columns import ColumnType

VERSION = f"{SYSTEM_PREFIX}version_us"
SEQ = f"{SYSTEM_PREFIX}seq"
DELETED = f"{SYSTEM_PREFIX}deleted"
EXPIRED = f"{SYSTEM_PREFIX}expired"
# Version of the data columns: differs from the row's version only on a flagged row
# (soft delete, expiry), whose data then still takes the newest older upsert.
DATA_VERSION = f"{SYSTEM_PREFIX}data_version_us"
DATA_SEQ = f"{SYSTEM_PREFIX}data_seq"
LEDGER = f"{SYSTEM_PREFIX}ledger"
# Which DynamoDB table owns each target: a second source is refused, never merged in.
REGISTRY = f"{SYSTEM_PREFIX}targets"
STAGE = f"{SYSTEM_PREFIX}stage"

# InnoDB's limit on a primary key, in bytes; key columns share it.
_KEY_BYTES = 3072
_DECIMAL_BYTES = 30
NUMBER_KEY_TYPE = "DECIMAL(65,27)"
SEQ_TYPE = "VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin"
# NO PAD: DynamoDB keys 'a' and 'a ' are different items, so they must be different rows.
STRING_KEY_CHARSET = "CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin"

# Op codes in the load file: upsert, delete, expire (TTL delete kept as a flagged row).
OP_UPSERT, OP_DELETE, OP_EXPIRE = "U", "D", "E"


def quote(name: str) -> str:
    """Back-quote a validated identifier; anything else is refused."""
    if not IDENTIFIER.fullmatch(name):
        raise ValueError(f"{name!r} is not a valid MariaDB identifier")
    return f"`{name}`"


def json_path(parts: tuple[str, ...] | list[str]) -> str:
    """A MariaDB JSON path for attribute names; sent as a parameter, never as SQL text."""
    for p in parts:
        if not p or '"' in p or "\\" in p or any(ord(c) < 32 for c in p):
            raise ValueError(f"attribute name {p!r} cannot be used in a JSON path")
    return "$" + "".join(f'."{p}"' for p in parts)


def key_sql_types(letters: list[str]) -> list[str]:
    """Column types for key attributes (S, N, B) sharing InnoDB's primary-key byte budget."""
    budget = _KEY_BYTES - _DECIMAL_BYTES * letters.count("N")
    wide = sum(1 for x in letters if x in ("S", "B"))
    share = budget // wide if wide else 0
    types = []
    for x in letters:
        if x == "S":
            types.append(f"VARCHAR({share // 4}) {STRING_KEY_CHARSET}")
        elif x == "N":
            # 38 integer digits (every DynamoDB integer key) and 27 decimals; a key outside
            # that would round, so it is quarantined with its reason, never merged.
            types.append(NUMBER_KEY_TYPE)
        else:
            types.append(f"VARBINARY({share})")
    return types


def tombstone_name(target: str) -> str:
    name = f"{SYSTEM_PREFIX}tomb_{target}"
    if len(name) <= 64:
        return name
    import hashlib

    return f"{name[:55]}_{hashlib.sha1(target.encode()).hexdigest()[:8]}"


@dataclass(frozen=True)
class DataColumn:
    name: str
    sql_type: str
    path: tuple[str, ...] | None  # None: the overflow column

    @property
    def kind(self) -> str:
        return self.sql_type.split("(")[0].split()[0].upper()

    @property
    def rules(self) -> ColumnType:
        """Which DynamoDB values the column takes (``loaders.columns``)."""
        return ColumnType.of(self.sql_type)

    @property
    def checked(self) -> bool:
        """A mapped column that refuses some values: its stage row has a ``_x`` code."""
        return self.path is not None and self.rules.checked


@dataclass(frozen=True)
class Target:
    mapping: TableMapping
    key_types: tuple[str, ...]  # SQL types of the key columns, in mapping order
    data: tuple[DataColumn, ...]

    @classmethod
    def of(cls, mapping: TableMapping) -> Target:
        cols = [DataColumn(c.name, c.sql_type, c.path) for c in mapping.columns]
        if mapping.overflow_column:
            cols.append(DataColumn(mapping.overflow_column, "JSON", None))
        types = key_sql_types([k.type for k in mapping.keys])
        return cls(mapping, tuple(types), tuple(cols))

    @property
    def table(self) -> str:
        return quote(self.mapping.target)

    @property
    def tomb(self) -> str:
        return quote(tombstone_name(self.mapping.target))

    @property
    def keys(self) -> list[str]:
        return [quote(k.column) for k in self.mapping.keys]

    @property
    def hard_delete(self) -> bool:
        return self.mapping.delete_mode == "delete"


def _newer(a_ver: str, a_seq: str, b_ver: str, b_seq: str) -> str:
    """(version_us, length of seq, seq) of a is greater than that of b."""
    return f"({a_ver}, CHAR_LENGTH({a_seq}), {a_seq}) > ({b_ver}, CHAR_LENGTH({b_seq}), {b_seq})"


def _join(t: Target, left: str, right: str) -> str:
    return " AND ".join(f"{right}.{k} = {left}.{k}" for k in t.keys)


def create_target(t: Target) -> str:
    cols = [f"{k} {typ} NOT NULL" for k, typ in zip(t.keys, t.key_types, strict=True)]
    cols += [f"{quote(c.name)} {c.sql_type} NULL" for c in t.data]
    cols += system_column_defs()
    cols.append(f"PRIMARY KEY ({', '.join(t.keys)})")
    return (
        f"CREATE TABLE IF NOT EXISTS {t.table} ({', '.join(cols)}) "
        "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"
    )


SYSTEM_COLUMNS = (
    (VERSION, "BIGINT NOT NULL DEFAULT 0"),
    (SEQ, f"{SEQ_TYPE} NOT NULL DEFAULT ''"),
    (DELETED, "TINYINT(1) NOT NULL DEFAULT 0"),
    (EXPIRED, "TINYINT(1) NOT NULL DEFAULT 0"),
    (DATA_VERSION, "BIGINT NOT NULL DEFAULT 0"),
    (DATA_SEQ, f"{SEQ_TYPE} NOT NULL DEFAULT ''"),
)


def system_column_defs() -> list[str]:
    return [f"{quote(name)} {definition}" for name, definition in SYSTEM_COLUMNS]


def missing_column_defs(t: Target, have: set[str]) -> list[str]:
    """Definitions of the mapped and system columns an existing target lacks (``have``: lower case)."""
    defs = [f"{quote(c.name)} {c.sql_type} NULL" for c in t.data if c.name.lower() not in have]
    defs += [f"{quote(col)} {definition}" for col, definition in SYSTEM_COLUMNS if col not in have]
    return defs


def add_columns(t: Target, defs: list[str]) -> str:
    return f"ALTER TABLE {t.table} " + ", ".join(f"ADD COLUMN {d}" for d in defs)


def create_tombstones(t: Target) -> str:
    """Versioned tombstones of hard-deleted keys, with the target's key column types."""
    return (
        f"CREATE TABLE IF NOT EXISTS {t.tomb} "
        f"({quote(VERSION)} BIGINT NOT NULL DEFAULT 0, {quote(SEQ)} {SEQ_TYPE} NOT NULL DEFAULT '', "
        f"PRIMARY KEY ({', '.join(t.keys)}), KEY ({quote(VERSION)})) "
        f"ENGINE=InnoDB SELECT {', '.join(t.keys)} FROM {t.table} LIMIT 0"
    )


def create_registry() -> str:
    # ascii_general_ci: 'Orders' and 'orders' are one target on a server with
    # lower_case_table_names 1, so the registry treats them as one everywhere.
    return (
        f"CREATE TABLE IF NOT EXISTS {quote(REGISTRY)} ("
        "target_table VARCHAR(64) CHARACTER SET ascii COLLATE ascii_general_ci NOT NULL, "
        "source_table VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL, "
        "claimed_at DATETIME(6) NOT NULL, PRIMARY KEY (target_table)"
        ") ENGINE=InnoDB"
    )


def claim_target() -> str:
    """Claim a target for a source; a no-op when someone already owns it (parameters: target, source)."""
    return (
        f"INSERT IGNORE INTO {quote(REGISTRY)} (target_table, source_table, claimed_at) "
        "VALUES (%s, %s, UTC_TIMESTAMP(6))"
    )


def target_owner() -> str:
    """The source that owns a target (parameter: target); locks the row in a transaction."""
    return f"SELECT source_table, target_table FROM {quote(REGISTRY)} WHERE target_table = %s FOR UPDATE"


def target_owners() -> str:
    return f"SELECT target_table, source_table, claimed_at FROM {quote(REGISTRY)} ORDER BY target_table"


def columns_query() -> str:
    return (
        "SELECT COLUMN_NAME FROM information_schema.COLUMNS "
        "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION"
    )


def unique_keys_query() -> str:
    return (
        "SELECT INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS "
        "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s AND NON_UNIQUE = 0 "
        "ORDER BY INDEX_NAME, SEQ_IN_INDEX"
    )


def create_stage(t: Target) -> str:
    """A temporary table for one LOAD DATA round (temporary DDL does not commit).

    Clustered by ``_row``: the load file comes in ``_row`` order (an append), and
    every statement after it reads one op as a range of ``_row``.
    """
    data = ", ".join(
        [f"{quote(c.name)} {'LONGTEXT' if c.path is None else c.sql_type} NULL" for c in t.data]
        + [f"_x{i} VARCHAR(24) CHARACTER SET ascii NULL" for i, c in enumerate(t.data) if c.checked]
    )
    return (
        f"CREATE TEMPORARY TABLE {quote(STAGE)} ("
        "_row INT UNSIGNED NOT NULL DEFAULT 0, _file SMALLINT UNSIGNED NOT NULL DEFAULT 0, "
        "_op CHAR(1) CHARACTER SET ascii NOT NULL DEFAULT '', _bad TINYINT NOT NULL DEFAULT 0, "
        f"_ver BIGINT NOT NULL DEFAULT 0, _seq {SEQ_TYPE} NOT NULL DEFAULT ''"
        f"{', ' + data if data else ''}, PRIMARY KEY (_row)) ENGINE=InnoDB "
        f"SELECT {', '.join(t.keys)} FROM {t.table} LIMIT 0"
    )


def drop_stage() -> str:
    return f"DROP TEMPORARY TABLE IF EXISTS {quote(STAGE)}"


def _mapped(i: int, c: DataColumn, params: list[str]) -> list[str]:
    """The assignments of mapped column ``i``: its ``_x{i}`` code (NULL when the column takes
    the value exactly), then the column, NULL when the value is absent, NULL or refused."""
    ct = c.rules
    path = json_path(c.path or ())
    describe, uses = columns.describe(i, ct)
    params.extend([path] * uses)
    if not ct.checked:
        # Any value: DynamoDB NULL becomes JSON null, an absent one SQL NULL.
        return [f"{quote(c.name)} = IF(@b OR {describe} IS NULL, NULL, {columns.value(i, ct)})"]
    code = f"CONCAT(@t{i}, ':', {columns.check(i, ct)})"
    return [
        f"_x{i} = (@r{i} := IF(@b OR {describe} = 'NULL', NULL, {code}))",
        f"{quote(c.name)} = IF(@b OR @r{i} IS NOT NULL OR @t{i} = 'NULL', NULL, "
        f"{columns.value(i, ct)})",
    ]


def _overflow_path(i: int, c: DataColumn, params: list[str]) -> str:
    """The path JSON_REMOVE takes out of the overflow for mapped column ``i``.

    A DOUBLE or FLOAT whose column does not read back as the DynamoDB number keeps it:
    the path given is then one inside the number, which holds nothing to remove.
    """
    path = json_path(c.path or ())
    ct = c.rules
    if ct.family != "float":
        params.append(path)
        return "%s"
    params.extend([path, json_path((*(c.path or ()), "digits")), path])
    return (
        f"CASE WHEN @r{i} IS NOT NULL OR @t{i} <> 'N' THEN %s "
        f"WHEN {columns.keep(i, ct)} THEN %s ELSE %s END"
    )


def load_data(
    t: Target, filename: str, escaped: bool, *, raw_key: bool = False
) -> tuple[str, list[str]]:
    """LOAD DATA of one load file into the stage; key and mapped columns come out of the JSON.

    Mapped columns take what ``loaders.columns`` says their type takes; a refused value
    leaves its code in the row's ``_x`` column (``refused_rows``). The overflow column
    holds the item minus the mapped paths, except a number a DOUBLE or FLOAT column
    does not hold exactly. ``escaped``: the file escapes with backslashes (NULL is
    \\N); otherwise nothing is escaped and an empty item or type map field is NULL
    (see ``arrowfile.load_file``). ``raw_key``: the key field is the one key attribute's
    value (``arrowfile.with_key_value``), not its JSON. A table without mapped columns
    leaves the item's JSON check to the overflow column's own (``unchecked_items``).
    """
    params: list[str] = [filename]
    # Assignments run left to right: @item, @types and @b are set first for all that follow.
    mapped = [c for c in t.data if c.path is not None]
    sets = [_bad_flag(check_item=stage_checks_item(t))]
    for k, col in zip(t.mapping.keys, t.keys, strict=True):
        expr = "@key" if raw_key else "JSON_VALUE(@key, %s)"
        if k.type == "B":
            expr = f"FROM_BASE64({expr})"
        sets.append(f"{col} = {expr}")
        if not raw_key:
            params.append(json_path([k.name]))
    for i, c in enumerate(t.data):
        if c.path is not None:
            sets += _mapped(i, c, params)
    for c in t.data:
        if c.path is None:
            if mapped:
                holes = [_overflow_path(i, m, params) for i, m in enumerate(t.data) if m.path]
                sets.append(
                    f"{quote(c.name)} = IF(@b, NULL, JSON_REMOVE(@item, {', '.join(holes)}))"
                )
            else:
                sets.append(f"{quote(c.name)} = @item")
    escape = "\\\\" if escaped else ""
    sql = (
        f"LOAD DATA LOCAL INFILE %s INTO TABLE {quote(STAGE)} CHARACTER SET utf8mb4 "
        f"FIELDS TERMINATED BY '\\t' ESCAPED BY '{escape}' "
        "LINES TERMINATED BY '\\n' (_row, _file, _op, @key, _ver, _seq, @raw, @rawtypes) SET "
        + ", ".join(sets)
    )
    return sql, params


def stage_checks_item(t: Target) -> bool:
    """Whether LOAD DATA checks that each item is JSON: a mapped column reads the item
    there, or no overflow column of the target's own would check it in the merge."""
    mapped = any(c.path is not None for c in t.data)
    return mapped or all(c.path is not None for c in t.data)


def _bad_flag(*, check_item: bool) -> str:
    """The stage's ``_bad`` (and ``@b``): the item or its type map is not JSON; sets
    ``@item`` and ``@types`` for the assignments after it.

    Without ``check_item`` the item is not parsed here: nothing reads it before the merge,
    and the overflow column's JSON check parses it there anyway (``unchecked_items``
    finds the culprits when that check refuses a row).
    """
    item = "(@item := NULLIF(@raw, '')) IS NOT NULL AND NOT JSON_VALID(@item)"
    if not check_item:
        # Always false, yet it still sets @item (nothing here can be folded away).
        item = "(@item := NULLIF(@raw, '')) IS NULL AND @item IS NOT NULL"
    types = "(@types := NULLIF(@rawtypes, '')) IS NOT NULL AND NOT JSON_VALID(@types)"
    return f"_bad = (@b := ((({item}) + ({types})) > 0))"


def unchecked_items(t: Target) -> str:
    """Staged rows whose item is not JSON, when ``load_data`` left the check to the merge."""
    item = quote(next(c.name for c in t.data if c.path is None))
    return f"SELECT _row FROM {quote(STAGE)} WHERE {item} IS NOT NULL AND NOT JSON_VALID({item})"


def savepoint() -> str:
    return f"SAVEPOINT {STAGE}"


def rollback_to_savepoint() -> str:
    return f"ROLLBACK TO SAVEPOINT {STAGE}"


def refused_rows(t: Target) -> tuple[str, list[DataColumn]]:
    """Staged rows refused by the load: ``_row, _bad`` and the ``_x`` code of each column
    listed (NULL where that column took its value), in one scan of the stage."""
    checked = [(i, c) for i, c in enumerate(t.data) if c.checked]
    codes = "".join(f", _x{i}" for i, _ in checked)
    refused = "".join(f" OR _x{i} IS NOT NULL" for i, _ in checked)
    query = f"SELECT _row, _bad{codes} FROM {quote(STAGE)} WHERE _bad = 1{refused}"
    return query, [c for _, c in checked]


def delete_stage_rows(n: int) -> str:
    return f"DELETE FROM {quote(STAGE)} WHERE _row IN ({', '.join(['%s'] * n)})"


def upsert(t: Target) -> str:
    """Version-guarded merge of upserts (and of flag-only deletes/expiries) into the target.

    A newer upsert replaces the row and clears its flags; a newer flag-only change sets
    the flag and keeps the data; an older upsert only fills the data of a flagged row
    whose data is older still. Any order of the same changes gives the same row.
    Parameters: the first and last ``_row`` of the op it merges. Rows a change wins
    are inserted or changed (``winners`` counts them in advance, per file); a change
    that loses leaves its row unchanged.
    """
    s = quote(STAGE)
    v, q, d, e = quote(VERSION), quote(SEQ), quote(DELETED), quote(EXPIRED)
    dv, dq = quote(DATA_VERSION), quote(DATA_SEQ)
    ops = [OP_UPSERT, OP_EXPIRE] + ([] if t.hard_delete else [OP_DELETE])
    data = [quote(c.name) for c in t.data]
    cols = t.keys + data + [d, e, v, q, dv, dq]
    upserting = f"s._op = '{OP_UPSERT}'"
    select = (
        [f"s.{k}" for k in t.keys]
        + [f"s.{c}" for c in data]
        + [f"s._op = '{OP_DELETE}'", f"s._op = '{OP_EXPIRE}'", "s._ver", "s._seq"]
        + [f"IF({upserting}, s._ver, 0)", f"IF({upserting}, s._seq, '')"]
    )
    k0 = t.keys[0]
    # The SELECT joins tables with the same column names: qualify the target's.
    tv, tq, td, te, tdv, tdq = (f"{t.table}.{c}" for c in (v, q, d, e, dv, dq))
    newer = _newer(f"VALUES({tv})", f"VALUES({tq})", tv, tq)
    newer_data = _newer(f"VALUES({tv})", f"VALUES({tq})", tdv, tdq)
    is_upsert = f"VALUES({td}) = 0 AND VALUES({te}) = 0"
    # MariaDB applies ON DUPLICATE KEY assignments left to right, each seeing the ones
    # before: decide both conditions in the first assignment, from the old values.
    decide = (
        f"@ddbload_data := (((@ddbload_newer := {newer}) OR (({td} OR {te}) AND {newer_data})) "
        f"AND {is_upsert})"
    )
    updates = [f"{tdq} = IF({decide}, VALUES({tdq}), {tdq})"]
    updates.append(f"{tdv} = IF(@ddbload_data, VALUES({tdv}), {tdv})")
    updates += [
        f"{t.table}.{c} = IF(@ddbload_data, VALUES({t.table}.{c}), {t.table}.{c})" for c in data
    ]
    updates += [f"{c} = IF(@ddbload_newer, VALUES({c}), {c})" for c in (td, te, tq, tv)]
    op_list = ", ".join(f"'{o}'" for o in ops)
    return (
        f"INSERT INTO {t.table} ({', '.join(cols)}) SELECT {', '.join(select)} FROM {s} s "
        f"LEFT JOIN {t.tomb} b ON {_join(t, 's', 'b')} "
        f"WHERE s._row BETWEEN %s AND %s AND s._op IN ({op_list}) AND "
        f"(b.{k0} IS NULL OR {_newer('s._ver', 's._seq', f'b.{v}', f'b.{q}')}) "
        f"ON DUPLICATE KEY UPDATE {', '.join(updates)}"
    )


def winners(t: Target) -> str:
    """Per file and op, the staged rows the merge statements will insert or change.

    Read before them, from the same rows: stage keys are unique within a round, so each
    row's outcome depends only on its target row and tombstone as they are now. An
    upsert or flag wins past a newer-or-absent tombstone when its target row is absent
    or older, or (an upsert) when the row is flagged and its data older (``upsert``);
    a hard delete wins on the same terms (``hard_delete`` then ``write_tombstones``).
    """
    v, q, d, e = quote(VERSION), quote(SEQ), quote(DELETED), quote(EXPIRED)
    dv, dq = quote(DATA_VERSION), quote(DATA_SEQ)
    k0 = t.keys[0]
    return (
        f"SELECT s._file, s._op, COUNT(*) FROM {quote(STAGE)} s "
        f"LEFT JOIN {t.table} t ON {_join(t, 's', 't')} "
        f"LEFT JOIN {t.tomb} b ON {_join(t, 's', 'b')} "
        f"WHERE (b.{k0} IS NULL OR {_newer('s._ver', 's._seq', f'b.{v}', f'b.{q}')}) AND "
        f"(t.{k0} IS NULL OR {_newer('s._ver', 's._seq', f't.{v}', f't.{q}')} OR "
        f"(s._op = '{OP_UPSERT}' AND (t.{d} OR t.{e}) AND "
        f"{_newer('s._ver', 's._seq', f't.{dv}', f't.{dq}')})) "
        "GROUP BY s._file, s._op"
    )


def hard_delete(t: Target) -> str:
    """Remove target rows older than a staged delete; parameters: the deletes' ``_row`` range."""
    v, q = quote(VERSION), quote(SEQ)
    return (
        f"DELETE t FROM {quote(STAGE)} s STRAIGHT_JOIN {t.table} t ON {_join(t, 's', 't')} "
        f"WHERE s._row BETWEEN %s AND %s AND s._op = '{OP_DELETE}' AND "
        f"{_newer('s._ver', 's._seq', f't.{v}', f't.{q}')}"
    )


def write_tombstones(t: Target) -> str:
    """Tombstones for deletes that won (no newer target row is left for their key).

    Parameters: the ``_row`` range of the deletes; a delete wins exactly when its
    tombstone is inserted or changed.
    """
    v, q = quote(VERSION), quote(SEQ)
    tv, tq = f"{t.tomb}.{v}", f"{t.tomb}.{q}"
    newer = _newer(f"VALUES({tv})", f"VALUES({tq})", tv, tq)
    return (
        f"INSERT INTO {t.tomb} ({', '.join(t.keys)}, {v}, {q}) "
        f"SELECT {', '.join(f's.{k}' for k in t.keys)}, s._ver, s._seq FROM {quote(STAGE)} s "
        f"LEFT JOIN {t.table} t ON {_join(t, 's', 't')} "
        f"WHERE s._row BETWEEN %s AND %s AND s._op = '{OP_DELETE}' AND t.{t.keys[0]} IS NULL "
        f"ON DUPLICATE KEY UPDATE {tq} = IF(@ddbload_newer := {newer}, VALUES({tq}), {tq}), "
        f"{tv} = IF(@ddbload_newer, VALUES({tv}), {tv})"
    )


def prune_tombstones(t: Target) -> str:
    return f"DELETE FROM {t.tomb} WHERE {quote(VERSION)} < %s"


def get_lock() -> str:
    return "SELECT GET_LOCK(%s, %s)"


def release_lock() -> str:
    return "SELECT RELEASE_LOCK(%s)"


def current_database() -> str:
    return "SELECT DATABASE()"


def show_warnings() -> str:
    return "SHOW WARNINGS"


def live_rows(mapping: TableMapping) -> str:
    """Key, mapped and overflow columns of the target's rows that are neither deleted nor expired."""
    columns = [k.column for k in mapping.keys] + [c.name for c in mapping.columns]
    if mapping.overflow_column:
        columns.append(mapping.overflow_column)
    return (
        f"SELECT {', '.join(quote(c) for c in columns)} FROM {quote(mapping.target)} "
        f"WHERE {quote(DELETED)} = 0 AND {quote(EXPIRED)} = 0"
    )
