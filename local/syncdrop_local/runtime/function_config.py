"""A function as Lambda knows it (code, layers, variables, limits, role) and the environment
variables Lambda gives each of its execution environments."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from syncdrop_local.runtime.template import ACCOUNT, REGION

# The role's temporary credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN.
CredentialsProvider = Callable[[], Mapping[str, str]]
CREDENTIAL_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")

# Lambda's own variables: a function cannot set these (Lambda refuses them at deploy time);
# here they win over a function variable of the same name.
RESERVED_VARIABLES = frozenset(
    {
        "_HANDLER",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_LAMBDA_RUNTIME_API",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
        *CREDENTIAL_VARIABLES,
    }
)
# Set by Lambda too, but a function may override them.
DEFINED_VARIABLES = {
    "LANG": "en_US.UTF-8",
    "PATH": "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin",
    "TZ": ":UTC",
}
# Set by the runtime inside the process, per invocation.
RUNTIME_SET_VARIABLES = frozenset({"_X_AMZN_TRACE_ID"})


@dataclass(frozen=True)
class FunctionConfig:
    name: str
    handler: str  # "app.lambda_handler": module in code_dir, then attribute
    code_dir: Path  # LAMBDA_TASK_ROOT
    layer_dirs: tuple[Path, ...] = ()  # what Lambda mounts as /opt/python, e.g. layers/common
    environment: Mapping[str, str] = field(default_factory=dict)  # the function's own
    timeout: float = 3.0  # seconds, as the template's Timeout
    memory_mb: int = 128
    runtime: str = "python3.13"
    role_arn: str = f"arn:aws:iam::{ACCOUNT}:role/local-function-role"
    region: str = REGION

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{ACCOUNT}:function:{self.name}"


def lambda_variables(
    config: FunctionConfig,
    credentials: Mapping[str, str],
    *,
    runtime_api: str,
    runtime_dir: str,
) -> dict[str, str]:
    """Everything an environment's process sees: Lambda's variables and the function's."""
    missing = [name for name in CREDENTIAL_VARIABLES if not credentials.get(name)]
    if missing:
        raise ValueError(f"the credentials provider for {config.name} gave no {missing}")
    log_stream = f"{time.strftime('%Y/%m/%d', time.gmtime())}/[$LATEST]{uuid.uuid4().hex}"
    reserved = {
        "_HANDLER": config.handler,
        "AWS_REGION": config.region,
        "AWS_DEFAULT_REGION": config.region,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{config.runtime}",
        "AWS_LAMBDA_FUNCTION_NAME": config.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{config.name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
        "AWS_LAMBDA_RUNTIME_API": runtime_api,
        "LAMBDA_TASK_ROOT": str(config.code_dir),
        "LAMBDA_RUNTIME_DIR": runtime_dir,
        **{name: credentials[name] for name in CREDENTIAL_VARIABLES},
    }
    return {**DEFINED_VARIABLES, **config.environment, **reserved}
