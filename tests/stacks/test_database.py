"""MariaDB: a new instance (TLS, local_infile, encryption, rotation) or an existing server."""

from __future__ import annotations

from contract import grants
from contract import names as env
from stacks import defaults
from tests.stacks.conftest import EXISTING_SECRET, EXISTING_SG, Synthesized
from tests.stacks.template_queries import actions_of, function_role, role_statements


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


def test_both_secrets_rotate_and_the_loader_gets_its_own(default_pipeline: Synthesized) -> None:
    database = default_pipeline.stack.database
    assert database.loader_user is not None
    # GIVEN the admin secret and the loader's secret, each attached to the instance
    attachments = default_pipeline.resources("AWS::SecretsManager::SecretTargetAttachment")
    loader_attachment = default_pipeline.logical_id(database.loader_user.secret)
    assert loader_attachment in attachments and len(attachments) == 2
    # THEN both rotate on schedule
    rotations = default_pipeline.resources("AWS::SecretsManager::RotationSchedule")
    assert len(rotations) == 2
    for rotation in rotations.values():
        assert rotation["Properties"]["RotationRules"] == {
            "ScheduleExpression": f"rate({defaults.DB_ROTATION_DAYS} days)"
        }
    # AND the loader reads the loader's secret, never the admin's
    loader_id = default_pipeline.logical_id(default_pipeline.stack.loader.function)
    variables = default_pipeline.resources("AWS::Lambda::Function")[loader_id]["Properties"][
        "Environment"
    ]["Variables"]
    assert variables[env.ENV_DB_SECRET] == {"Ref": loader_attachment}
    role = function_role(default_pipeline.template, loader_id)
    readable = [
        resource
        for action, resource in actions_of(role_statements(default_pipeline.template, role), "")
        if action.startswith("secretsmanager:")
    ]
    assert readable and all(r == {"Ref": loader_attachment} for r in readable), readable


def test_loader_user_is_made_at_deploy_with_the_grant_list(default_pipeline: Synthesized) -> None:
    stack = default_pipeline.stack
    assert stack.database.loader_user is not None
    user = stack.database.loader_user
    # GIVEN the custom resource that makes the loader's MariaDB user
    user_id = default_pipeline.logical_id(user.resource)
    props = default_pipeline.resources("Custom::LoaderDatabaseUser")[user_id]["Properties"]
    # THEN it makes the user of the loader's secret with exactly contract.grants, on the
    # pipeline database, logging in with the admin secret
    assert props["User"] == grants.LOADER_USER
    assert props["Database"] == default_pipeline.config.database.name
    assert props["Privileges"] == ", ".join(grants.LOADER_PRIVILEGES)
    assert props["LoaderSecretArn"] == {"Ref": default_pipeline.logical_id(user.secret)}
    # AND its function runs in the database's isolated subnets
    function_id = default_pipeline.logical_id(user.function)
    function = default_pipeline.resources("AWS::Lambda::Function")[function_id]["Properties"]
    assert function["Handler"] == "provisioning.loader_user.handler"
    assert function["VpcConfig"]["SubnetIds"]
    # AND the loader's schedule and the loader secret's rotation wait for the user
    resources = default_pipeline.template.to_json()["Resources"]
    for schedule_id in default_pipeline.resources("AWS::Scheduler::Schedule"):
        assert user_id in resources[schedule_id].get("DependsOn", [])
    loader_rotation = [
        k
        for k, v in default_pipeline.resources("AWS::SecretsManager::RotationSchedule").items()
        if v["Properties"]["SecretId"] == {"Ref": default_pipeline.logical_id(user.secret)}
    ]
    assert len(loader_rotation) == 1
    assert user_id in resources[loader_rotation[0]].get("DependsOn", [])


def test_existing_database_gets_no_user_resource(existing_pipeline: Synthesized) -> None:
    assert existing_pipeline.resources("Custom::LoaderDatabaseUser") == {}


def references(value: object) -> set[str]:
    """Logical ids a template value points at (Ref, Fn::GetAtt, ${...} in Fn::Sub)."""
    found: set[str] = set()
    if isinstance(value, dict):
        if "Ref" in value and isinstance(value["Ref"], str):
            found.add(value["Ref"])
        if "Fn::GetAtt" in value:
            found.add(value["Fn::GetAtt"][0])
        for inner in value.values():
            found |= references(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= references(inner)
    return found


def test_deleting_the_stack_keeps_a_protected_database_whole(default_pipeline: Synthesized) -> None:
    # GIVEN deletion protection on (the default) and the instance's resource
    assert default_pipeline.config.database.deletion_protection
    resources = default_pipeline.template.to_json()["Resources"]
    instance_id, _ = default_pipeline.only("AWS::RDS::DBInstance")
    # WHEN following everything the instance refers to, transitively
    seen, todo = set(), [instance_id]
    while todo:
        current = todo.pop()
        if current in seen or current not in resources:
            continue
        seen.add(current)
        resource = resources[current]
        depends = resource.get("DependsOn", [])
        todo += sorted(references(resource.get("Properties", {})))
        todo += depends if isinstance(depends, list) else [depends]
    # THEN each of them survives a stack delete, so the kept instance still works
    assert len(seen) > 5
    lost = sorted(i for i in seen if resources[i].get("DeletionPolicy") != "Retain")
    assert lost == [], lost
    assert resources[instance_id]["UpdateReplacePolicy"] == "Snapshot"


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
    # THEN only the loader's, the loader-user setup's and the two secret rotations' groups
    # get in, no address range
    sources = sorted(i["SourceSecurityGroupId"]["Fn::GetAtt"][0] for i in ingress)
    loader_sg = default_pipeline.logical_id(stack.loader.security_group)
    assert len(sources) == 4 and loader_sg in sources
    others = sorted(s for s in sources if s != loader_sg)
    assert others[0].startswith("DatabaseInstanceLoaderUserRotation"), others
    assert others[1].startswith("DatabaseInstanceRotation"), others
    assert others[2].startswith("DatabaseLoaderUserSecurityGroup"), others
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
