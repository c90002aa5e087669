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
``DynamoFaults`` adds throttling, conflicts and eventually consistent reads (stale_reads.py),
``S3Faults`` S3's SlowDown; each off by default, each changeable at any time.
"""

from __future__ import annotations

import io
import json
import random
import re
import threading
import time
import uuid
import zlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, TypeVar
from urllib.parse import parse_qs

from syncdrop_local.runtime import stale_reads

T = TypeVar("T")

TARGET_PREFIX = "DynamoDB_20120810."
_ERROR_TYPE = "com.amazonaws.dynamodb.v20120810#"
_SINGLE_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem"})
_ONGOING = "Transaction is ongoing for the item"
_WRITES = frozenset({*_SINGLE_WRITES, "TransactWriteItems", "BatchWriteItem"})
_SCOPE = re.compile(r"Credential=[^/\s]+/\d{8}/([^/\s]+)/([^/\s]+)/aws4_request")

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
    # A GetItem, Query or BatchGetItem without ConsistentRead: answered by a replica that has
    # not seen the writes of the last 0..stale_seconds (at a rate).
    stale_read_rate: float = 0.0
    stale_seconds: float = 1.0
    # Every Query of a global secondary index sees the items as they were this long ago.
    gsi_lag_seconds: float = 0.0
    seed: int | None = None

    @property
    def history_seconds(self) -> float:
        """How long the images that writes replace must be kept to answer reads."""
        return max(self.stale_seconds if self.stale_read_rate else 0.0, self.gsi_lag_seconds)


@dataclass
class S3Faults:
    """S3 under load: any request answered 503 SlowDown at a rate (botocore retries these)."""

    slow_down_rate: float = 0.0
    seed: int | None = None


@dataclass(frozen=True)
class Call:
    """What the world reads of one request: DynamoDB's target and JSON body, and the service
    and region its signature names (presigned URLs included)."""

    target: str | None
    body: bytes = b""
    service: str | None = None
    region: str | None = None


def signing_scope(authorization: str | None, query: str = "") -> tuple[str | None, str | None]:
    """(service, region) of a SigV4-signed request, from its header or its presigned URL."""
    credential = authorization or ""
    if "X-Amz-Credential" in query:
        credential = "Credential=" + parse_qs(query).get("X-Amz-Credential", [""])[0]
    match = _SCOPE.search(credential)
    if match:
        return match.group(2), match.group(1)
    if credential.startswith("AWS ") or "AWSAccessKeyId=" in query:
        return "s3", None  # only S3 still takes SigV2
    return None, None


@dataclass(frozen=True)
class Answer:
    """An answer given in front of moto (a refusal, or a read rewritten): status and body."""

    status: int
    body: bytes
    content_type: str = "application/x-amz-json-1.0"

    @property
    def reason(self) -> str:
        return HTTPStatus(self.status).phrase

    @property
    def headers(self) -> dict[str, str]:
        if self.content_type == "application/xml":  # S3's
            return {
                "Content-Type": self.content_type,
                "x-amz-request-id": uuid.uuid4().hex[:16].upper(),
                "x-amz-id-2": uuid.uuid4().hex,
                "Content-Length": str(len(self.body)),
            }
        return {
            "Content-Type": self.content_type,
            "x-amzn-RequestId": uuid.uuid4().hex,
            "x-amz-crc32": str(zlib.crc32(self.body)),  # botocore checks it on DynamoDB answers
            "Content-Length": str(len(self.body)),
        }


def _refusal(error: str, message: str, **extra: Any) -> Answer:
    prefix = "com.amazon.coral.availability#" if error == "ThrottlingException" else _ERROR_TYPE
    body = {"__type": f"{prefix}{error}", "message": message, **extra}
    return Answer(400, json.dumps(body).encode())


def slow_down() -> Answer:
    """S3's answer to a request rate it will not take right now."""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
        "<Message>Please reduce your request rate.</Message>"
        f"<RequestId>{uuid.uuid4().hex[:16].upper()}</RequestId>"
        f"<HostId>{uuid.uuid4().hex}</HostId></Error>"
    )
    return Answer(503, body.encode(), content_type="application/xml")


