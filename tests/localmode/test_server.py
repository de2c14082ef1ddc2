"""The local moto_server: started once, found again, stopped by its pid."""

from __future__ import annotations

from pathlib import Path

from localmode import server


def test_up_is_idempotent_and_down_stops_the_process(tmp_path: Path) -> None:
    # GIVEN no server in a fresh state folder
    assert not server.status(tmp_path).running

    # WHEN it is started twice
    first = server.up(tmp_path)
    try:
        second = server.up(tmp_path)

        # THEN one process serves on 127.0.0.1 and the state folder remembers it
        assert first.running and first.pid == second.pid
        assert first.endpoint == f"http://127.0.0.1:{first.port}"
        assert server.endpoint(tmp_path) == first.endpoint
        assert (tmp_path / server.SERVER_FILE).exists()
    finally:
        # WHEN it is stopped
        before = server.down(tmp_path)

    # THEN the process is gone and the state is forgotten
    assert before.pid == first.pid
    assert not Path(f"/proc/{first.pid}/cmdline").exists() or not server._alive(first.pid)
    assert not server.status(tmp_path).running
    assert not (tmp_path / server.SERVER_FILE).exists()


def test_down_without_a_server_is_harmless_and_endpoint_says_what_to_do(tmp_path: Path) -> None:
    # GIVEN nothing runs
    # WHEN it is stopped anyway
    result = server.down(tmp_path)

    # THEN nothing happens, and asking for the endpoint explains how to start it
    assert not result.running
    try:
        server.endpoint(tmp_path)
    except server.LocalModeError as e:
        assert "ddbload local up" in str(e)
    else:
        raise AssertionError("endpoint() must refuse when no server runs")
