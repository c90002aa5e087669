"""Functions run as Lambda runs them: each execution environment a process of its own under
awslambdaric, talking to a local Runtime API, with Lambda's variables and limits."""

from __future__ import annotations

import itertools
import logging
import os
import threading
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from syncdrop import crash_points
from syncdrop_local.runtime.function_config import (
    DEFINED_VARIABLES,
    RESERVED_VARIABLES,
    RUNTIME_SET_VARIABLES,
    FunctionConfig,
)
from syncdrop_local.runtime.invocation_errors import (
    ExitError,
    HandlerError,
    InitError,
    InvocationFailed,
    OutOfMemory,
    TaskTimedOut,
)
from syncdrop_local.runtime.lambda_launchers import (
    FORKSERVER_PRELOAD,
    Launcher,
    SubprocessLauncher,
)
from syncdrop_local.runtime.lambda_process import ProcessFunction, fork_launcher
from syncdrop_local.runtime.local_runtime import REPO_ROOT
from syncdrop_local.runtime.stack import deploy
from tests.conftest import STACK_PARAMETERS

HANDLERS = REPO_ROOT / "tests" / "support" / "lambda_handlers"
LAYER = REPO_ROOT / "layers" / "common"
TRUST_LAMBDA = (
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
    '"Principal":{"Service":"lambda.amazonaws.com","AWS":"*"},"Action":"sts:AssumeRole"}]}'
)


class NumberedKeys:
    """A credentials provider handing each environment keys of its own, as STS would."""

    def __init__(self) -> None:
        self.given: list[dict[str, str]] = []
        self._numbers = itertools.count(1)

    def __call__(self) -> dict[str, str]:
        n = next(self._numbers)
        keys = {
            "AWS_ACCESS_KEY_ID": f"ASIALOCAL{n:011d}",
            "AWS_SECRET_ACCESS_KEY": f"secret-{n}",
            "AWS_SESSION_TOKEN": f"token-{n}",
        }
        self.given.append(keys)
        return keys


MakeFunction = Callable[..., ProcessFunction]


@pytest.fixture
def make_function() -> Iterator[MakeFunction]:
    made: list[ProcessFunction] = []

    def make(
        handler: str,
        *,
        credentials: Callable[[], dict[str, str]] | None = None,
        launcher: Launcher | None = None,
        **options: Any,
    ) -> ProcessFunction:
        wanted = {
            key: options.pop(key)
            for key in ("max_environments", "kill_rate", "kill_window", "seed")
            if key in options
        }
        config = FunctionConfig(
            name=handler.replace(".", "-"),
            handler=handler,
            code_dir=HANDLERS,
            layer_dirs=(LAYER,),
            **options,
        )
        function = ProcessFunction(
            config, credentials or NumberedKeys(), launcher=launcher, **wanted
        )
        made.append(function)
        return function

    yield make
    for function in made:
        function.stop()


@pytest.fixture
def armed() -> Iterator[None]:
    crash_points.disarm_all()
    yield
    crash_points.disarm_all()


