"""Each function's IAM statements, read from template.yaml or from SAM's expansion of it.

A function's grants live in its SAM ``Policies`` or, for the queue-triggered ones, in the
``AWS::IAM::Role`` its ``Role`` names; both read the same here. ``Fn::If`` is resolved with the
parameters given, or, without them, counted as both of its branches (the most it can grant).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any

from moto.iam.aws_managed_policies import aws_managed_policies_data

NO_VALUE = {"Ref": "AWS::NoValue"}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


class Conditions:
    """Evaluates a template's Conditions (Fn::Equals, Fn::Not, Fn::And, Fn::Or on Refs)."""

    def __init__(self, template: Mapping[str, Any], parameters: Mapping[str, str] | None):
        self._conditions = template.get("Conditions", {})
        self._values: dict[str, str] | None = None
        if parameters is not None:
            self._values = {
                name: str(spec["Default"])
                for name, spec in template.get("Parameters", {}).items()
                if "Default" in spec
            }
            self._values.update(parameters)

    def branches(self, node: Mapping[str, Any]) -> list[Any]:
        """What an ``Fn::If`` can be: its one branch, or both when parameters are unknown."""
        name, when_true, when_false = node["Fn::If"]
        if self._values is None:
            return [when_true, when_false]
        return [when_true if self.holds(self._conditions[name]) else when_false]

    def holds(self, condition: Any) -> bool:
        (function, args), *_ = condition.items()
        if function == "Condition":
            return self.holds(self._conditions[args])
        if function == "Fn::Not":
            return not self.holds(args[0])
        if function == "Fn::And":
            return all(self.holds(a) for a in args)
        if function == "Fn::Or":
            return any(self.holds(a) for a in args)
        if function == "Fn::Equals":
            left, right = (self._value(a) for a in args)
            return left == right
        raise ValueError(f"condition {condition} is not understood here")

    def _value(self, node: Any) -> str:
        if isinstance(node, dict) and "Ref" in node:
            assert self._values is not None
            return self._values[node["Ref"]]
        return str(node)


def _flatten(items: list[Any], conditions: Conditions) -> Iterator[Any]:
    for item in items:
        if isinstance(item, dict) and "Fn::If" in item:
            yield from _flatten(conditions.branches(item), conditions)
        elif item != NO_VALUE:
            yield item


def role_of(template: Mapping[str, Any], function_id: str) -> str | None:
    """The logical id of the role a function's ``Role`` names, if it names one."""
    role = template["Resources"][function_id]["Properties"].get("Role")
    if isinstance(role, dict) and "Fn::GetAtt" in role:
        logical_id, attribute = as_list(role["Fn::GetAtt"])
        assert attribute == "Arn", role
        return str(logical_id)
    return None


def role_statements(
    template: Mapping[str, Any], role_id: str, parameters: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """The Allow and Deny statements of a role's inline policies."""
    conditions = Conditions(template, parameters)
    properties = template["Resources"][role_id]["Properties"]
    found: list[dict[str, Any]] = []
    for policy in _flatten(as_list(properties.get("Policies", [])), conditions):
        document = policy["PolicyDocument"]
        found.extend(_flatten(as_list(document["Statement"]), conditions))
    return found


def function_statements(
    template: Mapping[str, Any], function_id: str, parameters: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """A SAM function's statements: its own ``Policies`` or those of the role it names."""
    role = role_of(template, function_id)
    if role is not None:
        return role_statements(template, role, parameters)
    conditions = Conditions(template, parameters)
    policies = template["Resources"][function_id]["Properties"].get("Policies", [])
    found: list[dict[str, Any]] = []
    for policy in _flatten(as_list(policies), conditions):
        assert isinstance(policy, dict), f"{function_id}: {policy}"
        assert "Statement" in policy, f"{function_id} uses a SAM policy template: {policy}"
        found.extend(_flatten(as_list(policy["Statement"]), conditions))
    return found


@cache
def _managed_policies() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(aws_managed_policies_data)
    return data


def managed_policy_name(arn: Any) -> str:
    """``AWSLambdaBasicExecutionRole`` of its ARN, written out or as ``Fn::Sub``."""
    text = arn["Fn::Sub"] if isinstance(arn, dict) else arn
    assert isinstance(text, str), arn
    return text.rsplit("/", 1)[-1]


def managed_statements(arn: Any) -> list[dict[str, Any]]:
    """An AWS managed policy's statements, from the copy of AWS's documents moto ships."""
    document = _managed_policies()[managed_policy_name(arn)]["Document"]
    return list(as_list(document["Statement"]))
