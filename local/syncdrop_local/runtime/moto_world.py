"""moto behind one lock, with DynamoDB's transaction conflicts decided the way AWS decides them.

moto is not safe under concurrent requests: two TransactWriteItems on one item can interleave
inside it, and both conditions pass. DynamoDB instead cancels one of two overlapping
transactions on a common item (TransactionCanceledException, reason TransactionConflict) and
refuses a single-item write to an item a transaction holds (TransactionConflictException).
``MotoWorld`` does the same in front of moto: every request goes into moto under one lock, so
moto only ever sees one at a time; a TransactWriteItems holds its items from the moment it
arrives until it is answered, and whatever touches one of them meanwhile gets the answer AWS
gives, in AWS's wire format (botocore parses it into the exact ClientError AWS would produce).

Two ways in: ``MotoWorldServer`` wraps moto's WSGI app (the local stack's server, reached over
HTTP by every function), and ``attach`` hooks one boto3 client under in-process ``mock_aws``.
``DynamoFaults`` adds throttling and conflicts at a rate (off by default).
"""

from __future__ import annotations

import io
import json
import random
import threading
import uuid
import zlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")

TARGET_PREFIX = "DynamoDB_20120810."
_ERROR_TYPE = "com.amazonaws.dynamodb.v20120810#"
_SINGLE_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem"})
_ONGOING = "Transaction is ongoing for the item"

ItemRef = tuple[str, str]  # table name, the key as canonical JSON


@dataclass
class DynamoFaults:
    """Faults DynamoDB produces under load, each a probability per request (0 = never).

    Change them at any time; a seed makes a run repeatable.
    """

    # Any DynamoDB request: throttled before moto sees it (botocore retries these itself).
    throttle_rate: float = 0.0
    throttle_code: str = "ThrottlingException"
    # A TransactWriteItems: cancelled with a TransactionConflict on one of its items.
    conflict_rate: float = 0.0
    seed: int | None = None


@dataclass(frozen=True)
class Refusal:
    """An answer DynamoDB gives without doing anything: status and JSON body."""

    status: int
    body: bytes

    @property
    def headers(self) -> dict[str, str]:
        return {
            "Content-Type": "application/x-amz-json-1.0",
            "x-amzn-RequestId": uuid.uuid4().hex,
            "x-amz-crc32": str(zlib.crc32(self.body)),  # botocore checks it on DynamoDB answers
            "Content-Length": str(len(self.body)),
        }


def _refusal(error: str, message: str, **extra: Any) -> Refusal:
    prefix = "com.amazon.coral.availability#" if error == "ThrottlingException" else _ERROR_TYPE
    body = {"__type": f"{prefix}{error}", "message": message, **extra}
    return Refusal(400, json.dumps(body).encode())


def transaction_cancelled(items: int, conflicting: Iterable[int]) -> Refusal:
    """TransactionCanceledException as DynamoDB words it: one reason per item, in order."""
    hit = set(conflicting)
    reasons = [
        {"Code": "TransactionConflict", "Message": _ONGOING} if i in hit else {"Code": "None"}
        for i in range(items)
    ]
    codes = ", ".join(r["Code"] for r in reasons)
    message = (
        f"Transaction cancelled, please refer cancellation reasons for specific reasons [{codes}]"
    )
    body = {
        "__type": f"{_ERROR_TYPE}TransactionCanceledException",
        "Message": message,
        "CancellationReasons": reasons,
    }
    return Refusal(400, json.dumps(body).encode())


