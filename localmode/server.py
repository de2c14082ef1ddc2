"""The local AWS endpoint: a ``moto_server`` process in the background on 127.0.0.1.

``up()`` starts it on a free port (the server binds port 0 and we read the port
it reports), ``down()`` stops it by the pid remembered in the state folder,
``status()`` says whether it still answers. Everything else in local mode finds
the endpoint through ``endpoint()``.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

from localmode import state

SERVER_FILE = "moto.json"
LOG_FILE = "moto.log"
_RUNNING_ON = re.compile(r"Running on http://127\.0\.0\.1:(\d+)")


class LocalModeError(RuntimeError):
    """Local mode cannot do what was asked; the message says what to do."""


@dataclass(frozen=True)
class ServerStatus:
    running: bool
    pid: int | None = None
    port: int | None = None
    endpoint: str | None = None
    log: str | None = None
    state_dir: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def _alive(pid: int) -> bool:
    """True when ``pid`` is a live moto server process (not a reused pid)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # A zombie (state Z) has exited but not been reaped by its parent.
    if stat.rsplit(")", 1)[-1].split()[0] == "Z":
        return False
    return b"moto" in cmdline


def _answers(endpoint: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=timeout) as r:
            return r.status == 200
    except OSError:
        return False


def status(state_path: str | os.PathLike[str] | None = None) -> ServerStatus:
    """Whether the local moto_server recorded in the state folder runs and answers."""
    folder = state.state_dir(state_path)
    doc = state.read(folder, SERVER_FILE)
    if not doc:
        return ServerStatus(running=False, state_dir=str(folder))
    running = _alive(doc["pid"]) and _answers(doc["endpoint"])
    return ServerStatus(
        running=running,
        pid=doc["pid"],
        port=doc["port"],
        endpoint=doc["endpoint"],
        log=doc.get("log"),
        state_dir=str(folder),
    )


def endpoint(state_path: str | os.PathLike[str] | None = None) -> str:
    """The endpoint URL of the running local server; raises ``LocalModeError`` if none."""
    current = status(state_path)
    if not current.running or not current.endpoint:
        raise LocalModeError("the local stack is not running; start it with `ddbload local up`.")
    return current.endpoint


def up(state_path: str | os.PathLike[str] | None = None, *, timeout: float = 30.0) -> ServerStatus:
    """Start moto_server on 127.0.0.1 and a free port unless one already runs; return its status."""
    folder = state.state_dir(state_path)
    current = status(folder)
    if current.running:
        return current
    if current.pid and _alive(current.pid):
        _stop(current.pid)
    log_path = folder / LOG_FILE
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", "0"],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,  # survives the CLI process that started it
        )
    deadline = time.monotonic() + timeout
    port = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise LocalModeError(f"moto_server exited with code {proc.returncode}; see {log_path}.")
        match = _RUNNING_ON.search(log_path.read_text(errors="replace"))
        if match:
            port = int(match.group(1))
            if _answers(f"http://127.0.0.1:{port}"):
                break
        time.sleep(0.1)
    else:
        _stop(proc.pid)
        raise LocalModeError(f"moto_server did not start within {timeout:.0f} s; see {log_path}.")
    url = f"http://127.0.0.1:{port}"
    state.write(
        folder,
        SERVER_FILE,
        {"pid": proc.pid, "port": port, "endpoint": url, "log": str(log_path)},
    )
    return status(folder)


def _stop(pid: int, timeout: float = 10.0) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # Reap it when we are its parent (tests); otherwise just watch /proc.
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        if not _alive(pid):
            return
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


def down(state_path: str | os.PathLike[str] | None = None) -> ServerStatus:
    """Stop the local moto_server by its remembered pid and forget the local stack.

    Returns the status it had before stopping (``running`` False if nothing ran).
    All AWS state lives in that process, so the local resources go with it.
    """
    folder = state.state_dir(state_path)
    before = status(folder)
    if before.pid and _alive(before.pid):
        _stop(before.pid)
    for name in (SERVER_FILE, *state.LOCAL_STACK_FILES):
        state.remove(folder, name)
    return before
