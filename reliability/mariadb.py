"""A private MariaDB server: its own data folder, socket and free port.

Used by the reliability tests, the TLS tests (with certificate options) and the
benchmark (with a production-sized buffer pool). Never the machine's shared server: ``mariadb-install-db`` makes a fresh data
folder under the test's temporary directory, and ``mariadbd --no-defaults``
runs on 127.0.0.1 with a port of its own. ``stop()`` (SIGTERM, clean shutdown)
and ``start()`` again on the same port and data let a test take the database
away for several loader runs and bring it back.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pymysql

MARIADBD = "/usr/sbin/mariadbd"
INSTALL_DB = "mariadb-install-db"
# Small and quick to start; callers add or override options (the last one given wins).
DEFAULT_OPTIONS = (
    "--skip-name-resolve", "--skip-log-bin", "--local-infile=1",
    "--innodb-buffer-pool-size=64M", "--max-connections=20",
    "--character-set-server=utf8mb4", "--collation-server=utf8mb4_bin",
)  # fmt: skip


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class PrivateMariaDB:
    def __init__(
        self,
        folder: Path,
        password: str = "",
        *,
        options: tuple[str, ...] = DEFAULT_OPTIONS,
        client: dict[str, object] | None = None,
    ) -> None:
        self.folder = folder
        self.data = folder / "data"
        self.port = free_port()
        self.password = password
        self.options = options
        # Extra PyMySQL keywords for every connection to it (e.g. ssl_ca for a TLS-only server).
        self.client = client or {}
        self.proc: subprocess.Popen[bytes] | None = None

    def install(self) -> None:
        subprocess.run(
            [
                INSTALL_DB, "--no-defaults", f"--datadir={self.data}", "--user=root",
                "--auth-root-authentication-method=normal", "--skip-test-db",
            ],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip

    def start(self, timeout: float = 30.0, attempts: int = 3) -> None:
        """Start on ``self.port``; if the process dies at once (the free port was taken
        meanwhile), try again on a new port, a bounded number of times."""
        for attempt in range(attempts):
            if self._start_once(timeout):
                return
            if attempt + 1 < attempts:
                self.port = free_port()
        raise RuntimeError(f"mariadbd did not start; see {self.log_path}")

    @property
    def log_path(self) -> Path:
        return self.folder / "mariadbd.log"

    def _start_once(self, timeout: float) -> bool:
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the process
        self.proc = subprocess.Popen(
            [
                MARIADBD, "--no-defaults", f"--datadir={self.data}",
                f"--socket={self.folder / 'sock'}", f"--pid-file={self.folder / 'pid'}",
                f"--port={self.port}", "--bind-address=127.0.0.1", "--user=root",
                *self.options,
            ],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.proc = None
                return False
            with contextlib.suppress(pymysql.err.OperationalError):
                self.connect().close()
                return True
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"mariadbd did not answer in time; see {self.log_path}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, sig)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def connect(self, database: str | None = None) -> pymysql.connections.Connection:
        return pymysql.connect(
            host="127.0.0.1", port=self.port, user="root", password=self.password,
            database=database, autocommit=True, connect_timeout=2, **self.client,
        )  # fmt: skip

    def set_root_password(self, password: str) -> None:
        with self.connect() as conn, conn.cursor() as cur:
            for host in ("localhost", "127.0.0.1", "::1"):
                with contextlib.suppress(pymysql.err.MySQLError):
                    cur.execute(f"ALTER USER 'root'@'{host}' IDENTIFIED BY %s", [password])
        self.password = password

    def url(self, database: str) -> str:
        auth = f"root:{self.password}" if self.password else "root"
        return f"mysql://{auth}@127.0.0.1:{self.port}/{database}"
