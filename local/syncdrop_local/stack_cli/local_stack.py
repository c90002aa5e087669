"""Registers the local stack with moto's CloudFormation, so `--stack` finds it like any other."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from syncdrop_local.runtime.template import REGION, TemplateError

if TYPE_CHECKING:
    from syncdrop_local.runtime.local_runtime import LocalRuntime


def register_stack(runtime: LocalRuntime, name: str | None = None) -> str:
    """Create a CloudFormation stack whose outputs and parameters are the local stack's.

    It holds one resource that does nothing; the outputs carry the physical names of what
    the local runtime created (the webhook URL is the local HTTP front's). NoEcho parameters
    are left out, as CloudFormation would hide them. A stack of that name is replaced.
    Returns the stack's name.
    """
    local = runtime.stack
    resolver = local.resolver
    name = name or resolver.stack_name
    template = local.template
    apis = [
        ref
        for logical_id, ref in resolver.refs.items()
        if template["Resources"].get(logical_id, {}).get("Type") == "AWS::ApiGatewayV2::Api"
    ]
    outputs: dict[str, Any] = {}
    for key, output in template.get("Outputs", {}).items():
        if "Condition" in output and not resolver.condition(output["Condition"]):
            continue
        try:
            value = str(resolver.resolve(output["Value"]))
        except TemplateError:  # names something the local runtime does not create
            continue
        for api in apis:
            value = value.replace(
                f"https://{api}.execute-api.{REGION}.amazonaws.com", runtime.front.url
            )
        outputs[key] = {"Value": value}
    declared = template.get("Parameters", {})
    shown = {
        key: value
        for key, value in resolver.parameters.items()
        if key in declared and not declared[key].get("NoEcho")
    }
    body = {
        "Description": "syncdrop's local stack: the outputs name what the local runtime created.",
        "Parameters": {key: {"Type": "String"} for key in shown},
        "Resources": {"LocalStack": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": outputs,
    }
    cloudformation = local.client("cloudformation")
    stack = {
        "StackName": name,
        "TemplateBody": json.dumps(body),
        "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in shown.items()],
    }
    try:
        cloudformation.create_stack(**stack)
    except cloudformation.exceptions.AlreadyExistsException:
        # moto keeps its state per process: a local stack started earlier left this one.
        cloudformation.update_stack(**stack)
    return name
