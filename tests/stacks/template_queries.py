"""Small readers over a synthesized template: which policies a role has, what a ref points to."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Template


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def role_statements(template: Template, role_logical_id: str) -> list[dict[str, Any]]:
    """Every statement of every inline policy (AWS::IAM::Policy) attached to a role."""
    statements = []
    for policy in template.find_resources("AWS::IAM::Policy").values():
        roles = policy["Properties"].get("Roles", [])
        if {"Ref": role_logical_id} in roles:
            statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return statements


def function_role(template: Template, function_logical_id: str) -> str:
    function = template.find_resources("AWS::Lambda::Function")[function_logical_id]
    return function["Properties"]["Role"]["Fn::GetAtt"][0]


def actions_of(statements: list[dict[str, Any]], prefix: str) -> list[tuple[str, Any]]:
    """(action, resource) pairs of the statements whose actions start with ``prefix``."""
    found = []
    for statement in statements:
        for action in as_list(statement["Action"]):
            if action.startswith(prefix):
                found.append((action, statement["Resource"]))
    return found


def joined(value: Any) -> str:
    """A Fn::Join of strings and refs as readable text: ``<Logical.Arn>/staging/*``."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(joined(p) for p in parts)
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return "<" + ".".join(value["Fn::GetAtt"]) + ">"
    if isinstance(value, dict) and "Ref" in value:
        return "<" + value["Ref"] + ">"
    return repr(value)
