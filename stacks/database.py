"""The MariaDB the loader writes to: a new RDS instance, or an existing server.

Last hop of the flow. A new instance lives in its own VPC with isolated subnets (no
internet route) and VPC endpoints for what the loader and the secret rotation call:
S3, SQS and Secrets Manager. Its parameter group enables ``local_infile`` (the loader
uses LOAD DATA LOCAL INFILE) and requires TLS. Its credentials are a generated secret
in the RDS shape (host, port, username, password, dbname) with scheduled rotation;
that admin account is used only by the deploy-time setup of the loader's own user
(``stacks/loader_user.py``), whose secret is the one the loader reads (``secret``).
With deletion protection on, stack deletion keeps the instance and everything it
stands on (VPC, subnets, route tables, subnet and parameter groups, its security
group and admin secret), so ``make destroy`` succeeds and the data stays.

An existing server is given by ``database.existing``: endpoint, port, secret ARN,
VPC, its security group and the subnets the loader should run in. The stack adds one
ingress rule to that security group, from the loader's own group, on the port.
"""

from __future__ import annotations

from aws_cdk import Annotations, CfnDeletionPolicy, CfnResource, Duration, Fn, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from contract.config import DatabaseConfig
from stacks import bundling, defaults
from stacks.loader_user import LoaderDatabaseUser
from stacks.nag import acknowledge

# RDS *instance* parameter groups for MariaDB take booleans as "0"/"1"; "ON"/"OFF" is the
# Aurora cluster form and fails the instance's parameter group at deploy.
SERVER_PARAMETERS = {"local_infile": "1", "require_secure_transport": "1"}
ADMIN_USER = "ddbload_admin"


