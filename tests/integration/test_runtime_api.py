"""The local Runtime API as a runtime client sees it: one event per /next, then its answer."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Iterator

import pytest

from syncdrop_local.runtime.runtime_api import Invocation, RuntimeApiServer

PREFIX = "/2018-06-01/runtime"


@pytest.fixture
def api() -> Iterator[RuntimeApiServer]:
    server = RuntimeApiServer().start()
    yield server
    server.stop()


def call(api: RuntimeApiServer, method: str, path: str, body: bytes = b"", **headers: str):
    connection = http.client.HTTPConnection(api.address, timeout=10)
    connection.request(method, PREFIX + path, body, headers)
    answer = connection.getresponse()
    result = answer.status, dict(answer.getheaders()), answer.read()
    connection.close()
    return result


def invocation(timeout: float = 3.0) -> Invocation:
    arn = "arn:aws:lambda:us-east-1:123456789012:function:reconcile"
    return Invocation(payload=b'{"source": "aws.scheduler"}', function_arn=arn, timeout=timeout)


def test_next_long_polls_until_an_event_is_posted_then_hands_it_over(api):
    pending = invocation()
    answered: list[tuple[int, dict[str, str], bytes]] = []
    poller = threading.Thread(target=lambda: answered.append(call(api, "GET", "/invocation/next")))
    poller.start()
    poller.join(0.2)
    assert poller.is_alive()  # nothing to hand out yet

    api.post(pending)
    poller.join(10)

    status, headers, body = answered[0]
    assert status == 200
    assert json.loads(body) == {"source": "aws.scheduler"}
    assert headers["Lambda-Runtime-Aws-Request-Id"] == pending.request_id
    assert headers["Lambda-Runtime-Invoked-Function-Arn"].endswith(":function:reconcile")
    assert headers["Lambda-Runtime-Trace-Id"].startswith("Root=1-")
    deadline_ms = int(headers["Lambda-Runtime-Deadline-Ms"])
    assert 0 < deadline_ms - time.time() * 1000 <= 3000
    assert pending.delivered_at is not None


def test_a_response_finishes_the_invocation_once(api):
    pending = invocation()
    api.post(pending)
    call(api, "GET", "/invocation/next")

    first = call(api, "POST", f"/invocation/{pending.request_id}/response", b'{"ok": 1}')
    again = call(api, "POST", f"/invocation/{pending.request_id}/response", b'{"ok": 2}')
    unknown = call(api, "POST", "/invocation/not-a-request/response", b"{}")

    assert first[0] == 202
    assert again[0] == 400
    assert unknown[0] == 400
    assert pending.wait(1) is not None
    assert pending.outcome is not None
    assert pending.outcome.response == b'{"ok": 1}'


def test_an_error_keeps_lambdas_error_document(api):
    pending = invocation()
    api.post(pending)
    call(api, "GET", "/invocation/next")
    document = {"errorMessage": "bad row", "errorType": "ValueError", "stackTrace": ["  x"]}

    status, _, _ = call(
        api,
        "POST",
        f"/invocation/{pending.request_id}/error",
        json.dumps(document).encode(),
        **{"Lambda-Runtime-Function-Error-Type": "ValueError"},
    )

    assert status == 202
    assert pending.outcome is not None
    assert pending.outcome.error == document


def test_an_init_error_fails_the_waiting_invocation_and_every_later_one(api):
    pending = invocation()
    api.post(pending)
    document = {"errorMessage": "Unable to import module 'app'", "stackTrace": []}

    status, _, _ = call(
        api,
        "POST",
        "/init/error",
        json.dumps(document).encode(),
        **{"Lambda-Runtime-Function-Error-Type": "Runtime.ImportModuleError"},
    )
    later = invocation()
    api.post(later)

    assert status == 202
    assert pending.outcome is not None
    assert pending.outcome.error is not None
    assert pending.outcome.error["errorType"] == "Runtime.ImportModuleError"
    assert later.outcome == pending.outcome
