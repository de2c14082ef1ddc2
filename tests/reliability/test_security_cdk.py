"""The CDK app's security properties, read from the synthesized template.

TLS required to MariaDB, least-privilege IAM, encryption at rest on every data
store, and cdk-nag (AwsSolutions) clean. Synthesized once with the repository's
cdk.json context (``tests.stacks.conftest.synthesize``).
"""

from __future__ import annotations

import pytest

from tests.stacks.conftest import Synthesized, cdk_context, synthesize

pytestmark = pytest.mark.xdist_group("cdk-stacks")

# Resource "*" is acceptable only for these actions (CDK's log-retention helper).
WILDCARD_RESOURCE_OK = {"logs:DeleteRetentionPolicy", "logs:PutRetentionPolicy"}
MANAGED_OK = {"AWSLambdaBasicExecutionRole", "AWSLambdaVPCAccessExecutionRole"}


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(cdk_context(), tmp_path_factory.mktemp("cdk-reliability"))


def _resources(s: Synthesized, kind: str) -> dict:
    return s.template.find_resources(kind)


def _list(v):
    return v if isinstance(v, list) else [v]


def test_tls_is_required_to_mariadb(synth, record):
    groups = _resources(synth, "AWS::RDS::DBParameterGroup")
    instances = _resources(synth, "AWS::RDS::DBInstance")
    params = [g["Properties"]["Parameters"] for g in groups.values()]
    assert params and all(p.get("require_secure_transport") in ("ON", "1") for p in params)
    assert all(
        i["Properties"].get("DBParameterGroupName", {}).get("Ref") in groups
        for i in instances.values()
    )
    record(
        "CDK: TLS to MariaDB",
        "synthesized template: RDS parameter group and the instance using it",
        f"{len(instances)} instance(s), each on a parameter group with "
        "require_secure_transport=ON: plain-text connections are refused by the server",
        kind="security",
    )


def test_encryption_at_rest_on_every_data_store(synth, record):
    unencrypted = []
    for lid, b in _resources(synth, "AWS::S3::Bucket").items():
        if not b["Properties"].get("BucketEncryption"):
            unencrypted.append(lid)
    for lid, k in _resources(synth, "AWS::Kinesis::Stream").items():
        if not k["Properties"].get("StreamEncryption"):
            unencrypted.append(lid)
    for lid, q in _resources(synth, "AWS::SQS::Queue").items():
        p = q["Properties"]
        if not (p.get("KmsMasterKeyId") or p.get("SqsManagedSseEnabled")):
            unencrypted.append(lid)
    for lid, d in _resources(synth, "AWS::RDS::DBInstance").items():
        if d["Properties"].get("StorageEncrypted") is not True:
            unencrypted.append(lid)
    for lid, t in _resources(synth, "AWS::SNS::Topic").items():
        if not t["Properties"].get("KmsMasterKeyId"):
            unencrypted.append(lid)
    checked = sum(
        len(_resources(synth, k))
        for k in ("AWS::S3::Bucket", "AWS::Kinesis::Stream", "AWS::SQS::Queue",
                  "AWS::RDS::DBInstance", "AWS::SNS::Topic")
    )  # fmt: skip
    assert unencrypted == [] and checked > 0
    record(
        "CDK: encryption at rest",
        "synthesized template: every S3 bucket, Kinesis stream, SQS queue, RDS instance, "
        "SNS topic (DynamoDB, Secrets Manager and CloudWatch Logs always encrypt)",
        f"{checked} data stores checked, {len(unencrypted)} without encryption",
        kind="security",
    )


def test_iam_is_least_privilege(synth, record):
    broad = []
    statements = 0
    for lid, policy in _resources(synth, "AWS::IAM::Policy").items():
        for st in policy["Properties"]["PolicyDocument"]["Statement"]:
            statements += 1
            actions = _list(st["Action"])
            resources = _list(st.get("Resource", []))
            if st.get("Effect") != "Allow":
                continue
            if any(a == "*" or a.endswith(":*") for a in actions):
                broad.append(f"{lid}: {actions}")
            if "*" in resources and not set(actions) <= WILDCARD_RESOURCE_OK:
                broad.append(f"{lid}: {actions} on *")
    managed = set()
    for role in _resources(synth, "AWS::IAM::Role").values():
        for arn in role["Properties"].get("ManagedPolicyArns", []):
            text = str(arn)
            managed |= {name for name in MANAGED_OK if name in text} or {text}
    assert broad == []
    assert managed <= MANAGED_OK
    record(
        "CDK: least-privilege IAM",
        "synthesized template: every Allow statement of every inline policy; managed "
        "policies of every role",
        f"{statements} statements: no `*` or `service:*` action, no `*` resource except "
        f"CDK's log-retention helper; managed policies only {sorted(managed)}",
        kind="security",
    )


def test_cdk_nag_is_clean(synth, record):
    assert synth.violations == []
    record(
        "CDK: cdk-nag AwsSolutions",
        "cdk-nag 3 AwsSolutionsChecks over the synthesized stack",
        f"{len(synth.violations)} unacknowledged findings",
        kind="security",
    )
