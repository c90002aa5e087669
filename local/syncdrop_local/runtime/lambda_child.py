"""What runs inside an execution environment's process: Lambda's view of the world (its
variables, its working directory, its import path), then awslambdaric's loop.

Kept free of syncdrop imports: the fork launcher preloads this module, and a function must
import syncdrop itself, from its layer, as it does on Lambda.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import sys
from dataclasses import dataclass
from typing import Any

PR_SET_PDEATHSIG = 1  # linux/prctl.h


@dataclass(frozen=True)
class EnvironmentSpec:
    """What a launcher needs to start one environment (picklable, for the fork launcher)."""

    handler: str
    task_root: str  # LAMBDA_TASK_ROOT, first on the import path and the working directory
    layer_dirs: tuple[str, ...]  # what Lambda mounts as /opt/python, in order
    environment: dict[str, str]


def lambda_sys_path(spec: EnvironmentSpec, runtime_paths: list[str]) -> list[str]:
    """Lambda's order: the task root, the layers, then the runtime's own packages."""
    return [spec.task_root, *spec.layer_dirs, *runtime_paths]


def _runtime_paths() -> list[str]:
    """The interpreter's standard library and site-packages: what Lambda's image provides."""
    prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    return [p for p in sys.path if p and any(p.startswith(prefix) for prefix in prefixes)]


def _forget_editable_installs() -> None:
    """The test process's editable install would find syncdrop outside the function's layers."""
    sys.meta_path[:] = [
        finder
        for finder in sys.meta_path
        if "__editable__" not in getattr(finder, "__module__", "")
    ]
    sys.path_importer_cache.clear()


def _die_with_the_forkserver() -> None:
    """An environment must not outlive the test process: the forkserver ends when the test
    process does (once no child holds its liveness pipe), and the kernel then kills us."""
    from multiprocessing import forkserver

    server: Any = forkserver._forkserver
    if server._forkserver_alive_fd is not None:  # handed to every child, unused here
        os.close(server._forkserver_alive_fd)
        server._forkserver_alive_fd = None
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() == 1:  # the forkserver ended before prctl took effect
        os._exit(1)


def run_forked(spec: EnvironmentSpec, stdout: socket.socket, stderr: socket.socket) -> None:
    """Entry point of a process forked from the forkserver: become the environment, then run
    awslambdaric until the parent kills the process."""
    # Ctrl-C in a terminal reaches the whole process group: the local runtime ends its
    # environments itself, as Lambda does, not by a KeyboardInterrupt mid-invocation.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_the_forkserver()
    os.dup2(stdout.fileno(), 1)
    os.dup2(stderr.fileno(), 2)
    stdout.close()
    stderr.close()
    os.environ.clear()
    os.environ.update(spec.environment)
    os.chdir(spec.task_root)
    sys.path[:] = lambda_sys_path(spec, _runtime_paths())
    _forget_editable_installs()
    run_awslambdaric(spec.handler)


def run_awslambdaric(handler: str) -> None:
    sys.argv = ["awslambdaric", handler]
    from awslambdaric.__main__ import main  # type: ignore[import-untyped]  # reads the env

    main(sys.argv)


# The subprocess launcher runs this with ``python -c``: argv is the handler, the layer dirs,
# "--", then the runtime's own package dirs (what Lambda's image puts on the path).
SUBPROCESS_BOOTSTRAP = """\
import os, sys
handler, *rest = sys.argv[1:]
split = rest.index("--")
sys.path[0] = os.getcwd()
sys.path[1:1] = rest[:split]
sys.path.extend(rest[split + 1:])
sys.argv = ["awslambdaric", handler]
from awslambdaric.__main__ import main
main(sys.argv)
"""
