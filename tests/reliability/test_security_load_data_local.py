"""A hostile server asks LOAD DATA LOCAL for /etc/passwd: the loader sends nothing of it."""

from __future__ import annotations

from pathlib import Path

import pymysql
import pytest

from contract.config import parse_config
from loaders.db import connect, open_connection
from loaders.settings import LoaderSettings
from reliability.fake_mysql import HostileServer

pytestmark = pytest.mark.xdist_group("reliability-security")
PASSWD = Path("/etc/passwd").read_bytes()


def _leaked(server: HostileServer) -> int:
    """Bytes of /etc/passwd found in what the client sent (longest line found, 0 if none)."""
    sent = b"".join(server.received)
    lines = [line for line in PASSWD.splitlines() if line]
    return max((len(line) for line in lines if line in sent), default=0)


def test_a_naive_client_does_leak_the_file_so_the_trap_works():
    # GIVEN the hostile server and a plain PyMySQL client with local_infile on
    with HostileServer() as server:
        conn = pymysql.connect(
            host="127.0.0.1", port=server.port, user="u", password="p", local_infile=True
        )
        # WHEN it runs any query
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
        conn.close()
    # THEN the server got /etc/passwd: the trap catches a client that obeys
    assert server.requests == 1
    assert b"".join(server.received) == PASSWD


def test_the_loader_connection_refuses_a_file_asked_for_on_connect(record):
    # GIVEN the hostile server answering every statement with a request for /etc/passwd
    with HostileServer() as server:
        settings = LoaderSettings(
            config=parse_config({}), mariadb_url=f"mysql://u:p@127.0.0.1:{server.port}/db"
        )
        # WHEN the loader connects (its session settings are the first statement)
        conn = connect(settings)
        refused = list(conn.refused_requests)
        conn.close()
    # THEN the server asked, and got an empty file
    assert server.requests >= 1
    assert refused == [b"/etc/passwd"] * server.requests
    assert server.received == [] and _leaked(server) == 0
    record(
        "LOAD DATA LOCAL: server asks for /etc/passwd on connect",
        "fake MySQL server answers the loader's first statement with a 0xFB LOCAL INFILE request",
        f"{server.requests} request(s) refused; {sum(map(len, server.received))} bytes sent",
        kind="security",
        bytes_sent=sum(map(len, server.received)),
    )


def test_the_loader_sends_its_own_buffer_never_the_file_the_server_names(record):
    # GIVEN the hostile server asking for /etc/passwd in reply to the loader's LOAD DATA
    with HostileServer(ask_on=b"LOAD DATA") as server:
        conn = open_connection({"host": "127.0.0.1", "port": server.port, "user": "u"})
        # WHEN the loader runs LOAD DATA LOCAL with its registered buffer
        with conn.infile(b"a\tb\n") as name, conn.cursor() as cur:
            cur.execute(f"LOAD DATA LOCAL INFILE '{name}' INTO TABLE t")
        refused = list(conn.refused_requests)
        conn.close()
    # THEN the request for another name was refused: nothing of the file, nor of the buffer
    assert any(b"LOAD DATA LOCAL INFILE 'ddbload-" in q for q in server.queries)
    assert refused == [b"/etc/passwd"]
    assert server.received == [] and _leaked(server) == 0
    record(
        "LOAD DATA LOCAL: server swaps the file name",
        "fake MySQL server answers the loader's LOAD DATA LOCAL with a request for /etc/passwd",
        f"request refused; {sum(map(len, server.received))} bytes sent",
        kind="security",
    )
