"""cdk-nag acknowledgements, stated next to the resource they concern.

cdk-nag 3 reads CDK's native ``Validations.of(construct).acknowledge(...)``: an
acknowledgement covers the construct and everything below it, and a rule that reports
several findings on one resource (IAM wildcards) needs each finding named, as
``Rule[Finding]``, so a new wildcard elsewhere is still reported. docs/DEPLOY.md lists
every acknowledgement for reviewers.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Acknowledgment, Stack, Validations
from constructs import IConstruct


def acknowledge(
    construct: IConstruct, rule: str, reason: str, findings: Sequence[str] = ()
) -> None:
    """Acknowledge ``rule`` (or only its listed ``findings``) on ``construct`` and below."""
    ids = [f"{rule}[{finding}]" for finding in findings] or [rule]
    Validations.of(construct).acknowledge(*(Acknowledgment(id=i, reason=reason) for i in ids))


# How cdk-nag names the standard Lambda execution policies in IAM4 findings.
LAMBDA_BASIC_POLICY = (
    "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
)
LAMBDA_VPC_POLICY = (
    "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
)


def arn_finding(resource: IConstruct, suffix: str) -> str:
    """The IAM5 finding cdk-nag reports for ``<resource ARN><suffix>`` (e.g. ``/*``)."""
    cfn = resource.node.default_child
    stack = Stack.of(resource)
    logical_id = stack.resolve(stack.get_logical_id(cfn))  # type: ignore[arg-type]
    return f"Resource::<{logical_id}.Arn>{suffix}"
