"""cdk-nag AwsSolutions: no finding left unacknowledged, every acknowledgement with a reason."""

from __future__ import annotations

import aws_cdk as cdk

from tests.stacks.conftest import REPO, Synthesized


def nag_acknowledgements(pipeline: Synthesized) -> list[tuple[str, str, str]]:
    """(construct path, rule id, reason) of every cdk-nag acknowledgement in the stack."""
    found = []
    for construct in pipeline.stack.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                for rule, reason in entry.data.items():
                    if "AwsSolutions-" in rule:
                        found.append((construct.node.path, rule, reason))
    return found


def test_default_pipeline_has_no_unacknowledged_finding(default_pipeline: Synthesized) -> None:
    assert default_pipeline.violations == []


def test_existing_resources_pipeline_has_no_unacknowledged_finding(
    existing_pipeline: Synthesized,
) -> None:
    assert existing_pipeline.violations == []


def test_every_acknowledgement_gives_a_reason(default_pipeline: Synthesized) -> None:
    found = nag_acknowledgements(default_pipeline)
    assert found, "expected the acknowledgements documented in docs/DEPLOY.md"
    for path, rule, reason in found:
        assert len(reason.split()) >= 6, (path, rule, reason)


def test_every_acknowledged_rule_is_documented(default_pipeline: Synthesized) -> None:
    deploy_doc = (REPO / "docs" / "DEPLOY.md").read_text()
    for path, rule, _ in nag_acknowledgements(default_pipeline):
        bare = rule.removeprefix("Annotation::").split("[")[0]
        assert bare in deploy_doc, f"{bare} acknowledged at {path} but not in docs/DEPLOY.md"
