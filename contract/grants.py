"""The MariaDB privileges of the loader's own user, named once.

The deploy-time custom resource (``provisioning/loader_user.py``) grants exactly these
on the pipeline's database, docs/DEPLOY.md prints the same statements for an existing
server, and the loader tests connect as a user made from them, so a statement that
needs a privilege missing here fails a test. Why each one:

- SELECT, INSERT, UPDATE, DELETE: the ledger, the tombstones and the versioned merge
  into the targets (LOAD DATA LOCAL only needs INSERT on the staging table).
- CREATE, ALTER: the loader creates missing target, ledger and tombstone tables and adds
  mapped columns declared later.
- CREATE TEMPORARY TABLES: the per-batch staging table.

No global privilege (FILE, SUPER, PROCESS, ...) and nothing outside the one database.
"""

from __future__ import annotations

import re

LOADER_PRIVILEGES: tuple[str, ...] = (
    "SELECT",
    "INSERT",
    "UPDATE",
    "DELETE",
    "CREATE",
    "ALTER",
    "CREATE TEMPORARY TABLES",
)
# The user name the stack creates; the multi-user rotation alternates it with
# ``<name>_clone``, which gets the same grants.
LOADER_USER = "ddbload_loader"
CLONE_SUFFIX = "_clone"

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_HOST = re.compile(r"%|[A-Za-z0-9_.%:-]{1,255}")


def _check(user: str, host: str, database: str) -> None:
    # These reach SQL text (GRANT takes no placeholders for names), so only plain names pass.
    if not _NAME.fullmatch(user) or not _NAME.fullmatch(database) or not _HOST.fullmatch(host):
        raise ValueError(
            f"not a plain MariaDB user, host or database name: {user!r}@{host!r} on {database!r}."
        )


def account(user: str, host: str = "%") -> str:
    """``'user'@'host'`` as MariaDB spells an account."""
    _check(user, host, "x")
    return f"'{user}'@'{host}'"


def grant_statement(user: str, database: str, host: str = "%") -> str:
    """The one GRANT the loader's user needs on ``database``."""
    _check(user, host, database)
    return f"GRANT {', '.join(LOADER_PRIVILEGES)} ON `{database}`.* TO {account(user, host)}"


def setup_statements(user: str, database: str, host: str = "%") -> list[str]:
    """What a DBA runs on an existing server (password as a placeholder), in order."""
    return [
        f"CREATE USER {account(user, host)} IDENTIFIED BY '<password>'",
        grant_statement(user, database, host),
    ]
