"""A TCP proxy between the loader and MariaDB that breaks connections on cue.

The loader connects to the proxy's port instead of MariaDB's. ``arm`` sets a
one-shot fault that fires when the client's bytes to the server contain a
pattern (``b"LOAD DATA"``, ``b"COMMIT"``), optionally only after ``after_bytes``
more bytes have gone up (mid-file of a LOAD DATA LOCAL):

* ``drop``: both sides closed cleanly (FIN), as when a peer goes away;
* ``reset``: both sides closed with RST (SO_LINGER 0), as a NAT or firewall does;
* ``stall``: nothing forwarded for ``stall_seconds``, then traffic resumes;
* ``stall_reset``: nothing forwarded for ``stall_seconds``, then RST.

``forward_first`` decides whether the bytes that fire the fault reach the
server: True breaks the connection *after* the server got the statement (for
COMMIT: the server commits, the client never hears so), False *before*.
"""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import threading
import time
from dataclasses import dataclass

ACTIONS = ("drop", "reset", "stall", "stall_reset")


@dataclass
class _Fault:
    pattern: bytes
    action: str
    after_bytes: int = 0
    stall_seconds: float = 0.0
    forward_first: bool = True
    seen_at: int | None = None  # bytes gone up when the pattern was seen


class FaultProxy:
    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self.fired: list[str] = []
        self.connections = 0
        self._fault: _Fault | None = None
        self._listener: socket.socket | None = None
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()

    def __enter__(self) -> FaultProxy:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Listen; after a ``stop`` this takes the same port again (a server coming back)."""
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        """Refuse new connections and cut every open one."""
        with self._lock:
            if self._listener:
                # close() alone does not wake a thread blocked in accept(); shutdown does,
                # so a stopped proxy never takes one more connection.
                with contextlib.suppress(OSError):
                    self._listener.shutdown(socket.SHUT_RDWR)
                self._listener.close()
                self._listener = None
            for s in self._open:
                _close(s)
            self._open.clear()

    def arm(
        self,
        pattern: bytes,
        action: str,
        *,
        after_bytes: int = 0,
        stall_seconds: float = 0.0,
        forward_first: bool = True,
    ) -> None:
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}")
        with self._lock:
            self._fault = _Fault(pattern, action, after_bytes, stall_seconds, forward_first)

    @property
    def armed(self) -> bool:
        return self._fault is not None

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.target, timeout=5)
                server.settimeout(None)
            except OSError:
                _close(client, rst=True)
                continue
            with self._lock:
                self._open += [client, server]
                self.connections += 1
            cut = threading.Event()
            threading.Thread(target=self._up, args=(client, server, cut), daemon=True).start()
            threading.Thread(target=_pipe, args=(server, client, cut), daemon=True).start()

    def _take(self, window: bytes, sent: int, size: int) -> _Fault | None:
        """The armed fault if this chunk fires it (the pattern may span two chunks)."""
        with self._lock:
            fault = self._fault
            if fault is None:
                return None
            if fault.seen_at is None and fault.pattern in window:
                fault.seen_at = sent
            if fault.seen_at is not None and sent + size - fault.seen_at >= fault.after_bytes:
                self._fault = None
                return fault
            return None

    def _up(self, client: socket.socket, server: socket.socket, cut: threading.Event) -> None:
        """Client -> server, where faults fire."""
        sent = 0
        tail = b""
        with contextlib.suppress(OSError):
            while data := _recv(client, cut):
                fault = self._take(tail + data, sent, len(data))
                tail = data[-64:]
                if fault is None:
                    server.sendall(data)
                    sent += len(data)
                    continue
                what = fault.pattern.decode(errors="replace").strip("\x03")
                self.fired.append(f"{fault.action}@{what}")
                if fault.forward_first:
                    server.sendall(data)
                    sent += len(data)
                if fault.action in ("stall", "stall_reset"):
                    time.sleep(fault.stall_seconds)
                if fault.action == "stall":
                    if not fault.forward_first:
                        server.sendall(data)
                        sent += len(data)
                    continue
                if fault.forward_first:
                    # Give the server time to act on what it received before the cut.
                    time.sleep(0.2)
                _cut(client, server, cut, rst=fault.action in ("reset", "stall_reset"))
                return
        with contextlib.suppress(OSError):
            server.shutdown(socket.SHUT_WR)


def _recv(src: socket.socket, cut: threading.Event) -> bytes:
    """The next bytes from ``src``; b"" at its end or once the connection is cut.

    Reads wake up every 0.2 s: a thread blocked in recv would keep a closed
    socket alive in the kernel, and the peer would never see the RST.
    """
    while not cut.is_set():
        try:
            ready, _, _ = select.select([src], [], [], 0.2)
        except ValueError:  # closed by stop()
            return b""
        if ready:
            return src.recv(65536)
    return b""


def _pipe(src: socket.socket, dst: socket.socket, cut: threading.Event) -> None:
    with contextlib.suppress(OSError):
        while data := _recv(src, cut):
            dst.sendall(data)
    with contextlib.suppress(OSError):
        dst.shutdown(socket.SHUT_WR)


def _cut(client: socket.socket, server: socket.socket, cut: threading.Event, *, rst: bool) -> None:
    cut.set()
    time.sleep(0.3)  # the reader threads see ``cut`` and leave their recv
    _close(client, rst=rst)
    _close(server, rst=rst)


def _close(s: socket.socket, *, rst: bool = False) -> None:
    with contextlib.suppress(OSError):
        if rst:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        else:
            s.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        s.close()
