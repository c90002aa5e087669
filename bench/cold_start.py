"""Cold start: each handler's import and runtime() against boto3 creating the same clients."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.figures import Figure

REPO = Path(__file__).resolve().parents[1]
HANDLERS = {
    "SubmitBatchFunction": "submit_batch",
    "ReceiveWebhookFunction": "receive_webhook",
    "FanOutResultsFunction": "fan_out_results",
    "ReconcileFunction": "reconcile",
    "CopyOutputsFunction": "copy_outputs",
}
# The functions with a cold-start target; the others are printed only.
GATED = {"submit_batch", "receive_webhook", "fan_out_results", "reconcile"}
RUNS = 7
TARGET = 1.5


def function_environments() -> dict[str, dict[str, str]]:
    """Each function's environment as the template declares it, from a deploy under moto."""
    from moto import mock_aws

    from syncdrop_local.runtime.local_runtime import AWS_TEST_ENV
    from syncdrop_local.runtime.stack import deploy

    parameters = {
        "NotificationEmail": "person@example.com",
        "SyncApiKey": "sk-bench",
        "SyncWebhookSecret": "whsec_bench",
        "SyncApiBaseUrl": "https://api.sync.so",
    }
    with mock_aws():
        stack = deploy(
            REPO,
            None,
            parameters,
            extra_environment=dict(AWS_TEST_ENV),
            api_base_url="https://abc123.execute-api.us-east-1.amazonaws.com",
        )
    return {name: dict(stack.functions[name].environment) for name in HANDLERS}


def child_environment(function: str, function_env: dict[str, str], pycache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(function_env)
    env.update(  # what Lambda sets in every execution environment
        AWS_LAMBDA_FUNCTION_NAME=f"syncdrop-{function}",
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE="512",
        AWS_LAMBDA_FUNCTION_VERSION="$LATEST",
        AWS_EXECUTION_ENV="AWS_Lambda_python3.13",
    )
    # The layer on sys.path, as Lambda puts it under /opt/python; bytecode compiled once
    # (the first, unmeasured run) and read from then on, for the handler and boto3 alike.
    env["PYTHONPATH"] = str(REPO / "layers" / "common")
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    env.pop("AWS_ENDPOINT_URL", None)
    return env


def cold_start(kind: str, argument: str, env: dict[str, str]) -> dict[str, Any]:
    answer = subprocess.run(
        [sys.executable, "-m", "bench.cold_child", kind, argument],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=REPO,
    )
    result: dict[str, Any] = json.loads(answer.stdout.strip().splitlines()[-1])
    return result


def run(workdir: Path) -> list[Figure]:
    environments = function_environments()
    pycache = workdir / "pycache"
    timings: dict[str, tuple[list[float], list[float]]] = {}
    deferred: dict[str, list[float]] = {name: [] for name in HANDLERS.values()}
    clients: dict[str, str] = {}
    for function, name in HANDLERS.items():
        env = child_environment(function, environments[function], pycache)
        path = str(REPO / "functions" / name / "app.py")
        clients[name] = ",".join(cold_start("handler", path, env)["clients"])  # warm-up
        cold_start("baseline", clients[name], env)
        timings[name] = ([], [])
    for _ in range(RUNS):  # interleaved, so every process sees the same machine
        for function, name in HANDLERS.items():
            env = child_environment(function, environments[function], pycache)
            path = str(REPO / "functions" / name / "app.py")
            handler = cold_start("handler", path, env)
            assert ",".join(handler["clients"]) == clients[name], handler
            timings[name][0].append(handler["seconds"])
            deferred[name].append(handler["deferred"])
            timings[name][1].append(cold_start("baseline", clients[name], env)["seconds"])
    figures = []
    for name, (handler_runs, baseline_runs) in timings.items():
        mine, base = statistics.median(handler_runs) * 1e3, statistics.median(baseline_runs) * 1e3
        figures.append(
            Figure(
                f"3 cold start: {name}",
                mine,
                base,
                "ms",
                baseline_label=f"import boto3 + {clients[name].replace(',', ', ')} clients",
                target=f"ratio <= {TARGET}" if name in GATED else "",
                met=mine <= TARGET * base if name in GATED else None,
            )
        )
        later = statistics.median(deferred[name]) * 1e3
        if later > 1:  # only the functions that call Sync defer anything
            figures.append(
                Figure(
                    "  left for the first call to Sync",
                    later,
                    mine,
                    "ms",
                    baseline_label="the cold start above (httpx and its TLS context wait)",
                )
            )
    return figures
