"""Synthesized pipeline stacks shared by the stack tests.

A CDK ``App()`` built in pytest does not read cdk.json, so the helpers pass its
context (feature flags and the ``ddbload`` block) in themselves. Synthesizing is the
slow part (seconds per stack), so each configuration is synthesized once per test
session and every test reads the same template; all stack tests share one xdist
group so one worker does that work.
"""

from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# Must be set before aws_cdk starts its jsii process (see app.py).
os.environ["JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"] = ",".join(
    v for v in (os.environ.get("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", ""), "20") if v
)

import aws_cdk as cdk  # noqa: E402
from aws_cdk.assertions import Template  # noqa: E402
from cdk_nag import AwsSolutionsChecks  # noqa: E402

from contract.config import PipelineConfig  # noqa: E402
from stacks import deploy_options  # noqa: E402
from stacks.pipeline_stack import PipelineStack  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
CDK_JSON = json.loads((REPO / "cdk.json").read_text())

EXISTING_SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:ddbload-db-AbCdEf"
EXISTING_SG = "sg-0123456789abcdef0"
EXISTING_SUBNETS = ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"]
EXISTING_CONFIG: dict[str, Any] = {
    "tables": {
        "orders": {"partition_key": {"name": "pk", "type": "S"}, "existing": True},
        "events": {"partition_key": {"name": "id", "type": "N"}},
    },
    "database": {
        "name": "app",
        "existing": {
            "endpoint": "db.example.internal",
            "port": 3307,
            "secret_arn": EXISTING_SECRET,
            "vpc_id": "vpc-0123456789abcdef0",
            "security_group_id": EXISTING_SG,
            "subnet_ids": EXISTING_SUBNETS,
        },
    },
    "schedule_minutes": 10,
}


def cdk_context(ddbload: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """cdk.json's context, with the ``ddbload`` block replaced when given."""
    context = copy.deepcopy(CDK_JSON["context"])
    if ddbload is not None:
        context[deploy_options.CONTEXT_CONFIG] = ddbload
    # The CDK CLI sets this; asset paths in the template let tests find the bundles.
    context["aws:cdk:enable-asset-metadata"] = True
    # Construct paths in the template name resources in the checkov report (as the CLI does).
    context["aws:cdk:enable-path-metadata"] = True
    context.update(extra)
    return context


@dataclass
class Synthesized:
    stack: PipelineStack
    template: Template
    config: PipelineConfig
    outdir: Path
    violations: list[str]

    def resources(self, kind: str) -> dict[str, dict[str, Any]]:
        return self.template.find_resources(kind)

    def only(self, kind: str) -> tuple[str, dict[str, Any]]:
        found = self.resources(kind)
        assert len(found) == 1, f"expected one {kind}, found {sorted(found)}"
        return next(iter(found.items()))

    def logical_id(self, construct: Any) -> str:
        return self.stack.resolve(self.stack.get_logical_id(construct.node.default_child))


def synthesize(context: dict[str, Any], outdir: Path) -> Synthesized:
    app = cdk.App(context=context, outdir=str(outdir))
    config, options = deploy_options.load(context)
    stack = PipelineStack(app, options.stack_name, config=config, options=options)
    nag = AwsSolutionsChecks(app)
    app.synth()
    report = nag.validate_scope(stack)
    violations = [
        f"{v.rule_name} at {r.construct_path}"
        for v in report.violations
        for r in v.violating_resources
    ]
    return Synthesized(stack, Template.from_stack(stack), config, outdir, violations)


@pytest.fixture(scope="session")
def default_pipeline(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The stack of the repository's cdk.json: new tables, new MariaDB."""
    return synthesize(cdk_context(), tmp_path_factory.mktemp("cdk-default"))


@pytest.fixture(scope="session")
def existing_pipeline(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """An existing table and an existing MariaDB (by endpoint, secret, VPC, group)."""
    return synthesize(
        cdk_context(EXISTING_CONFIG, ddbload_alarm_email="ops@example.com"),
        tmp_path_factory.mktemp("cdk-existing"),
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.xdist_group("cdk-stacks"))
