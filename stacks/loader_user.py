"""The loader's own MariaDB user on a new RDS instance, made at deploy time.

Part of the database hop. A generated secret (RDS shape, ``masterarn`` pointing at the
admin secret) holds the loader's credentials; a custom resource (``provisioning/
loader_user.py``, a Lambda in the database's VPC behind CDK's Provider) logs in as the
admin and makes that account exist with exactly ``contract.grants`` on the pipeline
database; the multi-user rotation then alternates the account with its ``_clone``,
copying its grants. The loader never sees the admin secret.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import CfnResource, CustomResource, Duration, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import custom_resources as cr
from constructs import Construct

from contract import grants
from stacks import bundling, defaults
from stacks.nag import LAMBDA_BASIC_POLICY, LAMBDA_VPC_POLICY, acknowledge, arn_finding

HANDLER = "provisioning.loader_user.handler"
PACKAGES = ("provisioning", "contract")
REQUIREMENTS = ("pymysql",)


class LoaderDatabaseUser(Construct):
    """Public: ``secret`` (the loader's, attached to the instance), ``resource`` (the user
    exists once it is created), ``function``, ``rotation``."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        instance: rds.DatabaseInstance,
        admin_secret: secretsmanager.ISecret,
        database: str,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        secrets_endpoint: ec2.IInterfaceVpcEndpoint,
        ca_bundle: Path | None,
    ) -> None:
        super().__init__(scope, id)
        secret = rds.DatabaseSecret(
            self,
            "Secret",
            username=grants.LOADER_USER,
            dbname=database,
            master_secret=admin_secret,
        )
        self.secret = secret.attach(instance)

        security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            description="ddbload loader-user setup: MariaDB and Secrets Manager",
            allow_all_outbound=True,
        )
        instance.connections.allow_default_port_from(security_group, "ddbload loader-user setup")
        environment = {}
        extra: tuple[tuple[str, Path], ...] = ()
        if ca_bundle is not None:
            extra = ((defaults.RDS_CA_BUNDLE_FILE, ca_bundle),)
        self.function = lambda_.Function(
            self,
            "Function",
            description="ddbload: create the loader's MariaDB user with its grants",
            runtime=lambda_.Runtime.PYTHON_3_11,
            architecture=lambda_.Architecture.X86_64,
            handler=HANDLER,
            code=bundling.python_code(PACKAGES, REQUIREMENTS, extra),
            vpc=vpc,
            vpc_subnets=subnets,
            security_groups=[security_group],
            timeout=Duration.minutes(2),
            environment=environment,
            log_group=logs.LogGroup(
                self,
                "Logs",
                retention=logs.RetentionDays.ONE_MONTH,
                removal_policy=RemovalPolicy.DESTROY,
            ),
        )
        admin_secret.grant_read(self.function)
        self.secret.grant_read(self.function)
        provider = cr.Provider(
            self,
            "Provider",
            on_event_handler=self.function,
            log_group=logs.LogGroup(
                self,
                "ProviderLogs",
                retention=logs.RetentionDays.ONE_MONTH,
                removal_policy=RemovalPolicy.DESTROY,
            ),
        )
        self.resource = CustomResource(
            self,
            "Resource",
            service_token=provider.service_token,
            resource_type="Custom::LoaderDatabaseUser",
            properties={
                "AdminSecretArn": admin_secret.secret_arn,
                "LoaderSecretArn": self.secret.secret_arn,
                "User": grants.LOADER_USER,
                "Database": database,
                "Host": "%",
                # A change to the grant list is a change of the resource: re-applied.
                "Privileges": ", ".join(grants.LOADER_PRIVILEGES),
            },
        )
        # The function reaches Secrets Manager through the VPC endpoint only.
        self.resource.node.add_dependency(secrets_endpoint)
        # The multi-user rotation copies the account's grants to its clone: the account
        # must exist first, and rotation starts right after its schedule is created.
        self.rotation = instance.add_rotation_multi_user(
            "LoaderUserRotation",
            secret=self.secret,
            automatically_after=Duration.days(defaults.DB_ROTATION_DAYS),
            endpoint=secrets_endpoint,
            vpc_subnets=subnets,
        )
        self.rotation.node.add_dependency(self.resource)
        # The schedule itself is created on the secret, not under the rotation construct.
        for child in self.secret.node.find_all():
            if (
                isinstance(child, CfnResource)
                and child.cfn_resource_type == "AWS::SecretsManager::RotationSchedule"
            ):
                child.node.add_dependency(self.resource)
        self._acknowledge(provider)

    def _acknowledge(self, provider: cr.Provider) -> None:
        acknowledge(
            self.function,
            "AwsSolutions-IAM4",
            "AWSLambdaBasicExecutionRole (own logs) and AWSLambdaVPCAccessExecutionRole "
            "(network interfaces in the database's VPC) are the standard Lambda policies.",
            [LAMBDA_BASIC_POLICY, LAMBDA_VPC_POLICY],
        )
        acknowledge(
            self.function,
            "AwsSolutions-L1",
            "The project targets Python 3.11 and the bundle holds 3.11 wheels; the runtime "
            "moves with the project.",
        )
        acknowledge(
            provider,
            "AwsSolutions-IAM4",
            "CDK's custom-resource Provider framework function uses the standard Lambda "
            "execution policy for its own logs.",
            [LAMBDA_BASIC_POLICY],
        )
        acknowledge(
            provider,
            "AwsSolutions-IAM5",
            "CDK's Provider framework may invoke the loader-user function and its versions, "
            "nothing else.",
            [arn_finding(self.function, ":*")],
        )
        acknowledge(
            provider,
            "AwsSolutions-L1",
            "CDK picks the runtime of its own Provider framework function.",
        )