class Database(Construct):
    """Public: ``vpc``, ``subnets``, ``secret`` (the loader's), ``connections``, ``endpoint``,
    ``port``; for a new instance also ``instance``, ``admin_secret``, ``loader_user``."""

    def __init__(self, scope: Construct, id: str, *, config: DatabaseConfig) -> None:
        super().__init__(scope, id)
        self.instance: rds.DatabaseInstance | None = None
        self.parameter_group: rds.ParameterGroup | None = None
        self.loader_user: LoaderDatabaseUser | None = None
        if config.existing is not None:
            self._existing(config.existing)
        else:
            self._new(config)

    def _new(self, config: DatabaseConfig) -> None:
        flow_logs = logs.LogGroup(
            self,
            "FlowLogs",
            retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=defaults.VPC_MAX_AZS,
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(
                    name="data", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24
                )
            ],
            gateway_endpoints={
                "S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3)
            },
            flow_logs={
                "FlowLogs": ec2.FlowLogOptions(
                    destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs),
                    traffic_type=ec2.FlowLogTrafficType.REJECT,
                )
            },
        )
        self.subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        secrets_endpoint = self.vpc.add_interface_endpoint(
            "SecretsManager", service=ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER
        )
        sqs_endpoint = self.vpc.add_interface_endpoint(
            "Sqs", service=ec2.InterfaceVpcEndpointAwsService.SQS
        )
        for endpoint in (secrets_endpoint, sqs_endpoint):
            acknowledge(
                endpoint,
                "AwsSolutions-EC23",
                "The endpoint's security group admits HTTPS from the VPC's own CIDR only; "
                "cdk-nag cannot read that CIDR at synth because it is a deploy-time value.",
            )

        version = config.engine_version
        engine = rds.DatabaseInstanceEngine.maria_db(
            version=rds.MariaDbEngineVersion.of(defaults.MARIADB_VERSIONS[version], version)
        )
        self.parameter_group = rds.ParameterGroup(
            self,
            "Parameters",
            engine=engine,
            description="ddbload: LOAD DATA LOCAL INFILE allowed, TLS required",
            parameters=SERVER_PARAMETERS,
        )
        self.instance = rds.DatabaseInstance(
            self,
            "Instance",
            engine=engine,
            instance_type=ec2.InstanceType(defaults.DB_INSTANCE_TYPE),
            vpc=self.vpc,
            vpc_subnets=self.subnets,
            database_name=config.name,
            credentials=rds.Credentials.from_generated_secret(ADMIN_USER),
            parameter_group=self.parameter_group,
            storage_encrypted=True,
            storage_type=rds.StorageType.GP3,
            allocated_storage=defaults.DB_ALLOCATED_STORAGE_GB,
            max_allocated_storage=defaults.DB_MAX_ALLOCATED_STORAGE_GB,
            multi_az=defaults.DB_MULTI_AZ,
            backup_retention=Duration.days(defaults.DB_BACKUP_RETENTION_DAYS),
            deletion_protection=config.deletion_protection,
            removal_policy=RemovalPolicy.SNAPSHOT,
            cloudwatch_logs_exports=["error", "slowquery"],
            cloudwatch_logs_retention=logs.RetentionDays.ONE_MONTH,
            auto_minor_version_upgrade=True,
            port=defaults.DB_PORT,
        )
        self.instance.add_rotation_single_user(
            automatically_after=Duration.days(defaults.DB_ROTATION_DAYS),
            endpoint=secrets_endpoint,
            vpc_subnets=self.subnets,
        )
        assert self.instance.secret is not None  # from_generated_secret always makes one
        self.admin_secret: secretsmanager.ISecret = self.instance.secret
        self.loader_user = LoaderDatabaseUser(
            self,
            "LoaderUser",
            instance=self.instance,
            admin_secret=self.admin_secret,
            database=config.name,
            vpc=self.vpc,
            subnets=self.subnets,
            secrets_endpoint=secrets_endpoint,
            ca_bundle=bundling.rds_ca_bundle(),
        )
        self.secret: secretsmanager.ISecret = self.loader_user.secret
        if config.deletion_protection:
            self._keep_on_stack_delete()
        self.connections = self.instance.connections
        self.endpoint = self.instance.db_instance_endpoint_address
        self.port = defaults.DB_PORT

        acknowledge(
            self.instance,
            "AwsSolutions-RDS11",
            "The standard MariaDB port is kept so clients need no extra setting; the "
            "instance is only reachable inside isolated subnets from allowed security groups.",
        )
        if not config.deletion_protection:
            acknowledge(
                self.instance,
                "AwsSolutions-RDS10",
                "Deletion protection was turned off in the ddbload configuration "
                "(database.deletion_protection: false), e.g. for a test deployment.",
            )

    def _keep_on_stack_delete(self) -> None:
        """Retain the instance and what it references, so deleting the stack leaves a
        working database (deletion protection would otherwise fail the whole delete)."""
        assert self.instance is not None and self.parameter_group is not None
        kept_in_vpc = {
            "AWS::EC2::VPC",
            "AWS::EC2::Subnet",
            "AWS::EC2::RouteTable",
            "AWS::EC2::SubnetRouteTableAssociation",
        }
        kept = [
            c
            for c in self.vpc.node.find_all()
            if isinstance(c, CfnResource) and c.cfn_resource_type in kept_in_vpc
        ]
        # The instance's own children: itself, its subnet group, security group and admin
        # secret (with its attachment); not the rotation, which goes with the stack.
        rotations = [c for c in self.instance.node.children if "Rotation" in c.node.id]
        for child in self.instance.node.find_all():
            if any(child.node.path.startswith(r.node.path) for r in rotations):
                continue
            if isinstance(child, CfnResource) and child.cfn_resource_type in {
                "AWS::RDS::DBInstance",
                "AWS::RDS::DBSubnetGroup",
                "AWS::EC2::SecurityGroup",
                "AWS::SecretsManager::Secret",
                "AWS::SecretsManager::SecretTargetAttachment",
            }:
                kept.append(child)
        kept.append(self.parameter_group.node.default_child)  # type: ignore[arg-type]
        for resource in kept:
            resource.apply_removal_policy(RemovalPolicy.RETAIN)
        # A replacement (not a delete) of the instance still leaves a final snapshot.
        instance = self.instance.node.default_child
        assert isinstance(instance, CfnResource)
        instance.cfn_options.update_replace_policy = CfnDeletionPolicy.SNAPSHOT

    def _existing(self, existing: dict) -> None:
        subnet_ids = list(existing["subnet_ids"])
        self.vpc = ec2.Vpc.from_vpc_attributes(
            self,
            "Vpc",
            vpc_id=existing["vpc_id"],
            # Zones only label the VPC; the loader is placed by subnet id below.
            availability_zones=[Fn.select(i, Fn.get_azs()) for i in range(len(subnet_ids))],
        )
        subnets = []
        for i, subnet_id in enumerate(subnet_ids):
            subnet = ec2.Subnet.from_subnet_id(self, f"Subnet{i}", subnet_id)
            Annotations.of(subnet).acknowledge_warning(
                "@aws-cdk/aws-ec2:noSubnetRouteTableId",
                "Nothing here changes routes; the subnet only places the loader.",
            )
            subnets.append(subnet)
        self.subnets = ec2.SubnetSelection(subnets=subnets)
        self.port = int(existing.get("port", defaults.DB_PORT))
        group = ec2.SecurityGroup.from_security_group_id(
            self, "SecurityGroup", existing["security_group_id"], mutable=True
        )
        self.connections = ec2.Connections(
            security_groups=[group], default_port=ec2.Port.tcp(self.port)
        )
        key_arn = existing.get("secret_kms_key_arn")
        self.secret = secretsmanager.Secret.from_secret_attributes(
            self,
            "Secret",
            secret_complete_arn=existing["secret_arn"],
            encryption_key=kms.Key.from_key_arn(self, "SecretKey", key_arn) if key_arn else None,
        )
        self.endpoint = existing["endpoint"]

    def allow_from(self, peer: ec2.IConnectable) -> None:
        self.connections.allow_default_port_from(peer, "ddbload loader")