def is_running(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def test_event_in_answer_out_and_the_environment_stays_warm(make_function, caplog):
    caplog.set_level(logging.INFO, logger="syncdrop.function")
    echo = make_function("app.echo", timeout=3, memory_mb=256)

    first = echo.invoke({"say": "hello", "rows": [1, 2]})
    second = echo.invoke({"say": "again"})

    assert first["event"] == {"say": "hello", "rows": [1, 2]}
    assert first["function_name"] == "app-echo"
    assert first["memory_limit_in_mb"] == "256"
    assert 0 < first["remaining_ms"] <= 3000
    assert first["pid"] != os.getpid()
    assert second["pid"] == first["pid"]  # warm: the same environment
    assert second["request_id"] != first["request_id"]
    assert (echo.invocations, echo.cold_starts) == (2, 1)
    said = [line for line in echo.log_lines() if line.startswith("echo")]
    assert said == ["echo hello", "echo again"]
    records = {
        (r.levelno, r.getMessage())
        for r in caplog.records
        if r.name == "syncdrop.function.app-echo"
    }
    assert (logging.INFO, "echo hello") in records
    assert (logging.WARNING, "on stderr hello") in records


def test_a_handler_exception_comes_back_with_its_type_message_and_stack(make_function):
    fail = make_function("app.fail")

    with pytest.raises(HandlerError) as raised:
        fail.invoke({"row": 7})

    error = raised.value
    assert isinstance(error, InvocationFailed)
    assert error.kind == error.error_type == "ValueError"
    assert error.error_message == "no video at row 7"
    assert any("app.py" in frame and "fail" in frame for frame in error.stack_trace)
    assert error.document()["errorType"] == "ValueError"
    with pytest.raises(HandlerError):
        fail.invoke({"row": 8})
    assert fail.cold_starts == 1  # Lambda keeps an environment whose handler raised


def test_timeout_kills_the_environment_and_the_next_invoke_starts_cold(make_function):
    sleeper = make_function("app.sleep", timeout=1)
    pid = sleeper.invoke({"seconds": 0})["pid"]

    with pytest.raises(TaskTimedOut) as raised:
        sleeper.invoke({"seconds": 60})

    assert raised.value.kind == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in str(raised.value)
    assert not is_running(pid)
    assert sleeper.invoke({"seconds": 0})["pid"] != pid
    assert sleeper.cold_starts == 2


def test_memory_size_caps_the_environment(make_function):
    allocate = make_function("app.allocate", memory_mb=256, timeout=60)
    assert allocate.invoke({"mb": 8}) == 8 * 1024 * 1024  # well under the cap: answered

    with pytest.raises(OutOfMemory) as raised:
        allocate.invoke({"mb": 400})

    assert raised.value.kind == "Runtime.OutOfMemory"
    assert allocate.invoke({"mb": 8}) == 8 * 1024 * 1024
    assert allocate.cold_starts == 2


def test_the_memory_watchdog_kills_a_handler_still_running(make_function):
    allocate = make_function("app.allocate", memory_mb=256, timeout=60)

    with pytest.raises(OutOfMemory):  # long before the handler would answer or time out
        allocate.invoke({"mb": 400, "hold": 120})

    assert allocate.environments == 0


def test_concurrent_invocations_run_in_environments_of_their_own(make_function, tmp_path):
    meeting = make_function("app.rendezvous", timeout=10)
    pids: list[int] = []

    def invoke() -> None:
        pids.append(meeting.invoke({"dir": str(tmp_path), "parties": 2}))

    threads = [threading.Thread(target=invoke) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(set(pids)) == 2  # each answered only once the other was running too
    assert meeting.cold_starts == 2
    (a_start, a_end), (b_start, b_end) = list(meeting.spans)
    assert max(a_start, b_start) < min(a_end, b_end)
    assert meeting.invoke({"dir": str(tmp_path), "parties": 2}) in pids  # reused warm
    assert meeting.cold_starts == 2


def test_max_environments_makes_a_third_invocation_wait_for_a_free_one(make_function):
    sleeper = make_function("app.sleep", timeout=10, max_environments=1)
    pids: list[int] = []
    threads = [
        threading.Thread(target=lambda: pids.append(sleeper.invoke({"seconds": 0.2})["pid"]))
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(pids) == 3
    assert len(set(pids)) == 1
    assert sleeper.cold_starts == 1
    spans = sorted(sleeper.spans)
    assert all(earlier[1] <= later[0] for earlier, later in itertools.pairwise(spans))


@pytest.mark.parametrize("launcher", ["fork", "subprocess"])
def test_the_environment_holds_lambdas_variables_and_the_functions_only(
    make_function, monkeypatch, launcher
):
    monkeypatch.setenv("SYNCDROP_TEST_PROCESS_ONLY", "must not leak")
    keys = NumberedKeys()
    function = make_function(
        "app.environment",
        credentials=keys,
        launcher=fork_launcher() if launcher == "fork" else SubprocessLauncher(),
        environment={"JOB_TABLE": "jobs", "AWS_ENDPOINT_URL": "http://127.0.0.1:9"},
        memory_mb=512,
    )

    seen = function.invoke({})

    variables = seen["variables"]
    own = {"JOB_TABLE", "AWS_ENDPOINT_URL", crash_points.CRASH_POINTS_URL}
    if launcher == "subprocess":  # a new interpreter sets it when LANG's locale is missing here
        own.add("LC_CTYPE")
    allowed = RESERVED_VARIABLES | DEFINED_VARIABLES.keys() | RUNTIME_SET_VARIABLES | own
    assert set(variables) - allowed == set()
    assert set(variables) >= RESERVED_VARIABLES
    assert variables["JOB_TABLE"] == "jobs"
    assert variables["AWS_ACCESS_KEY_ID"] == keys.given[0]["AWS_ACCESS_KEY_ID"]
    assert variables["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "512"
    assert variables["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.13"
    assert variables["LAMBDA_TASK_ROOT"] == str(HANDLERS) == seen["cwd"]
    assert variables["_X_AMZN_TRACE_ID"].startswith("Root=1-")
    # Lambda's import path: the task root, the layer, then the runtime's own packages.
    assert seen["sys_path"][:2] == [str(HANDLERS), str(LAYER)]
    assert str(REPO_ROOT) not in seen["sys_path"]
    assert str(REPO_ROOT / "local") not in seen["sys_path"]
    assert seen["syncdrop_loaded"] == []  # a function imports syncdrop itself, from its layer


@pytest.fixture
def moto_server() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    reset = urllib.request.Request(f"{url}/moto-api/reset", data=b"")
    urllib.request.urlopen(reset, timeout=10).close()  # moto's state is global in this process
    yield url
    server.stop()


def test_boto3_inside_uses_the_credentials_of_the_role(make_function, moto_server):
    iam = boto3.client("iam", endpoint_url=moto_server)
    sts = boto3.client("sts", endpoint_url=moto_server)
    role = iam.create_role(RoleName="reconcile-role", AssumeRolePolicyDocument=TRUST_LAMBDA)
    given: list[str] = []

    def assume_role() -> dict[str, str]:
        keys = sts.assume_role(RoleArn=role["Role"]["Arn"], RoleSessionName="app-credentials")
        given.append(keys["Credentials"]["AccessKeyId"])
        return {
            "AWS_ACCESS_KEY_ID": keys["Credentials"]["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": keys["Credentials"]["SecretAccessKey"],
            "AWS_SESSION_TOKEN": keys["Credentials"]["SessionToken"],
        }

    function = make_function(
        "app.credentials",
        credentials=assume_role,
        environment={"AWS_ENDPOINT_URL": moto_server},
        timeout=20,
    )

    seen = function.invoke({"ask_sts": True})

    assert seen["access_key"] == given[0] != os.environ["AWS_ACCESS_KEY_ID"]
    assert seen["identity"].endswith(":assumed-role/reconcile-role/app-credentials")


def test_a_crash_point_armed_here_kills_the_environment_there(make_function, armed):
    function = make_function("app.crash_point")
    crash_points.arm("test-point", after=1)

    assert function.invoke({"point": "test-point"}) == "passed"
    with pytest.raises(ExitError) as raised:
        function.invoke({"point": "test-point"})

    assert raised.value.kind == "Runtime.ExitError"
    assert f"exit status {crash_points.KILLED_EXIT_STATUS}" in str(raised.value)
    assert crash_points.fired == ["test-point"]
    assert function.log_lines().count("before the crash point") == 2  # printed before dying
    assert function.invoke({"point": "test-point"}) == "passed"  # a point fires once
    assert function.cold_starts == 2


def test_a_process_that_exits_mid_invocation_fails_it(make_function):
    function = make_function("app.exit_now")

    with pytest.raises(ExitError, match="exit status 3"):
        function.invoke({})

    assert function.environments == 0


def test_a_handler_that_cannot_be_imported_fails_at_init(make_function):
    function = make_function("missing_module.handler")

    with pytest.raises(InitError) as raised:
        function.invoke({})

    assert raised.value.kind == "Runtime.ImportModuleError"
    assert "missing_module" in raised.value.error_message


def test_kill_rate_kills_invocations_as_timeouts_or_out_of_memory(make_function):
    always = make_function("app.echo", kill_rate=1.0, kill_window=0.05, seed=3)
    never = make_function("app.echo", kill_rate=0.0)

    kinds = []
    for n in range(6):
        with pytest.raises((TaskTimedOut, OutOfMemory)) as raised:
            always.invoke({"say": n})
        kinds.append(raised.value.kind)
    for n in range(3):
        never.invoke({"say": n})

    assert set(kinds) == {"Sandbox.Timedout", "Runtime.OutOfMemory"}
    assert always.cold_starts == 6  # every killed environment is gone
    assert never.cold_starts == 1


def test_syncdrop_is_never_preloaded_into_the_forkserver():
    assert not [m for m in FORKSERVER_PRELOAD if m.split(".")[0] in ("syncdrop", "functions")]


def test_reconcile_cold_starts_under_the_fork_launcher(moto_server):
    stack = deploy(
        REPO_ROOT,
        moto_server,
        STACK_PARAMETERS,
        extra_environment={"AWS_ENDPOINT_URL": moto_server},
    )
    spec = stack.functions["ReconcileFunction"]
    config = FunctionConfig(
        name="ReconcileFunction",
        handler=spec.handler,
        code_dir=spec.code_dir,
        layer_dirs=(LAYER,),
        environment={**spec.environment, "POWERTOOLS_METRICS_DISABLED": "true"},
        timeout=float(spec.timeout),
        memory_mb=512,
    )
    reconcile = ProcessFunction(
        config,
        lambda: dict.fromkeys(
            ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"), "testing"
        ),
    )
    try:
        summary = reconcile.invoke({"source": "aws.scheduler"})
        again = reconcile.invoke({"source": "aws.scheduler"})
    finally:
        reconcile.stop()

    assert (
        summary
        == again
        == {
            "adopted": 0,
            "requeued": 0,
            "polled": 0,
            "enqueued": 0,
            "reports_restarted": 0,
            "past_deadline": 0,
            "submitted": 0,
        }
    )
    assert (reconcile.invocations, reconcile.cold_starts) == (2, 1)
    assert any('"reconciled"' in line for line in reconcile.log_lines())
