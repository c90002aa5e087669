"""Two ways to start an execution environment's process: forked from a forkserver that has
already imported the heavy third-party packages (the source tree, fast), or a fresh
interpreter of any version (a ``sam build`` output under the runtime's own Python)."""

from __future__ import annotations

import importlib.util
import io
import multiprocessing
import os
import socket
import subprocess  # nosec B404 # starts the runtime's own interpreter, argv lists only
import sys
from collections.abc import Sequence
from multiprocessing import forkserver, popen_forkserver, reduction, util
from multiprocessing.context import ForkServerProcess, set_spawning_popen
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, Protocol

from syncdrop_local.runtime.lambda_child import SUBPROCESS_BOOTSTRAP, EnvironmentSpec, run_forked

# What Lambda's image or the layer provides and every function imports; never syncdrop itself,
# whose import is part of each function's own cold start.
FORKSERVER_PRELOAD = (
    "boto3",
    "boto3.session",
    "botocore.client",
    "botocore.session",
    "pydantic",
    "pydantic.main",
    "pydantic_core",
    "aws_lambda_powertools",
    "aws_lambda_powertools.logging",
    "aws_lambda_powertools.metrics",
    "aws_lambda_powertools.utilities.batch",
    "aws_lambda_powertools.utilities.data_classes",
    "aws_lambda_powertools.utilities.parameters",
    "aws_lambda_powertools.event_handler",
    "httpx",
    "awslambdaric",  # not its C client: loaded before the fork, it cannot reach the Runtime API
    "syncdrop_local.runtime.lambda_launchers",
)


class EnvironmentProcess(Protocol):
    """A running environment: its pid, its output descriptors, and how to end it."""

    @property
    def pid(self) -> int: ...

    @property
    def stdout_fd(self) -> int: ...

    @property
    def stderr_fd(self) -> int: ...

    def exit_status(self) -> int | None:
        """None while running; the exit status, or minus the signal that ended it."""

    def kill(self) -> None:
        """SIGKILL and reap."""


class Launcher(Protocol):
    @property
    def runtime_dir(self) -> str:
        """What LAMBDA_RUNTIME_DIR names: where the runtime's own packages live."""

    def launch(self, spec: EnvironmentSpec) -> EnvironmentProcess: ...


class _PopenWithoutMain(popen_forkserver.Popen):
    """multiprocessing's forkserver launch, minus the preparation that re-imports the test
    process's ``__main__`` (pytest's script) in the child: an environment runs only the
    function's code. Otherwise as ``popen_forkserver.Popen._launch`` (Python 3.11 to 3.13)."""

    def _launch(self, process_obj: Any) -> None:
        buf = io.BytesIO()
        set_spawning_popen(self)
        try:
            reduction.dump({"name": process_obj.name}, buf)
            reduction.dump(process_obj, buf)
        finally:
            set_spawning_popen(None)
        fds = self._fds  # type: ignore[attr-defined]  # set by popen_forkserver.Popen
        self.sentinel, w = forkserver.connect_to_new_process(fds)
        parent_w = os.dup(w)  # the child's sign that the test process is alive
        close_fds = util.close_fds  # type: ignore[attr-defined]  # untyped in typeshed
        self.finalizer = util.Finalize(self, close_fds, (parent_w, self.sentinel))
        with open(w, "wb", closefd=True) as f:
            f.write(buf.getbuffer())
        self.pid = forkserver.read_signed(self.sentinel)


class _EnvironmentProcess(ForkServerProcess):
    @staticmethod
    def _Popen(process_obj: Any) -> Any:
        return _PopenWithoutMain(process_obj)


class _ForkedProcess:
    def __init__(self, process: BaseProcess, stdout: socket.socket, stderr: socket.socket) -> None:
        self._process = process
        self.pid: int = process.pid or 0  # started before this object exists
        # The pumps own these descriptors from now on and close them at end of stream.
        self.stdout_fd = stdout.detach()
        self.stderr_fd = stderr.detach()
        self._status: int | None = None
        self._closed = False

    def exit_status(self) -> int | None:
        if self._status is None and not self._closed:
            self._status = self._process.exitcode
        return self._status

    def kill(self) -> None:
        if self._closed:
            return
        if self._process.exitcode is None:
            self._process.kill()
        self._process.join()
        self._status = self._process.exitcode
        self._process.close()  # its sentinel descriptor
        self._closed = True


class ForkserverLauncher:
    """Forks each environment from multiprocessing's forkserver, which imports
    ``FORKSERVER_PRELOAD`` once: a cold start costs a fork plus the function's own init.

    The forkserver is one per test process (multiprocessing's), started at the first launch
    with the environment of the test process at that moment: a preloaded module that reads a
    variable at import time saw that environment, not the function's.
    """

    def __init__(self, preload: Sequence[str] = FORKSERVER_PRELOAD) -> None:
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(list(preload))
        spec = importlib.util.find_spec("awslambdaric")
        if spec is None or spec.origin is None:
            raise RuntimeError("awslambdaric is not installed: pip install -r requirements-dev.txt")
        self._runtime_dir = str(Path(spec.origin).parent.parent)

    @property
    def runtime_dir(self) -> str:
        return self._runtime_dir

    def launch(self, spec: EnvironmentSpec) -> EnvironmentProcess:
        out_parent, out_child = socket.socketpair()
        err_parent, err_child = socket.socketpair()
        process = _EnvironmentProcess(target=run_forked, args=(spec, out_child, err_child))
        process.daemon = True
        try:
            process.start()
        finally:
            out_child.close()
            err_child.close()
        return _ForkedProcess(process, out_parent, err_parent)


class _Subprocess:
    def __init__(self, popen: subprocess.Popen[bytes], stdout_fd: int, stderr_fd: int) -> None:
        self._popen = popen
        self.pid = popen.pid
        self.stdout_fd = stdout_fd
        self.stderr_fd = stderr_fd

    def exit_status(self) -> int | None:
        return self._popen.poll()

    def kill(self) -> None:
        self._popen.kill()
        self._popen.wait()


class SubprocessLauncher:
    """Starts each environment as ``interpreter -c <bootstrap>``: nothing shared with the test
    process. ``pythonpath`` is what Lambda's image adds after the layers (awslambdaric, boto3)
    when the interpreter does not have them itself."""

    def __init__(
        self, interpreter: str | Path = sys.executable, pythonpath: Sequence[str | Path] = ()
    ) -> None:
        self.interpreter = str(interpreter)
        self.pythonpath = [str(p) for p in pythonpath]

    @property
    def runtime_dir(self) -> str:
        return self.pythonpath[0] if self.pythonpath else str(Path(self.interpreter).parent)

    def launch(self, spec: EnvironmentSpec) -> EnvironmentProcess:
        argv = [self.interpreter, "-s", "-c", SUBPROCESS_BOOTSTRAP, spec.handler]
        argv += [*spec.layer_dirs, "--", *self.pythonpath]
        out_read, out_write = os.pipe()
        err_read, err_write = os.pipe()
        try:
            popen = subprocess.Popen(  # nosec B603 # argv list, no shell: our interpreter
                argv,
                cwd=spec.task_root,
                env=spec.environment,
                stdin=subprocess.DEVNULL,
                stdout=out_write,
                stderr=err_write,
            )
        except BaseException:
            os.close(out_read)
            os.close(err_read)
            raise
        finally:
            os.close(out_write)
            os.close(err_write)
        return _Subprocess(popen, out_read, err_read)
