"""The deployed stack's functions as Lambda runs them: each in processes of its own, under its
own role's temporary credentials from STS, with its Timeout, MemorySize and variables."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from syncdrop_local.runtime.function_config import CredentialsProvider, FunctionConfig
from syncdrop_local.runtime.lambda_launchers import Launcher
from syncdrop_local.runtime.lambda_process import ProcessFunction
from syncdrop_local.runtime.stack import FunctionSpec, LocalStack


class StackFunction(ProcessFunction):
    """A ``ProcessFunction`` that knows the template's function it runs."""

    def __init__(self, spec: FunctionSpec, config: FunctionConfig, **options: Any) -> None:
        super().__init__(config, **options)
        self.spec = spec


def role_credentials(sts: Any, role_arn: str, session_name: str) -> CredentialsProvider:
    """What Lambda hands each new execution environment: a fresh AssumeRole of the function's
    role (the local runtime's identity plays lambda.amazonaws.com in the trust policy)."""

    def provide() -> Mapping[str, str]:
        answer = sts.assume_role(RoleArn=role_arn, RoleSessionName=session_name[:64])
        credentials = answer["Credentials"]
        return {
            "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
            "AWS_SESSION_TOKEN": credentials["SessionToken"],
        }

    return provide


def function_config(spec: FunctionSpec, variables: Mapping[str, str]) -> FunctionConfig:
    return FunctionConfig(
        name=spec.function_name or spec.logical_id,
        handler=spec.handler,
        code_dir=spec.code_dir,
        layer_dirs=spec.layer_dirs,
        environment={**spec.environment, **variables},
        timeout=float(spec.timeout),
        memory_mb=spec.memory_size,
        runtime=spec.runtime,
        role_arn=spec.role_arn,
    )


def stack_functions(
    stack: LocalStack,
    *,
    variables: Mapping[str, str],
    concurrency: Mapping[str, int],
    launcher: Launcher | None = None,
) -> dict[str, StackFunction]:
    """One ``StackFunction`` per function of ``stack``; ``variables`` are added to each one's
    own (e.g. ``AWS_ENDPOINT_URL``), ``concurrency`` caps its execution environments."""
    sts = stack.client("sts")
    functions: dict[str, StackFunction] = {}
    for logical_id, spec in stack.functions.items():
        config = function_config(spec, variables)
        functions[logical_id] = StackFunction(
            spec,
            config,
            credentials=role_credentials(sts, spec.role_arn, config.name),
            launcher=launcher,
            max_environments=concurrency.get(logical_id, 10),
        )
    return functions
