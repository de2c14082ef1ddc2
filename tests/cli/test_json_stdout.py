"""With ``--json``, stdout holds exactly one JSON document; logs and progress go to stderr.

The commands are read from the app itself, so a new command taking ``--json`` is
checked too: the test fails until ``INVOCATIONS`` says how to run it. Each runs
through the CLI against a local stack (moto_server + MariaDB), with stdout and
stderr apart, and its stdout must parse with ``json.loads`` as a whole.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from cli.main import app
from localmode import aws, resources, server
from tests.cli.conftest import CDK_JSON, ROOT, change, put_staging


@dataclass(frozen=True)
class World:
    """What the invocations refer to: the test's database, folders and staged objects."""

    database: str
    folder: Path
    staged_key: str  # a staging object, loaded
    capture: Path  # captured Kinesis-destination records, one of them malformed

    def state(self, name: str) -> str:
        """A state folder of its own (its own moto_server) for commands that start one."""
        return str(self.folder / name)


Invocation = Callable[[World], list[list[str]]]

# Per command (its words): the runs to make, in order, each a whole command line ending
# in --json. Exit codes 0 and 3 (attention) are both fine: only the output is checked.
INVOCATIONS: dict[str, Invocation] = {
    "backfill": lambda w: [["backfill", "--local", "--table", "customers", "--json"]],
    "demo": lambda w: [
        ["demo", "--items", "20", "--database", w.database, "--state-dir", w.state("demo")]
        + ["--json"]
    ],
    "estimate": lambda w: [
        ["estimate", "--changes-per-second", "100", "--item-bytes", "1024", "--json"]
    ],
    "inspect": lambda w: [
        ["inspect", "--local", "--json"],
        ["inspect", "--local", "--errors", "--json"],
        ["inspect", "--local", "--show", w.staged_key, "--json"],
    ],
    "local up": lambda w: [
        _local_up(w),
        ["local", "down", "--state-dir", w.state("own"), "--json"],
    ],
    "local status": lambda w: [
        _local_up(w),
        ["local", "status", "--state-dir", w.state("own"), "--json"],
    ],
    "local down": lambda w: [
        _local_up(w),
        ["local", "down", "--state-dir", w.state("own"), "--json"],
    ],
    "reload": lambda w: [
        ["reload", "--local", "--prefix", "table=customers/", "--dry-run", "--json"],
        ["reload", "--local", "--prefix", "table=customers/", "--yes", "--json"],
        ["reload", "--local", "--errors", "--yes", "--json"],
    ],
    "replay": lambda w: [
        ["replay", str(w.capture), "--database", w.database, "--state-dir", w.state("replay")]
        + ["--json"]
    ],
    "status": lambda w: [["status", "--local", "--json"]],
    "verify": lambda w: [["verify", "--local", "--json"]],
}


def _local_up(w: World) -> list[str]:
    """A stack of its own (its own moto_server and state folder), as a user starts one."""
    return ["local", "up", "--database", w.database, "--config", str(CDK_JSON)] + [
        "--state-dir",
        w.state("own"),
        "--json",
    ]


def json_commands() -> list[str]:
    """Every command of ``ddbload`` that takes ``--json``, as its words ("local up")."""
    found: list[str] = []

    # Typer's own click is not the click package: walk by shape, not by class.
    def walk(command: Any, words: list[str]) -> None:
        if hasattr(command, "commands"):
            for name, sub in command.commands.items():
                walk(sub, [*words, name])
        elif any("--json" in getattr(p, "opts", ()) for p in command.params):
            found.append(" ".join(words))

    walk(typer.main.get_command(app), [])
    return sorted(found)


def _capture(path: Path) -> Path:
    """Three changes of ``customers`` in the Kinesis-destination shape, and one that is not."""
    lines = [
        json.dumps(
            {
                "awsRegion": "us-east-1",
                "eventID": f"e{i}",
                "eventName": "INSERT",
                "userIdentity": None,
                "recordFormat": "application/json",
                "tableName": "customers",
                "dynamodb": {
                    "ApproximateCreationDateTime": 1750000000000 + i,
                    "Keys": {"id": {"S": f"c{i}"}},
                    "NewImage": {"id": {"S": f"c{i}"}, "name": {"S": f"n{i}"}},
                    "SizeBytes": 40,
                },
                "eventSource": "aws:dynamodb",
            }
        )
        for i in range(3)
    ]
    lines.append('{"eventName": "INSERT", "dynamodb": {"Keys": {"id": {"X": "1"}}}}')
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def world(
    local_stack: resources.LocalResources,
    database: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    runner: CliRunner,
) -> World:
    monkeypatch.chdir(ROOT)  # demo and replay read ./cdk.json
    dynamodb = aws.client("dynamodb", local_stack.endpoint)
    for i in range(3):
        dynamodb.put_item(TableName="customers", Item={"id": {"S": f"d{i}"}, "n": {"N": str(i)}})
    staged = put_staging(
        local_stack, "table=customers/2025/06/15/15/one.gz", [change("a", 1), change("b", 2)]
    )
    loaded = runner.invoke(app, ["reload", "--local", "--prefix", staged, "--yes"])
    assert loaded.exit_code == 0, loaded.output
    return World(database, tmp_path, staged, _capture(tmp_path / "captured.jsonl"))


def test_every_json_command_has_an_invocation() -> None:
    commands = json_commands()
    assert {"demo", "replay", "status", "verify", "inspect"} <= set(commands)
    missing = sorted(set(commands) - set(INVOCATIONS))
    assert not missing, f"add to INVOCATIONS how to run: {missing}"
    assert not set(INVOCATIONS) - set(commands), "INVOCATIONS names commands the app lacks"


@pytest.mark.parametrize("command", json_commands())
def test_json_stdout_is_exactly_one_document(command: str, world: World, runner: CliRunner) -> None:
    if command not in INVOCATIONS:
        pytest.fail(f"no invocation for `ddbload {command} --json`: add one to INVOCATIONS")
    runs = INVOCATIONS[command](world)
    assert any(run[: len(command.split())] == command.split() for run in runs)
    try:
        for args in runs:
            # WHEN the command runs with --json
            result = runner.invoke(app, args)
            # THEN it finished (3: something needs attention) and stdout is one JSON document
            assert result.exit_code in (0, 3), result.output
            json.loads(result.stdout)
            if command == "replay":
                # AND the transform's log line for the malformed record went to stderr
                assert "record_failed" in result.stderr
    finally:
        for name in ("own", "demo", "replay"):
            server.down(world.state(name))
