"""Bad configuration stops synth with one clear sentence per problem and no traceback."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys

import pytest

from contract.config import ConfigError
from stacks import deploy_options
from tests.stacks.conftest import EXISTING_CONFIG, REPO, cdk_context


def problems_of(context: dict) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        deploy_options.load(context)
    return caught.value.problems


def test_every_problem_is_reported_at_once() -> None:
    # GIVEN a config with a pipeline problem and two deployment problems
    context = cdk_context(
        {"tables": {"t1": {}}, "schedule_minutes": 0},
        ddbload_alarm_email="not-an-address",
        ddbload_stack_name="1bad name",
    )
    # WHEN loading it
    problems = problems_of(context)
    # THEN each is one sentence naming its setting
    assert any("partition_key" in p for p in problems)
    assert any("schedule_minutes" in p for p in problems)
    assert any("ddbload_alarm_email" in p for p in problems)
    assert any("ddbload_stack_name" in p for p in problems)
    for problem in problems:
        assert problem.endswith("."), problem
        assert "\n" not in problem


def test_existing_database_needs_subnets_and_real_ids() -> None:
    raw = copy.deepcopy(EXISTING_CONFIG)
    existing = raw["database"]["existing"]
    del existing["subnet_ids"]
    existing["security_group_id"] = "default"
    existing["secret_arn"] = "my-secret"
    problems = problems_of(cdk_context(raw))
    assert any("subnet_ids" in p for p in problems)
    assert any("security_group_id" in p for p in problems)
    assert any("secret_arn" in p for p in problems)


def test_config_too_large_for_a_lambda_environment_is_refused() -> None:
    columns = {
        f"column_{i:03d}": {"path": f"attribute_{i:03d}", "type": "TEXT"} for i in range(120)
    }
    raw = {"tables": {"wide": {"partition_key": {"name": "pk"}, "columns": columns}}}
    problems = problems_of(cdk_context(raw))
    assert len(problems) == 1
    assert "Lambda environment" in problems[0]


def test_valid_context_loads() -> None:
    config, options = deploy_options.load(cdk_context(ddbload_stack_name="ddbload-test"))
    assert options.stack_name == "ddbload-test"
    assert sorted(config.tables) == ["customers", "orders"]


def test_app_prints_problems_and_exits_nonzero_without_traceback() -> None:
    # GIVEN app.py run the way the CDK CLI runs it, with a bad ddbload context
    context = cdk_context({"tables": {"orders": {"partition_key": {"name": "pk", "type": "X"}}}})
    environ = {**os.environ, "CDK_CONTEXT_JSON": json.dumps(context)}
    # WHEN it runs
    result = subprocess.run(
        [sys.executable, str(REPO / "app.py")],
        cwd=REPO,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )
    # THEN it exits 1 with the problem as one line, and no Python traceback
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("  - ")]
    assert len(lines) == 1
    assert "type 'X'" in lines[0]
