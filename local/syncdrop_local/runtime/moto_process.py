"""moto's server in a process of its own, for a local stack that keeps two cores busy.

In one process, moto's server, the Sync emulator, the Lambda Runtime API and the queue pollers
share one interpreter lock, and moto's work alone (every copy is a PutObject) kept that process
the bottleneck while the second core idled. Here moto runs exactly as in-process (the same
MotoWorld in front of it, the same patches installed before it starts) in a child process; what
the runtime asks of moto beyond AWS's API (moto_controls.py) goes to the paths under
``/_syncdrop/`` of the same server. The child exits when its parent closes its stdin (or dies).

``python -m syncdrop_local.runtime.moto_process '{"faults": {...}}'`` prints one JSON line,
``{"url": ...}``, once the server listens.
"""

from __future__ import annotations

import http.client
import json
import logging
import signal
import subprocess  # nosec B404 # starts this interpreter on this module, an argv list only
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from syncdrop_local.runtime.moto_controls import InProcessControls, QueueArrivals

CONTROL_PREFIX = "/_syncdrop/"
# How long the parent waits for the child's first line (moto's imports, on a busy machine).
START_TIMEOUT = 60.0
CALL_TIMEOUT = 10.0


# --- the child ---------------------------------------------------------------------------------


class ControlApp:
    """moto's WSGI app, with the runtime's controls answered under ``/_syncdrop/``."""

    def __init__(self, app: Callable[..., Iterable[bytes]], controls: InProcessControls) -> None:
        self._app = app
        self._controls = controls
        self._never = threading.Event()  # a remote waiter's stopping is the parent's

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = str(environ.get("PATH_INFO", ""))
        if not path.startswith(CONTROL_PREFIX):
            return self._app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        try:
            body = json.loads(environ["wsgi.input"].read(length) or b"{}")
            answer = self._answer(path[len(CONTROL_PREFIX) :], body)
            status = "200 OK"
        except (KeyError, ValueError, TypeError) as exc:
            answer, status = {"error": f"{type(exc).__name__}: {exc}"}, "400 Bad Request"
        data = json.dumps(answer).encode()
        start_response(
            status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
        )
        return [data]

    def _answer(self, route: str, body: dict[str, Any]) -> dict[str, Any]:
        controls, arrivals = self._controls, self._controls.arrivals
        if route == "act-as-service":
            controls.act_as_service(str(body["principal"]), str(body["service"]))
        elif route == "iam/enable":
            controls.enable_iam(str(body["url"]))
        elif route == "iam/disable":
            controls.disable_iam(str(body["url"]))
        elif route == "email-inbox":
            controls.deliver_email_to(str(body["topic"]), str(body["queue_arn"]))
        elif route == "arrivals/seen":
            queue = str(body["queue"])
            return {"seen": arrivals.seen(queue), "interrupts": arrivals.interrupts()}
        elif route == "arrivals/wait":
            arrived = arrivals.wait(
                str(body["queue"]),
                int(body["since"]),
                min(float(body["timeout"]), CALL_TIMEOUT),
                self._never,
                int(body["interrupts"]),
            )
            return {"arrived": arrived}
        elif route == "arrivals/arrived":
            arrivals.arrived(str(body["queue"]))
        elif route == "arrivals/interrupt":
            arrivals.interrupt()
        else:
            raise KeyError(route)
        return {}


def main(argv: list[str]) -> int:
    # Ctrl-C reaches the whole process group: the parent stops this process itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    config = json.loads(argv[0]) if argv else {}
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    from syncdrop_local.fault_options import set_aws_faults
    from syncdrop_local.runtime import iam_roles, moto_iam
    from syncdrop_local.runtime.moto_world import MotoWorld, MotoWorldServer

    iam_roles.load_aws_managed_policies()  # before moto's IAM backend exists
    moto_iam.install()
    controls = InProcessControls()
    world = MotoWorld()
    set_aws_faults(world, dict(config.get("faults") or {}))
    server = MotoWorldServer(world, wrap=lambda app: ControlApp(app, controls))
    url = server.start()
    print(json.dumps({"url": url}), flush=True)
    sys.stdin.read()  # until the parent closes it, or exits
    server.stop()
    return 0


# --- the parent --------------------------------------------------------------------------------