@dataclass
class MotoWorld:
    """The one way into moto: one request at a time, conflicts decided in front of it."""

    faults: DynamoFaults = field(default_factory=DynamoFaults)
    # What was decided here, for tests to assert on: transactions, transaction_conflicts,
    # write_conflicts, injected_conflicts, injected_throttles.
    stats: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.lock = threading.RLock()  # held while moto handles a request
        self._holds = threading.Lock()  # guards _in_flight, stats and the dice
        self._in_flight: Counter[ItemRef] = Counter()
        self._key_names: dict[str, tuple[str, ...]] = {}
        self._dice = random.Random(self.faults.seed)  # nosec B311 # fault dice, not secrets

    def serve(
        self,
        target: str | None,
        body: bytes,
        run: Callable[[], T],
        refuse: Callable[[Refusal], T],
    ) -> T:
        """Answer one request: ``run`` hands it to moto (under the lock), ``refuse`` turns a
        refusal into the caller's kind of answer. ``target`` is the X-Amz-Target header."""
        operation = (
            target[len(TARGET_PREFIX) :] if target and target.startswith(TARGET_PREFIX) else None
        )
        if operation is None:
            with self.lock:
                return run()
        request = json.loads(body or b"{}")
        if operation == "CreateTable":
            self._key_names[request["TableName"]] = tuple(
                k["AttributeName"] for k in request.get("KeySchema", [])
            )
        refusal, held = self._decide(operation, request)
        if refusal is not None:
            return refuse(refusal)
        try:
            with self.lock:
                return run()
        finally:
            if held:
                with self._holds:
                    self._in_flight.subtract(held)
                    self._in_flight += Counter()  # drop the zeros

    def _decide(
        self, operation: str, request: dict[str, Any]
    ) -> tuple[Refusal | None, list[ItemRef]]:
        """A refusal, or the items this request holds until it is answered."""
        with self._holds:
            if self.faults.throttle_rate and self._dice.random() < self.faults.throttle_rate:
                self.stats["injected_throttles"] += 1
                return _refusal(
                    self.faults.throttle_code, "Rate of requests exceeds the allowed throughput."
                ), []
            if operation == "TransactWriteItems":
                items = [self._item_of(action) for action in request.get("TransactItems", [])]
                self.stats["transactions"] += 1
                conflicting = [i for i, ref in enumerate(items) if ref in self._in_flight]
                if conflicting:
                    self.stats["transaction_conflicts"] += 1
                    return transaction_cancelled(len(items), conflicting), []
                if self.faults.conflict_rate and self._dice.random() < self.faults.conflict_rate:
                    self.stats["injected_conflicts"] += 1
                    return transaction_cancelled(len(items), [self._dice.randrange(len(items))]), []
                self._in_flight.update(items)
                return None, items
            if operation in _SINGLE_WRITES:
                ref = self._ref(request["TableName"], request.get("Key") or request.get("Item", {}))
                if ref in self._in_flight:
                    self.stats["write_conflicts"] += 1
                    return _refusal("TransactionConflictException", _ONGOING), []
        return None, []

    def _item_of(self, action: dict[str, Any]) -> ItemRef:
        ((_kind, spec),) = action.items()
        return self._ref(spec["TableName"], spec.get("Key") or spec.get("Item", {}))

    def _ref(self, table: str, item: dict[str, Any]) -> ItemRef:
        """The item's identity: its key attributes (a Put names the whole item; the table's key
        schema, seen at CreateTable, says which are the key)."""
        names = self._key_names.get(table)
        key = {k: v for k, v in item.items() if k in names} if names else item
        return table, json.dumps(key, sort_keys=True)


class SerialisedApp:
    """moto's WSGI app with every request answered through one ``MotoWorld``."""

    def __init__(self, app: Callable[..., Iterable[bytes]], world: MotoWorld) -> None:
        self._app = app
        self._world = world

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        target = environ.get("HTTP_X_AMZ_TARGET")
        body = b""
        if target and target.startswith(TARGET_PREFIX):
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            environ["wsgi.input"] = io.BytesIO(body)

        def run() -> list[bytes]:
            # The whole answer is produced under the lock, not only its first bytes.
            answer = self._app(environ, start_response)
            try:
                return list(answer)
            finally:
                close = getattr(answer, "close", None)
                if close is not None:
                    close()

        def refuse(refusal: Refusal) -> list[bytes]:
            start_response(f"{refusal.status} Bad Request", list(refusal.headers.items()))
            return [refusal.body]

        return self._world.serve(target, body, run, refuse)


class MotoWorldServer:
    """moto's server on 127.0.0.1 (a free port), every request through ``world``."""

    def __init__(self, world: MotoWorld | None = None, *, host: str = "127.0.0.1") -> None:
        self.world = world or MotoWorld()
        self._host = host
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> str:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        app = SerialisedApp(DomainDispatcherApplication(create_backend_app), self.world)
        self._server = make_server(
            self._host, 0, app, threaded=True, request_handler=MotoRequestHandler
        )
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join()


def attach(client: Any, world: MotoWorld) -> Any:
    """Route ``client``'s requests through ``world`` under in-process ``mock_aws``; return it.

    Hooked on botocore's ``before-send`` in place of moto's own stubber: it hands the request
    to that stubber under the world's lock, or answers the refusal itself.
    """
    from botocore.awsrequest import AWSResponse
    from moto.core.botocore_stubber import MockRawResponse
    from moto.core.models import botocore_stubber

    def before_send(request: Any, event_name: str, **_: Any) -> Any:
        if not botocore_stubber.enabled:  # not under mock_aws: nothing of moto's to guard
            return None
        target = request.headers.get("X-Amz-Target")
        if isinstance(target, bytes):
            target = target.decode()
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        elif not isinstance(body, bytes):  # a file-like body (S3 uploads) is not DynamoDB's
            body = b""

        def refuse(refusal: Refusal) -> Any:
            return AWSResponse(
                request.url, refusal.status, refusal.headers, MockRawResponse(refusal.body)
            )

        return world.serve(target, body, lambda: botocore_stubber(event_name, request), refuse)

    # botocore calls every before-send handler (the first answer wins): moto's own must go, or
    # it would handle each request a second time, outside the lock.
    client.meta.events.unregister("before-send", botocore_stubber)
    client.meta.events.register_first("before-send", before_send)
    return client
