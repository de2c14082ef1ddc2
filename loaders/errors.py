"""The error vocabulary: driver errors sorted at one boundary, and named where they are read.

Everything the engine catches from PyMySQL passes through ``classify``:
transient (retry the batch; the file stays pending) or terminal (stop the file,
say why). The few error facts other code needs are named here, as predicates
over PyMySQL's own constants (``pymysql.constants.ER`` / ``CR``): a missing
table (``is_missing_table``: the ledger before the first load), an unreachable
server (``is_unreachable``) or a lost session (``is_connection_lost``), refused
credentials and an unknown database (for the CLI's sentences), a server without
TLS (``is_tls_unavailable``), and a table lock another run holds (``LockHeld``).
No other module compares MySQL error numbers. Two S3 facts are named here too: an
object that is not there (``is_absent_object``) and a refused one
(``is_denied_object``), which is also how a missing key looks to the loader.
"""

from __future__ import annotations

import pymysql
from pymysql.constants import CR, ER

# MariaDB's "Connection was killed" (ER_CONNECTION_KILLED); not in pymysql's ER table.
_ER_CONNECTION_KILLED = 1927
# Cannot connect to the host at all.
_UNREACHABLE = frozenset({CR.CR_CONN_HOST_ERROR, CR.CR_UNKNOWN_HOST})
# Worth retrying: the connection was lost or refused, a deadlock or lock wait, the
# server is shutting down or full.
TRANSIENT_CODES = frozenset(
    {
        *_UNREACHABLE,
        CR.CR_SERVER_GONE_ERROR,
        CR.CR_SERVER_LOST,
        CR.CR_SERVER_LOST_EXTENDED,
        ER.LOCK_DEADLOCK,
        ER.LOCK_WAIT_TIMEOUT,
        _ER_CONNECTION_KILLED,
        ER.SERVER_SHUTDOWN,
        ER.CON_COUNT_ERROR,
    }
)


class LoaderError(Exception):
    """Base of the loader's own errors."""


class TransientError(LoaderError):
    """Worth retrying: the file stays pending and a later attempt or run loads it."""


class LockHeld(TransientError):
    """Another loader run holds the target's named lock; this batch waits for a later run."""


class TerminalError(LoaderError):
    """Retrying will not help; the message names the file and what to do."""


class TargetRefused(TerminalError):
    """The MariaDB target table does not match the mapping (primary key, unique keys)."""


class TargetOwned(TargetRefused):
    """The target already holds another DynamoDB table's items (see ``loaders.target``)."""


def error_code(exc: BaseException) -> int | None:
    args = getattr(exc, "args", ())
    if args and isinstance(args[0], int):
        return args[0]
    return None


# S3's answers for a key that does not exist (HEAD requests carry no body: only the status).
_ABSENT_OBJECT_CODES = frozenset({"404", "NoSuchKey", "NotFound"})
# S3 answers 403, not 404, for a key that does not exist when the caller may not list
# the bucket there (the loader role has no s3:ListBucket on the staging prefix).
_DENIED_OBJECT_CODES = frozenset({"403", "AccessDenied", "Forbidden"})


def _s3_code(exc: BaseException) -> str | None:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return None
    return str(response.get("Error", {}).get("Code", "")) or None


def is_absent_object(exc: BaseException) -> bool:
    """S3 says the object does not exist (404)."""
    return _s3_code(exc) in _ABSENT_OBJECT_CODES


def is_denied_object(exc: BaseException) -> bool:
    """S3 refused the request (403): a missing key without ListBucket, or a real refusal."""
    return _s3_code(exc) in _DENIED_OBJECT_CODES


def is_missing_table(exc: BaseException) -> bool:
    """The statement named a table that does not exist (the ledger before any load)."""
    return isinstance(exc, pymysql.err.Error) and error_code(exc) == ER.NO_SUCH_TABLE


def is_unreachable(exc: BaseException) -> bool:
    """The server cannot be reached at all (as opposed to a session lost midway)."""
    if isinstance(exc, ConnectionError):
        return True
    return isinstance(exc, pymysql.err.Error) and error_code(exc) in _UNREACHABLE


def is_connection_lost(exc: BaseException) -> bool:
    """An open session ended: the server went away or the connection dropped mid-statement."""
    return isinstance(exc, pymysql.err.Error) and error_code(exc) in (
        CR.CR_SERVER_GONE_ERROR,
        CR.CR_SERVER_LOST,
    )


def is_access_denied(exc: BaseException) -> bool:
    return isinstance(exc, pymysql.err.Error) and error_code(exc) == ER.ACCESS_DENIED_ERROR


def is_check_failed(exc: BaseException) -> bool:
    """A row broke a CHECK constraint (e.g. a JSON column's: the text is not JSON)."""
    return isinstance(exc, pymysql.err.Error) and error_code(exc) == ER.CONSTRAINT_FAILED


def is_unknown_database(exc: BaseException) -> bool:
    return isinstance(exc, pymysql.err.Error) and error_code(exc) == ER.BAD_DB_ERROR


def is_tls_unavailable(exc: BaseException) -> bool:
    """TLS was required and the server does not offer it."""
    return isinstance(exc, pymysql.err.Error) and error_code(exc) == CR.CR_SSL_CONNECTION_ERROR


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, TransientError):
        return True
    if isinstance(exc, LoaderError):
        return False
    if isinstance(exc, pymysql.err.InterfaceError):
        # "(0, '')": the socket is already closed.
        return True
    if isinstance(exc, pymysql.err.Error):
        return error_code(exc) in TRANSIENT_CODES
    return isinstance(exc, ConnectionError | TimeoutError)


def classify(exc: BaseException, what: str) -> LoaderError:
    """Wrap any exception met while loading ``what`` (a key or batch) as transient or terminal."""
    if isinstance(exc, LoaderError):
        return exc
    if is_transient(exc):
        return TransientError(f"{what}: transient database error ({exc}); it will be retried.")
    code = error_code(exc)
    detail = f"MariaDB error {code}: {exc.args[1]}" if code and len(exc.args) > 1 else repr(exc)
    return TerminalError(
        f"{what}: {detail}. Fix the cause (mapping, target table or data), then run "
        "`ddbload reload --prefix` for this key."
    )
