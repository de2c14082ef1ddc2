"""The house rules of docs/ARCHITECTURE.md, checked on the source: which package may import which.

Every import statement counts, the ones inside functions too, so a lazy import
cannot carry the operator tool into the loader Lambda's bundle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# package -> top-level packages it must never import
FORBIDDEN = {
    "loaders": {"ops", "cli", "localmode", "transforms", "typer", "rich", "aws_cdk", "stacks"},
    "ops": {"cli", "localmode", "typer", "rich", "aws_cdk", "stacks"},
    "transforms": {"loaders", "ops", "cli", "localmode", "aws_cdk", "stacks", "pandas"},
    "contract": {"loaders", "ops", "cli", "localmode", "transforms", "aws_cdk", "stacks"},
    "localmode": {"cli"},
}


def imported_packages(path: Path) -> set[str]:
    """Top-level package names of every import in a module, wherever the import stands."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_packages_import_only_what_the_layout_allows(package: str) -> None:
    # GIVEN every module of the package
    modules = sorted((ROOT / package).rglob("*.py"))
    assert modules
    # WHEN reading their imports
    wrong = {
        str(m.relative_to(ROOT)): sorted(imported_packages(m) & FORBIDDEN[package]) for m in modules
    }
    # THEN none reaches a package it must not use
    assert {m: names for m, names in wrong.items() if names} == {}


def test_the_checker_sees_imports_inside_functions(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from ops import reload\n    import rich.table\n")
    assert imported_packages(module) == {"ops", "rich"}


def test_the_loader_bundle_ships_only_the_runtime_and_the_contract() -> None:
    from stacks import defaults

    # The loader Lambda's asset holds these packages (plus its wheels), nothing of the tool.
    assert set(defaults.LOADER_PACKAGES) == {"loaders", "contract"}


def test_source_files_stay_small_enough_to_read() -> None:
    # No module outside tests/ beyond 600 lines, no CLI module beyond 400 (docs/ARCHITECTURE.md).
    limits = {"cli": 400}
    skipped = {"tests", "build", "cdk.out", "node_modules"}
    lengths = {
        str(path.relative_to(ROOT)): len(path.read_text(encoding="utf-8").splitlines())
        for path in ROOT.rglob("*.py")
        if path.relative_to(ROOT).parts[0] not in skipped
        and not path.relative_to(ROOT).parts[0].startswith(".")
    }
    assert len(lengths) > 50
    too_long = {name: n for name, n in lengths.items() if n > limits.get(name.split("/")[0], 600)}
    assert too_long == {}
