"""Every command is documented: an Example in its --help, a section in docs/CLI.md."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer

from cli.main import app

ROOT = Path(__file__).resolve().parents[2]


def command_paths() -> list[tuple[str, object]]:
    """("inspect", cmd), ("local up", cmd), ... for every leaf command of the CLI."""
    found = []

    def walk(prefix: str, group) -> None:
        for name, cmd in sorted(group.commands.items()):
            path = f"{prefix} {name}".strip()
            if hasattr(cmd, "commands"):
                walk(path, cmd)
            else:
                found.append((path, cmd))

    walk("", typer.main.get_command(app))
    return found


def test_the_cli_has_the_commands_of_the_design() -> None:
    names = {path for path, _ in command_paths()}
    assert {"inspect", "reload", "status", "local up", "local down", "local status"} <= names


@pytest.mark.parametrize("path, cmd", command_paths(), ids=lambda p: str(p))
def test_every_command_help_has_an_example_of_itself(path: str, cmd) -> None:
    # GIVEN the help text of the command
    text = cmd.help or ""
    # THEN it has an Example section whose first line runs this very command
    assert "Example:" in text, path
    example = text.split("Example:", 1)[1].strip().splitlines()[0].strip()
    assert example.startswith(f"ddbload {path}"), example


def test_every_command_has_a_section_in_docs_cli_md() -> None:
    doc = (ROOT / "docs" / "CLI.md").read_text(encoding="utf-8")
    headings = set(re.findall(r"^#+ `ddbload ([a-z ]+?)(?: [A-Z\[-].*)?`", doc, re.MULTILINE))
    missing = [path for path, _ in command_paths() if path not in headings]
    assert not missing, f"docs/CLI.md lacks a section for: {missing}"


def test_readme_links_to_the_cli_reference() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "(docs/CLI.md)" in readme


def test_python_dash_m_cli_is_the_same_cli() -> None:
    import subprocess
    import sys

    # WHEN running the module and asking for help
    out = subprocess.run(
        [sys.executable, "-m", "cli", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    # THEN it lists the same commands
    assert out.returncode == 0, out.stderr
    for path, _ in command_paths():
        assert path.split()[0] in out.stdout