def transaction_cancelled(items: int, conflicting: Iterable[int]) -> Answer:
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
    return Answer(400, json.dumps(body).encode())


def _eventually_consistent(operation: str, request: dict[str, Any]) -> bool:
    """A read of a table (not of a global index) that did not ask for ConsistentRead."""
    if operation == "BatchGetItem":
        specs = request.get("RequestItems", {}).values()
        return any(not spec.get("ConsistentRead") for spec in specs)
    if operation == "Query" and request.get("IndexName"):
        return False  # syncdrop's indexes are global ones, which cannot be read consistently
    return operation in ("GetItem", "Query") and not request.get("ConsistentRead")


@dataclass
class MotoWorld:
    """The one way into moto: one request at a time, conflicts decided in front of it."""

    faults: DynamoFaults = field(default_factory=DynamoFaults)
    s3_faults: S3Faults = field(default_factory=S3Faults)
    # What was decided here, for tests to assert on: transactions, transaction_conflicts,
    # write_conflicts, injected_conflicts, injected_throttles, injected_slow_downs,
    # stale_reads (a read answered as a replica behind by up to stale_seconds answers it),
    # lagged_index_reads (a GSI Query whose answer differs from the table's latest state),
    # eventually_consistent_reads (GetItem, BatchGetItem or a Query of a table or a local index
    # without ConsistentRead, stale or not; Scan is not counted).
    stats: Counter[str] = field(default_factory=Counter)
    # When writes and reads happen, for the history of item images (tests set their own).
    clock: Callable[[], float] = time.monotonic

    def __post_init__(self) -> None:
        self.lock = threading.RLock()  # held while moto handles a request
        self._holds = threading.Lock()  # guards _in_flight, stats and the dice
        self._in_flight: Counter[ItemRef] = Counter()
        self._key_names: dict[str, tuple[str, ...]] = {}
        self._dice: dict[int, tuple[object, random.Random]] = {}
        self.history = stale_reads.ItemHistory()  # only used under ``lock``

    def _roll(self, faults: DynamoFaults | S3Faults, rate: float) -> bool:
        """True at ``rate``; each faults object (set any time) has dice seeded by its seed."""
        if not rate:
            return False
        return self._dice_of(faults).random() < rate

    def _dice_of(self, faults: DynamoFaults | S3Faults) -> random.Random:
        held = self._dice.get(id(faults))
        if held is None or held[0] is not faults:
            current = (id(self.faults), id(self.s3_faults))
            for gone in [k for k in self._dice if k not in current]:
                del self._dice[gone]  # a replaced object's dice go with it
            dice = random.Random(faults.seed)  # nosec B311 # fault dice, not secrets
            held = self._dice[id(faults)] = (faults, dice)
        return held[1]

    def serve(
        self,
        call: Call,
        run: Callable[[], T],
        answer: Callable[[Answer], T],
        read: Callable[[T], tuple[int, bytes]] | None = None,
    ) -> T:
        """Answer one request: ``run`` hands it to moto (under the lock), ``answer`` turns an
        answer given here into the caller's kind, ``read`` reads moto's (status, body) so an
        eventually consistent read can be rewritten (without it, reads are exact)."""
        target = call.target
        operation = (
            target[len(TARGET_PREFIX) :] if target and target.startswith(TARGET_PREFIX) else None
        )
        if operation is None:
            if call.service == "s3":
                with self._holds:
                    slow = self._roll(self.s3_faults, self.s3_faults.slow_down_rate)
                    if slow:
                        self.stats["injected_slow_downs"] += 1
                if slow:
                    return answer(slow_down())
            with self.lock:
                return run()
        request = json.loads(call.body or b"{}")
        if operation == "CreateTable":
            self._key_names[request["TableName"]] = tuple(
                k["AttributeName"] for k in request.get("KeySchema", [])
            )
        refusal, held = self._decide(operation, request)
        if refusal is not None:
            return answer(refusal)
        try:
            with self.lock:
                return self._in_moto(operation, request, call.region, run, answer, read)
        finally:
            if held:
                with self._holds:
                    self._in_flight.subtract(held)
                    self._in_flight += Counter()  # drop the zeros

    def _in_moto(
        self,
        operation: str,
        request: dict[str, Any],
        region: str | None,
        run: Callable[[], T],
        answer: Callable[[Answer], T],
        read: Callable[[T], tuple[int, bytes]] | None,
    ) -> T:
        """moto's answer (the lock is held), or the answer of a replica that lags behind it."""
        faults, now = self.faults, self.clock()
        keep_for = faults.history_seconds
        if operation in _WRITES:
            if not keep_for:
                return run()
            return self.history.record_write(
                operation, request, region, run, now=now, keep_for=keep_for
            )
        if _eventually_consistent(operation, request):
            self._count("eventually_consistent_reads")
        if not keep_for or read is None:
            return run()
        if operation == "GetItem":
            table = self._stale_table(request, region, now)
            if table is not None:
                changed = self.history.as_of(request["TableName"], table[1])
                rewritten = stale_reads.stale_get_item(request, table[0], changed)
                if rewritten is not None:
                    self._count("stale_reads")
                    return answer(Answer(200, json.dumps(rewritten).encode()))
            return run()
        if operation == "Query":
            return self._query(request, region, now, run, answer, read)
        if operation == "BatchGetItem":
            return self._batch_get(request, region, now, run, answer, read)
        return run()

    def _count(self, what: str) -> None:
        with self._holds:
            self.stats[what] += 1

    def _stale_table(
        self, request: dict[str, Any], region: str | None, now: float
    ) -> tuple[Any, float] | None:
        """moto's table and the moment a stale replica answers this read from, or None when
        the read is exact (ConsistentRead, or the dice said so)."""
        if request.get("ConsistentRead"):
            return None
        with self._holds:
            if not self._roll(self.faults, self.faults.stale_read_rate):
                return None
            age = self._dice_of(self.faults).uniform(0.0, self.faults.stale_seconds)
        table = stale_reads.moto_table(region, request["TableName"])
        return (table, now - age) if table is not None else None

    def _query(
        self,
        request: dict[str, Any],
        region: str | None,
        now: float,
        run: Callable[[], T],
        answer: Callable[[Answer], T],
        read: Callable[[T], tuple[int, bytes]],
    ) -> T:
        table = stale_reads.moto_table(region, request["TableName"])
        index = request.get("IndexName")
        on_gsi = table is not None and index in {i.name for i in table.global_indexes}
        if on_gsi and self.faults.gsi_lag_seconds and not request.get("ConsistentRead"):
            # moto answers ConsistentRead on a GSI with AWS's ValidationException itself.
            moment, kind = now - self.faults.gsi_lag_seconds, "lagged_index_reads"
        elif not on_gsi and (stale := self._stale_table(request, region, now)) is not None:
            moment, kind = stale[1], "stale_reads"
        else:
            return run()
        reply = run()
        status, body = read(reply)
        if status != 200:
            return reply
        changed = self.history.as_of(request["TableName"], moment)
        rewritten = stale_reads.stale_query(request, json.loads(body), table, changed)
        if rewritten is None:
            return reply
        self._count(kind)
        return answer(Answer(200, json.dumps(rewritten).encode()))

    def _batch_get(
        self,
        request: dict[str, Any],
        region: str | None,
        now: float,
        run: Callable[[], T],
        answer: Callable[[Answer], T],
        read: Callable[[T], tuple[int, bytes]],
    ) -> T:
        tables: dict[str, tuple[Any, dict[str, Any]]] = {}
        for name, spec in request.get("RequestItems", {}).items():
            stale = self._stale_table({"TableName": name, **spec}, region, now)
            if stale is not None:
                tables[name] = (stale[0], self.history.as_of(name, stale[1]))
        reply = run()
        if not tables:
            return reply
        status, body = read(reply)
        rewritten = json.loads(body) if status == 200 else None
        if rewritten is None or not stale_reads.stale_batch_get(request, rewritten, tables):
            return reply
        self._count("stale_reads")
        return answer(Answer(200, json.dumps(rewritten).encode()))

    def _decide(
        self, operation: str, request: dict[str, Any]
    ) -> tuple[Answer | None, list[ItemRef]]:
        """A refusal, or the items this request holds until it is answered."""
        with self._holds:
            if self._roll(self.faults, self.faults.throttle_rate):
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
                if self._roll(self.faults, self.faults.conflict_rate):
                    self.stats["injected_conflicts"] += 1
                    dice = self._dice_of(self.faults)
                    return transaction_cancelled(len(items), [dice.randrange(len(items))]), []
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


