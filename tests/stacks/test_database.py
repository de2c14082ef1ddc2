"""MariaDB: a new instance (TLS, local_infile, encryption, rotation) or an existing server."""

from __future__ import annotations

from contract import settings as env
from stacks import defaults
from tests.stacks.conftest import EXISTING_SECRET, EXISTING_SG, Synthesized


def test_parameter_group_allows_local_infile_and_requires_tls(
    default_pipeline: Synthesized,
) -> None:
    _, group = default_pipeline.only("AWS::RDS::DBParameterGroup")
    assert group["Properties"]["Family"] == "mariadb10.11"
    assert group["Properties"]["Parameters"] == {
        "local_infile": "1",
        "require_secure_transport": "1",
    }


def test_every_boolean_server_parameter_is_zero_or_one(default_pipeline: Synthesized) -> None:
    # RDS instance parameter groups (MySQL, MariaDB) take booleans as 0/1, never ON/OFF.
    _, group = default_pipeline.only("AWS::RDS::DBParameterGroup")
    for name, value in group["Properties"]["Parameters"].items():
        assert value.upper() not in ("ON", "OFF", "TRUE", "FALSE"), (name, value)


def test_instance_is_encrypted_protected_and_uses_the_group(default_pipeline: Synthesized) -> None:
    group_id, _ = default_pipeline.only("AWS::RDS::DBParameterGroup")
    _, instance = default_pipeline.only("AWS::RDS::DBInstance")
    props = instance["Properties"]
    assert props["Engine"] == "mariadb"
    assert props["EngineVersion"] == defaults.MARIADB_VERSIONS["10.11"]
    assert props["StorageEncrypted"] is True
    assert props["DeletionProtection"] is True
    assert props["PubliclyAccessible"] is False
    assert props["DBParameterGroupName"] == {"Ref": group_id}
    assert props["DBName"] == default_pipeline.config.database.name


def test_generated_secret_rotates_and_reaches_the_loader(default_pipeline: Synthesized) -> None:
    secret_id, _ = default_pipeline.only("AWS::SecretsManager::Secret")
    _, rotation = default_pipeline.only("AWS::SecretsManager::RotationSchedule")
    assert rotation["Properties"]["RotationRules"] == {
        "ScheduleExpression": f"rate({defaults.DB_ROTATION_DAYS} days)"
    }
    loader_id = default_pipeline.logical_id(default_pipeline.stack.loader.function)
    variables = default_pipeline.resources("AWS::Lambda::Function")[loader_id]["Properties"][
        "Environment"
    ]["Variables"]
    # The attachment adds host/port to the generated secret; the loader gets that secret.
    attachment_id, _ = default_pipeline.only("AWS::SecretsManager::SecretTargetAttachment")
    assert variables[env.ENV_DB_SECRET] in ({"Ref": attachment_id}, {"Ref": secret_id})


def test_only_the_loader_and_rotation_may_connect_to_the_database(
    default_pipeline: Synthesized,
) -> None:
    # GIVEN the instance's security group
    stack = default_pipeline.stack
    assert stack.database.instance is not None
    group = stack.database.instance.connections.security_groups[0]
    group_ref = {"Fn::GetAtt": [default_pipeline.logical_id(group), "GroupId"]}
    # WHEN collecting every ingress rule on it
    ingress = [
        r["Properties"]
        for r in default_pipeline.resources("AWS::EC2::SecurityGroupIngress").values()
        if r["Properties"]["GroupId"] == group_ref
    ]
    # THEN only the loader's and the secret rotation's groups get in, no address range
    sources = sorted(i["SourceSecurityGroupId"]["Fn::GetAtt"][0] for i in ingress)
    loader_sg = default_pipeline.logical_id(stack.loader.security_group)
    assert len(sources) == 2 and loader_sg in sources
    assert [s for s in sources if s != loader_sg][0].startswith("DatabaseInstanceRotation")
    assert (
        "SecurityGroupIngress"
        not in default_pipeline.resources("AWS::EC2::SecurityGroup")[
            default_pipeline.logical_id(group)
        ]["Properties"]
    )


def test_existing_database_uses_the_given_secret_and_group(existing_pipeline: Synthesized) -> None:
    # GIVEN database.existing with endpoint, port 3307, secret, VPC, group, subnets
    assert existing_pipeline.resources("AWS::RDS::DBInstance") == {}
    assert existing_pipeline.resources("AWS::EC2::VPC") == {}
    loader_id = existing_pipeline.logical_id(existing_pipeline.stack.loader.function)
    variables = existing_pipeline.resources("AWS::Lambda::Function")[loader_id]["Properties"][
        "Environment"
    ]["Variables"]
    # THEN the loader reads that secret and the database group admits the loader on its port
    assert variables[env.ENV_DB_SECRET] == EXISTING_SECRET
    loader_sg = existing_pipeline.logical_id(existing_pipeline.stack.loader.security_group)
    existing_pipeline.template.has_resource_properties(
        "AWS::EC2::SecurityGroupIngress",
        {
            "GroupId": EXISTING_SG,
            "FromPort": 3307,
            "ToPort": 3307,
            "SourceSecurityGroupId": {"Fn::GetAtt": [loader_sg, "GroupId"]},
        },
    )
