"""The S3 bucket between Firehose and the loader: staging data, Firehose errors, quarantine.

Layout (``contract.layout``): ``<staging_prefix>/table=<name>/YYYY/MM/DD/HH/<object>.gz`` for
data, ``<error_prefix>/...`` for records the transform could not process, and
``<quarantine_prefix>/...`` for what the loader sets aside. Each prefix expires by
its own lifecycle rule; server access logs go to a second bucket.

Not versioned, on purpose: Firehose writes every object once under a unique name and
nothing overwrites it, the loader's ledger records each object's ETag, and the data
is transient (DynamoDB holds the truth, MariaDB the result). Versioning would only
keep deleted staging files past their lifecycle expiry, the opposite of what the
retention setting promises.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks import defaults
from stacks.nag import acknowledge


class StagingBucket(Construct):
    """Encrypted, SSL-only, private bucket with per-prefix expiry and access logs."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        staging_prefix: str,
        error_prefix: str,
        quarantine_prefix: str,
        staging_expiry_days: int,
    ) -> None:
        super().__init__(scope, id)
        self.staging_prefix = staging_prefix
        self.error_prefix = error_prefix
        self.quarantine_prefix = quarantine_prefix

        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[
                s3.LifecycleRule(expiration=Duration.days(defaults.ACCESS_LOG_EXPIRY_DAYS))
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )
        acknowledge(
            self.access_logs,
            "AwsSolutions-S1",
            "This bucket is the access-log target of the staging bucket; logging its own "
            "access would log the log writes.",
        )

        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=False,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="staging-bucket/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-staging",
                    prefix=f"{staging_prefix}/",
                    expiration=Duration.days(staging_expiry_days),
                ),
                s3.LifecycleRule(
                    id="expire-errors",
                    prefix=f"{error_prefix}/",
                    expiration=Duration.days(defaults.ERROR_EXPIRY_DAYS),
                ),
                s3.LifecycleRule(
                    id="expire-quarantine",
                    prefix=f"{quarantine_prefix}/",
                    expiration=Duration.days(defaults.ERROR_EXPIRY_DAYS),
                ),
                s3.LifecycleRule(
                    id="abort-incomplete-uploads",
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                ),
            ],
            # Staged changes not yet loaded would be lost with the bucket.
            removal_policy=RemovalPolicy.RETAIN,
        )

    def staging_objects(self) -> str:
        """ARN pattern of every staging data object."""
        return self.bucket.arn_for_objects(f"{self.staging_prefix}/*")

    def quarantine_objects(self) -> str:
        return self.bucket.arn_for_objects(f"{self.quarantine_prefix}/*")
