"""cfn-lint and checkov on the synthesized templates (default config, and an existing table
plus an existing database), as part of `make test`.

cfn-lint must report no error in any of the Regions below (its Region-specific checks:
resource types, instance classes, engine versions). checkov's failures must each be
listed in docs/DEPLOY.md ("checkov findings kept") with a reason: a new failure, or a
listed one that no longer fails, fails this test. checkov runs from its own locked
environment (.venv-checkov, `make venv`; tools/checkov says why) with no network.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.stacks.conftest import REPO, Synthesized

REGIONS = ("us-east-1", "eu-central-1", "ap-southeast-3")
CHECKOV = REPO / ".venv-checkov" / "bin" / "checkov"
DOC = REPO / "docs" / "DEPLOY.md"
SECTION = "## checkov findings kept"


def template_file(pipeline: Synthesized) -> Path:
    return pipeline.outdir / pipeline.stack.template_file


def construct_paths(pipeline: Synthesized) -> dict[str, str]:
    """logical id -> construct path below the stack (``Staging/Bucket``)."""
    resources = json.loads(template_file(pipeline).read_text())["Resources"]
    paths = {}
    for logical_id, resource in resources.items():
        path = resource.get("Metadata", {}).get("aws:cdk:path", logical_id)
        paths[logical_id] = path.split("/", 1)[-1].removesuffix("/Resource")
    return paths


@pytest.mark.parametrize("which", ["default_pipeline", "existing_pipeline"])
def test_cfn_lint_finds_no_error_in_any_region(which: str, request: pytest.FixtureRequest) -> None:
    pipeline: Synthesized = request.getfixturevalue(which)
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), "--format", "json", "--regions", *REGIONS,
         "--", str(template_file(pipeline))],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.stdout.strip().startswith("["), result.stderr[-2000:]
    errors = [
        f"{m['Rule']['Id']} {'/'.join(map(str, m['Location']['Path']))}: {m['Message']}"
        for m in json.loads(result.stdout)
        if m["Level"] == "Error"
    ]
    assert errors == []


def documented_findings() -> dict[str, set[str]]:
    """check id -> construct paths, from the table under SECTION in docs/DEPLOY.md."""
    text = DOC.read_text()
    assert SECTION in text, f"docs/DEPLOY.md has no '{SECTION}' section"
    table = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    found: dict[str, set[str]] = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and re.fullmatch(r"CKV2?_AWS_\d+", cells[0]):
            found.setdefault(cells[0], set()).update(
                p.strip().strip("`") for p in cells[1].split(",") if p.strip()
            )
    return found


def checkov_failures(pipeline: Synthesized) -> set[tuple[str, str]]:
    assert CHECKOV.exists(), "checkov is missing: run `make venv` (it builds .venv-checkov)"
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_EXPERIMENTAL_IMAGE_REFERENCING": ""}
    result = subprocess.run(
        [str(CHECKOV), "--file", str(template_file(pipeline)), "--framework", "cloudformation",
         "--output", "json", "--quiet", "--compact", "--skip-download"],
        capture_output=True, text=True, timeout=600, env=env,
    )  # fmt: skip
    assert result.returncode in (0, 1), result.stderr[-2000:]
    report = json.loads(result.stdout)
    report = report[0] if isinstance(report, list) else report
    paths = construct_paths(pipeline)
    failures = set()
    for check in report.get("results", {}).get("failed_checks", []):
        logical_id = check["resource"].split(".", 1)[1]
        failures.add((check["check_id"], paths.get(logical_id, logical_id)))
    return failures


@pytest.fixture(scope="module")
def checkov_results(
    default_pipeline: Synthesized, existing_pipeline: Synthesized
) -> set[tuple[str, str]]:
    return checkov_failures(default_pipeline) | checkov_failures(existing_pipeline)


def test_every_checkov_failure_is_documented(checkov_results: set[tuple[str, str]]) -> None:
    documented = documented_findings()
    new = sorted(f"{c} at {p}" for c, p in checkov_results if p not in documented.get(c, set()))
    assert new == [], "fix these or list them with a reason in docs/DEPLOY.md: " + "; ".join(new)


def test_every_documented_checkov_failure_still_fails(
    checkov_results: set[tuple[str, str]],
) -> None:
    stale = sorted(
        f"{check} at {path}"
        for check, paths in documented_findings().items()
        for path in paths
        if (check, path) not in checkov_results
    )
    assert stale == [], "no longer failing; remove from docs/DEPLOY.md: " + "; ".join(stale)
