"""Deployment options outside the pipeline config, and the checks only a deployment needs.

``contract.config`` validates what the runtime also reads (tables, prefixes, buffers).
A deployment needs a little more: the stack name, an alarm e-mail,
subnets for an existing database, and a config small enough for a Lambda environment.
These come from cdk.json context keys next to ``ddbload`` and fail synth the same way:
one ``ConfigError`` listing one sentence per problem.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from contract.config import ConfigError, PipelineConfig, parse_config
from stacks import defaults

CONTEXT_CONFIG = "ddbload"
CONTEXT_STACK_NAME = "ddbload_stack_name"
CONTEXT_ALARM_EMAIL = "ddbload_alarm_email"

# Lambda caps all environment variables of a function at 4 KB together; the loader's
# other variables (names, URL, ARN; resolved at deploy time) get this much of it.
LAMBDA_ENV_LIMIT = 4096
LOADER_ENV_RESERVE = 1024

STACK_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,127}")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
SECRET_ARN = re.compile(r"arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+")
KMS_KEY_ARN = re.compile(r"arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]+")
SUBNET_ID = re.compile(r"subnet-[0-9a-f]{8,17}")
SECURITY_GROUP_ID = re.compile(r"sg-[0-9a-f]{8,17}")
VPC_ID = re.compile(r"vpc-[0-9a-f]{8,17}")


@dataclass(frozen=True)
class DeployOptions:
    stack_name: str = defaults.STACK_NAME
    alarm_email: str | None = None


def read_options(context: dict[str, Any], problems: list[str]) -> DeployOptions:
    """Deployment options from context values (missing keys take the defaults)."""
    stack_name = context.get(CONTEXT_STACK_NAME) or defaults.STACK_NAME
    if not isinstance(stack_name, str) or not STACK_NAME.fullmatch(stack_name):
        problems.append(
            f"{CONTEXT_STACK_NAME} {stack_name!r} is not a valid stack name "
            "(a letter, then up to 127 letters, digits or hyphens)."
        )
    email = context.get(CONTEXT_ALARM_EMAIL)
    if email is not None and (not isinstance(email, str) or not EMAIL.fullmatch(email)):
        problems.append(f"{CONTEXT_ALARM_EMAIL} {email!r} is not an e-mail address.")
    return DeployOptions(str(stack_name), email if isinstance(email, str) else None)


def check_existing_database(existing: dict[str, Any], problems: list[str]) -> None:
    """What the stacks need from ``database.existing`` beyond what contract.config checks."""
    checks = (
        ("vpc_id", VPC_ID, "a VPC id (vpc-...)"),
        ("security_group_id", SECURITY_GROUP_ID, "a security group id (sg-...)"),
        ("secret_arn", SECRET_ARN, "the full ARN of a Secrets Manager secret"),
        ("secret_kms_key_arn", KMS_KEY_ARN, "the ARN of the KMS key encrypting the secret"),
    )
    for name, pattern, what in checks:
        value = existing.get(name)
        if isinstance(value, str) and value and not pattern.fullmatch(value):
            problems.append(f"database.existing {name} {value!r} must be {what}.")
    subnets = existing.get("subnet_ids")
    if (
        not isinstance(subnets, list)
        or not subnets
        or not all(isinstance(s, str) and SUBNET_ID.fullmatch(s) for s in subnets)
    ):
        problems.append(
            "database.existing needs 'subnet_ids', a list of subnet ids (subnet-...) "
            "that can reach the database, where the loader will run."
        )
    port = existing.get("port", defaults.DB_PORT)
    if type(port) is not int or not 1 <= port <= 65535:
        problems.append(f"database.existing port {port!r} must be a whole number 1-65535.")


def check_deployable(config: PipelineConfig, problems: list[str]) -> None:
    """Checks on a valid pipeline config that only a deployment needs."""
    if config.database.existing is not None:
        check_existing_database(config.database.existing, problems)
    size = len(config.to_json().encode())
    room = LAMBDA_ENV_LIMIT - LOADER_ENV_RESERVE
    if size > room:
        problems.append(
            f"the pipeline configuration is {size} bytes as JSON, more than the {room} bytes "
            "a Lambda environment has room for; map fewer columns or use shorter names."
        )


def load(context: dict[str, Any]) -> tuple[PipelineConfig, DeployOptions]:
    """Parse and check everything a deployment reads from context; raise once."""
    problems: list[str] = []
    options = read_options(context, problems)
    try:
        config = parse_config(context.get(CONTEXT_CONFIG, {}))
    except ConfigError as e:
        raise ConfigError(e.problems + problems) from None
    check_deployable(config, problems)
    if problems:
        raise ConfigError(problems)
    return config, options
