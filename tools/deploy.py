"""What `make deploy` and `make destroy` do around `cdk deploy` / `cdk destroy`.

Subcommands (each prints one sentence and exits 1 when it cannot go on):

- ``ca-bundle``: save AWS's RDS CA bundle as rds-ca-bundle.pem at the repository root
  when it is missing, so the loader verifies MariaDB's certificate.
- ``preflight``: credentials, a Region, a CDK-bootstrapped account, and an account whose
  Lambda quota leaves room for an opt-in loader reservation; warns when the Region's
  VPC quota is nearly used up (a new database brings one VPC).
- ``kept``: what deleting the deployed stack leaves behind (resources it retains).

The stack name comes from ``DDBLOAD_STACK``, else cdk.json's ``ddbload_stack_name``,
else ``ddbload``.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
CA_BUNDLE = REPO / "rds-ca-bundle.pem"
CA_BUNDLE_URL = "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"
PEM = b"-----BEGIN CERTIFICATE-----"
# What the CDK CLI's default bootstrap stack publishes, and the lowest version whose
# template our synthesized stack accepts (its CheckBootstrapVersion rule).
BOOTSTRAP_PARAMETER = "/cdk-bootstrap/hnb659fds/version"
BOOTSTRAP_MIN_VERSION = 6
# Lambda keeps this much of an account's concurrency unreserved.
LAMBDA_UNRESERVED_MINIMUM = 100
VPC_DEFAULT_QUOTA = 5


class Stop(Exception):
    """One sentence for the user; the command exits 1."""


def cdk_context() -> dict[str, Any]:
    return json.loads((REPO / "cdk.json").read_text()).get("context", {})


def stack_name() -> str:
    return os.environ.get("DDBLOAD_STACK") or cdk_context().get("ddbload_stack_name") or "ddbload"


def fetch_ca_bundle(target: Path = CA_BUNDLE, url: str = CA_BUNDLE_URL) -> str:
    if target.is_file():
        return f"{target.name} is already there."
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            body = response.read()
    except (urllib.error.URLError, TimeoutError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise Stop(
            f"could not download the RDS CA bundle from {url} ({reason}); download it "
            f"yourself, save it as {target.name} at the repository root and run make deploy again."
        ) from None
    if PEM not in body:
        raise Stop(
            f"{url} did not return a PEM certificate bundle; save the file by hand as {target.name}."
        )
    target.write_bytes(body)
    return (
        f"saved the RDS CA bundle as {target.name}; the loader will verify MariaDB's certificate."
    )


def preflight(session: Any, reserved_concurrency: int | None) -> list[str]:
    """Checks before `cdk deploy`; returns warnings, raises Stop on a blocker."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    region = session.region_name
    if not region:
        raise Stop(
            "no AWS Region is set; set AWS_REGION (or a Region in your profile) and run make deploy again."
        )
    try:
        account = session.client("sts").get_caller_identity()["Account"]
    except (NoCredentialsError, ClientError, BotoCoreError) as e:
        raise Stop(
            f"no usable AWS credentials ({e}); log in (AWS_PROFILE, aws sso login) and run make deploy again."
        ) from None
    try:
        value = session.client("ssm").get_parameter(Name=BOOTSTRAP_PARAMETER)["Parameter"]["Value"]
    except ClientError as e:
        if e.response["Error"]["Code"] != "ParameterNotFound":
            raise Stop(
                f"could not check the CDK bootstrap of {account} in {region} ({e})."
            ) from None
        raise Stop(
            f"account {account} is not bootstrapped for the CDK in {region}; run "
            f"`npx cdk bootstrap aws://{account}/{region}` once, then make deploy again."
        ) from None
    if not value.isdigit() or int(value) < BOOTSTRAP_MIN_VERSION:
        raise Stop(
            f"the CDK bootstrap of {account} in {region} is version {value}, older than "
            f"{BOOTSTRAP_MIN_VERSION}; run `npx cdk bootstrap aws://{account}/{region}` again."
        )
    warnings = []
    if reserved_concurrency:
        settings = session.client("lambda").get_account_settings()
        check_reservation(settings["AccountLimit"]["ConcurrentExecutions"], reserved_concurrency)
    if cdk_context().get("ddbload", {}).get("database", {}).get("existing") is None:
        vpcs = len(session.client("ec2").describe_vpcs()["Vpcs"])
        if vpcs >= VPC_DEFAULT_QUOTA:
            warnings.append(
                f"{region} already has {vpcs} VPCs and the default quota is "
                f"{VPC_DEFAULT_QUOTA}; the new database needs one more (Service Quotas: "
                "'VPCs per Region')."
            )
    return warnings


def check_reservation(limit: int, reserved: int) -> None:
    """Lambda refuses a reservation that leaves fewer than 100 executions unreserved."""
    if limit - reserved < LAMBDA_UNRESERVED_MINIMUM:
        raise Stop(
            f"loader_reserved_concurrency {reserved} would leave less than "
            f"{LAMBDA_UNRESERVED_MINIMUM} of this account's {limit} concurrent executions "
            "unreserved, which Lambda refuses; remove the setting or raise the quota."
        )


def kept(session: Any, name: str) -> list[str]:
    """'<type> <physical id>' of each resource the stack keeps when it is deleted."""
    from botocore.exceptions import ClientError

    cfn = session.client("cloudformation")
    try:
        template = cfn.get_template(StackName=name, TemplateStage="Processed")["TemplateBody"]
    except ClientError:
        raise Stop(
            f"there is no stack named {name} in this account and Region; nothing to destroy."
        ) from None
    if isinstance(template, str):
        template = json.loads(template)
    retained = {
        logical: resource["Type"]
        for logical, resource in template.get("Resources", {}).items()
        if resource.get("DeletionPolicy") == "Retain"
    }
    physical = {}
    for page in cfn.get_paginator("list_stack_resources").paginate(StackName=name):
        for summary in page["StackResourceSummaries"]:
            physical[summary["LogicalResourceId"]] = summary.get("PhysicalResourceId", "")
    return sorted(f"{kind} {physical.get(logical, logical)}" for logical, kind in retained.items())


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else ""
    try:
        if command == "ca-bundle":
            print(f"ddbload: {fetch_ca_bundle()}")
        elif command in ("preflight", "kept"):
            import boto3

            # The CDK CLI honours AWS_REGION as well as AWS_DEFAULT_REGION; boto3 only the latter.
            session = boto3.Session(region_name=os.environ.get("AWS_REGION") or None)
            if command == "preflight":
                reserved = cdk_context().get("ddbload", {}).get("loader_reserved_concurrency")
                for warning in preflight(session, reserved):
                    print(f"ddbload: warning: {warning}", file=sys.stderr)
                print(f"ddbload: {session.region_name} is ready for stack {stack_name()}.")
            else:
                lines = kept(session, stack_name())
                print(
                    f"ddbload: deleting stack {stack_name()} keeps these resources (delete them yourself when no longer needed):"
                )
                for line in lines or ["(nothing)"]:
                    print(f"  {line}")
        else:
            print("usage: python tools/deploy.py ca-bundle|preflight|kept", file=sys.stderr)
            return 2
    except Stop as e:
        print(f"ddbload: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