@dataclass
class Reply:
    """moto's WSGI answer, held until the world has decided what the caller gets."""

    status: str
    headers: list[tuple[str, str]]
    body: bytes


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
        service, region = signing_scope(
            environ.get("HTTP_AUTHORIZATION"), environ.get("QUERY_STRING", "")
        )

        def run() -> Reply:
            # The whole answer is produced under the lock, not only its first bytes.
            started: list[Any] = []

            def hold(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
                started[:] = [status, headers]
                return lambda _data: None  # moto never writes through it

            answer = self._app(environ, hold)
            try:
                content = b"".join(answer)
            finally:
                close = getattr(answer, "close", None)
                if close is not None:
                    close()
            return Reply(started[0], list(started[1]), content)

        def answer(given: Answer) -> Reply:
            return Reply(f"{given.status} {given.reason}", list(given.headers.items()), given.body)

        def read(reply: Reply) -> tuple[int, bytes]:
            return int(reply.status.split()[0]), reply.body

        reply = self._world.serve(Call(target, body, service, region), run, answer, read)
        start_response(reply.status, reply.headers)
        return [reply.body]


class MotoWorldServer:
    """moto's server on 127.0.0.1 (a free port), every request through ``world``."""

    def __init__(
        self,
        world: MotoWorld | None = None,
        *,
        host: str = "127.0.0.1",
        wrap: Callable[[Any], Any] | None = None,
    ) -> None:
        self.world = world or MotoWorld()
        self._host = host
        self._wrap = wrap  # a WSGI app around the world's, answering some paths itself
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> str:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        app: Any = SerialisedApp(DomainDispatcherApplication(create_backend_app), self.world)
        if self._wrap is not None:
            app = self._wrap(app)
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
        authorization = request.headers.get("Authorization")
        if isinstance(authorization, bytes):
            authorization = authorization.decode()
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        elif not isinstance(body, bytes):  # a file-like body (S3 uploads) is not DynamoDB's
            body = b""
        service, region = signing_scope(authorization, request.url.partition("?")[2])

        def answer(given: Answer) -> Any:
            return AWSResponse(
                request.url, given.status, given.headers, MockRawResponse(given.body)
            )

        def read(response: Any) -> tuple[int, bytes]:
            return int(response.status_code), bytes(response.content)

        return world.serve(
            Call(target, body, service, region),
            lambda: botocore_stubber(event_name, request),
            answer,
            read,
        )

    # botocore calls every before-send handler (the first answer wins): moto's own must go, or
    # it would handle each request a second time, outside the lock.
    client.meta.events.unregister("before-send", botocore_stubber)
    client.meta.events.register_first("before-send", before_send)
    return client