class RemoteArrivals:
    """sqs_arrivals.Arrivals of the child's moto, asked over HTTP."""

    def __init__(self, call: Callable[..., dict[str, Any]]) -> None:
        self._call = call
        self._interrupts = threading.local()  # what each poller's last ``seen`` read

    def seen(self, queue_name: str) -> int:
        answer = self._call("arrivals/seen", {"queue": queue_name})
        self._interrupts.value = int(answer["interrupts"])
        return int(answer["seen"])

    def wait(self, queue_name: str, since: int, timeout: float, stopping: threading.Event) -> bool:
        """As Arrivals.wait, after a ``seen`` on the same thread (its ``since``)."""
        if stopping.is_set():
            return True
        body = {
            "queue": queue_name,
            "since": since,
            "timeout": timeout,
            # An interrupt after this thread's ``seen`` ends the wait at once: never missed.
            "interrupts": getattr(self._interrupts, "value", 0),
        }
        return bool(self._call("arrivals/wait", body, timeout=timeout + CALL_TIMEOUT)["arrived"])

    def arrived(self, queue_name: str) -> None:
        self._call("arrivals/arrived", {"queue": queue_name})

    def interrupt(self) -> None:
        self._call("arrivals/interrupt", {})


class RemoteControls:
    """moto_controls.MotoControls of a moto server in another process."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port
        self._arrivals = RemoteArrivals(self._call)

    @property
    def arrivals(self) -> QueueArrivals:
        return self._arrivals

    def act_as_service(self, principal_arn: str, service: str) -> None:
        self._call("act-as-service", {"principal": principal_arn, "service": service})

    def enable_iam(self, server_url: str) -> None:
        self._call("iam/enable", {"url": server_url})

    def disable_iam(self, server_url: str) -> None:
        self._call("iam/disable", {"url": server_url})

    def deliver_email_to(self, topic_arn: str, inbox_queue_arn: str) -> None:
        self._call("email-inbox", {"topic": topic_arn, "queue_arn": inbox_queue_arn})

    def _call(
        self, route: str, body: dict[str, Any], *, timeout: float = CALL_TIMEOUT
    ) -> dict[str, Any]:
        connection = http.client.HTTPConnection(self._host, self._port, timeout=timeout)
        try:
            connection.request(
                "POST",
                CONTROL_PREFIX + route,
                body=json.dumps(body).encode(),
                headers={"Content-Type": "application/json"},
            )
            answer = connection.getresponse()
            data = answer.read()
        finally:
            connection.close()
        if answer.status != 200:
            raise RuntimeError(f"moto's process refused {route}: HTTP {answer.status} {data!r}")
        result: dict[str, Any] = json.loads(data)
        return result


class MotoProcess:
    """moto's server in a child process: ``start`` waits until it listens and returns its URL;
    ``controls`` reach it; ``stop`` ends it. The child starts at once (its imports overlap
    whatever the parent does before ``start``)."""

    def __init__(self, faults: dict[str, Any] | None = None) -> None:
        config = json.dumps({"faults": faults or {}})
        self._process = subprocess.Popen(  # nosec B603 # this interpreter, this module
            [sys.executable, "-m", __name__, config],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        self.url = ""
        self._controls: RemoteControls | None = None

    @property
    def controls(self) -> RemoteControls:
        if self._controls is None:
            raise RuntimeError("moto's process has not started")
        return self._controls

    def start(self) -> str:
        assert self._process.stdout is not None  # nosec B101 # piped above
        line = _first_line(self._process.stdout, START_TIMEOUT)
        if not line:
            self.stop()
            raise RuntimeError(
                f"moto's process ended before it listened (exit {self._process.returncode}); "
                "its error is above"
            )
        self.url = str(json.loads(line)["url"])
        self._controls = RemoteControls(self.url)
        return self.url

    def stop(self) -> None:
        """Ends the child at once: moto's state lives nowhere else, so nothing is lost."""
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        for stream in (self._process.stdin, self._process.stdout):
            if stream is not None and not stream.closed:
                stream.close()


def _first_line(stream: Any, timeout: float) -> bytes:
    """The stream's first line, or b"" at its end or after ``timeout`` seconds."""
    found: list[bytes] = []
    reader = threading.Thread(target=lambda: found.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return found[0] if found else b""


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
