"""The ``SyncEmulator`` facade: starts the HTTP server and ticker, and exposes state for tests."""

from __future__ import annotations

import copy
import threading
import time
from collections import Counter
from collections.abc import Callable
from types import TracebackType
from typing import Any

from .api import SyncApi
from .assets import AssetCounts, AssetSnapshot
from .batches import BatchStore
from .clock import Clock
from .dispatch import WebhookDispatcher
from .faults import FaultPlan
from .generations import GenerationSnapshot, GenerationStore, webhook_target
from .plans import check_plan
from .rate_limit import SlidingWindowLimit
from .records import (
    BatchSnapshot,
    CreateCounts,
    CreateTally,
    GenerateCounts,
    GenerateTally,
    RequestRecord,
    WebhookDelivery,
)
from .routes import route_key
from .server import EmulatorHTTPServer
from .settings import EmulatorSettings
from .signing import UrlSigner
from .webhooks import WebhookSender


class SyncEmulator:
    """A local, introspectable stand-in for sync.so's Batch API on a real HTTP port.

    Statuses follow the emulated :class:`Clock`; a background thread calls :meth:`tick` every
    ``tick_interval`` real seconds while started, and tests may call it themselves to deliver due
    webhooks synchronously. See ``docs/emulator.md`` for the full behaviour.
    """

    def __init__(
        self,
        *,
        api_key: str,
        webhook_secret: str | None,
        batch_concurrency: int = 3,
        host: str = "127.0.0.1",
        port: int = 0,
        time_scale: float = 1.0,
        pending_seconds: float = 30,
        jobs_created_seconds: float = 0,
        processing_seconds_per_line: float = 6,
        line_parallelism: int = 1,
        failure_rate: float = 0.0,
        seed: int = 0,
        min_lines: int = 20,
        max_lines: int = 500,
        max_bytes: int = 5 * 1024 * 1024,
        batch_access: bool | None = None,
        plan: str = "scale",
        generation_concurrency: int | None = None,
        generate_rate_limit: int = 60,
        generation_pending_seconds: float = 5.0,
        generation_seconds: float = 20.0,
        signature_header: str = "Sync-Signature",
        result_url_ttl: float = 900,
        webhook_timeout: float = 5.0,
        public_url: str | None = None,
        signed_base: str | None = None,
        tick_interval: float = 0.05,
        log: Callable[[str], None] | None = None,
        faults: FaultPlan | None = None,
    ) -> None:
        self.settings = EmulatorSettings(
            api_key=api_key,
            webhook_secret=webhook_secret,
            batch_concurrency=batch_concurrency,
            pending_seconds=pending_seconds,
            jobs_created_seconds=jobs_created_seconds,
            processing_seconds_per_line=processing_seconds_per_line,
            line_parallelism=line_parallelism,
            failure_rate=failure_rate,
            seed=seed,
            min_lines=min_lines,
            max_lines=max_lines,
            max_bytes=max_bytes,
            batch_access=batch_access,
            plan=check_plan(plan),
            generation_concurrency=generation_concurrency,
            generate_rate_limit=generate_rate_limit,
            generation_pending_seconds=generation_pending_seconds,
            generation_seconds=generation_seconds,
            signature_header=signature_header,
            result_url_ttl=result_url_ttl,
            webhook_timeout=webhook_timeout,
            public_url=public_url,
            signed_base=signed_base,
        )
        self.host = host
        self.port = port
        self.tick_interval = tick_interval
        self.clock = Clock(time_scale=time_scale)
        self.faults = faults if faults is not None else FaultPlan(seed=seed)
        self._log = log
        self._lock = threading.Lock()
        self._tick_lock = threading.Lock()
        self._stopping = threading.Event()
        self._store = BatchStore(clock_now=self.clock.now, seed=seed)
        self._tally = CreateTally()
        self._generations = GenerationStore(clock_now=self.clock.now, seed=seed)
        self._generate_tally = GenerateTally()
        self._generate_limit = SlidingWindowLimit()
        self._requests: list[RequestRecord] = []
        self._deliveries: list[WebhookDelivery] = []
        self._dropped: list[str] = []
        self._server: EmulatorHTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self._api = SyncApi(
            settings=self.settings,
            store=self._store,
            faults=self.faults,
            clock=self.clock,
            tally=self._tally,
            signer=UrlSigner(),
            stopping=self._stopping,
            own_url=lambda: self.url,
            generations=self._generations,
            generate_tally=self._generate_tally,
            generate_limit=self._generate_limit,
        )
        self._dispatcher = WebhookDispatcher(
            store=self._store,
            faults=self.faults,
            sender=WebhookSender(settings=self.settings, record=self._record_delivery),
            batch_json=self._api.batch_json,
            on_drop=self._record_drop,
            generations=self._generations,
            generation_json=self._api.generate.generation_json,
        )

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> SyncEmulator:
        """Bind the port, then serve and tick in background threads."""
        if self._server is not None:
            raise RuntimeError("the emulator is already running")
        self._stopping.clear()
        server = EmulatorHTTPServer(
            (self.host, self.port), self._api, self._record_request, log=self._log
        )
        self._server = server
        serve = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="sync-emulator-http",
            daemon=True,
        )
        ticker = threading.Thread(target=self._tick_loop, name="sync-emulator-tick", daemon=True)
        self._threads = [serve, ticker]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and ticking; safe to call twice."""
        server = self._server
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        server.close_connections()
        for thread in self._threads:
            thread.join(timeout=10)
        self._threads = []
        self._server = None

    def __enter__(self) -> SyncEmulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def url(self) -> str:
        """``http://<host>:<port>`` of the running server."""
        if self._server is None:
            raise RuntimeError("the emulator is not running; call start() first")
        host, port = self._server.server_address[:2]
        host_text = host.decode() if isinstance(host, bytes) else str(host)
        return f"http://{host_text}:{port}"

    @property
    def public_url(self) -> str:
        """Base of ``outputUrl`` and media links (``public_url`` setting or :attr:`url`)."""
        return self._api.public_url()

    # -- time ---------------------------------------------------------------------------------

    def tick(self) -> None:
        """Deliver due webhooks (of batches now terminal, held-back and premature ones) in the
        calling thread."""
        with self._tick_lock:
            self._dispatcher.tick()

    def advance(self, seconds: float) -> None:
        """Move the emulated clock forward and run :meth:`tick`."""
        self.clock.advance(seconds)
        self.tick()

    def _tick_loop(self) -> None:
        while not self._stopping.wait(self.tick_interval):
            try:
                self.tick()
            except Exception as exc:  # keep ticking whatever one delivery did
                if self._log is not None:
                    self._log(f"tick failed: {exc!r}")

    # -- recording ----------------------------------------------------------------------------

    def _record_request(self, record: RequestRecord) -> None:
        with self._lock:
            self._requests.append(record)
        if self._log is not None:
            self._log(f"{record.method} {record.path} -> {record.status}")

    def _record_delivery(self, delivery: WebhookDelivery) -> None:
        with self._lock:
            self._deliveries.append(delivery)
        if self._log is not None:
            self._log(f"webhook {delivery.batch_id} -> {delivery.url}: {delivery.status_code}")

    def _record_drop(self, batch_id: str) -> None:
        with self._lock:
            self._dropped.append(batch_id)

    def clear_records(self) -> None:
        """Forget recorded requests, create counts, webhook deliveries and injected-fault counts
        (batches and generations stay)."""
        with self._lock:
            self._requests.clear()
            self._deliveries.clear()
            self._dropped.clear()
        self._tally.reset()
        self._generate_tally.reset()
        self._generate_limit.reset_record()
        self._generations.reset_max_open()
        self.faults.reset_counts()
        self._api.assets.reset_counts()

    # -- introspection ------------------------------------------------------------------------

    @property
    def requests(self) -> list[RequestRecord]:
        """Every answered request, in order."""
        with self._lock:
            return list(self._requests)

    @property
    def create_counts(self) -> CreateCounts:
        return self._tally.snapshot()

    @property
    def webhook_deliveries(self) -> list[WebhookDelivery]:
        """Every webhook POST attempted (duplicates included), in order."""
        with self._lock:
            return list(self._deliveries)

    @property
    def held_webhooks(self) -> int:
        """Webhook notifications queued (e.g. held back by ``webhook_delay_seconds``), unsent."""
        return self._dispatcher.held

    @property
    def dropped_webhooks(self) -> list[str]:
        """Ids of batches whose webhook a fault dropped."""
        with self._lock:
            return list(self._dropped)

    @property
    def batches(self) -> list[BatchSnapshot]:
        """Every created batch, oldest first, as of now."""
        public_url = self.public_url
        return [self._store.snapshot(batch, public_url) for batch in self._store.all()]

    def batch(self, batch_id: str) -> BatchSnapshot:
        found = self._store.get(batch_id)
        if found is None:
            raise KeyError(batch_id)
        return self._store.snapshot(found, self.public_url)

    def result_lines(self, batch_id: str) -> list[dict[str, Any]]:
        """The result file's lines for a batch (whatever its status), without HTTP."""
        found = self._store.get(batch_id)
        if found is None:
            raise KeyError(batch_id)
        return copy.deepcopy(found.result_lines(self.public_url))

    def served_result_faults(self, batch_id: str) -> dict[str, str]:
        """Request ids whose line a download served ``malformed`` or left out (``missing``).

        Only what was actually served is listed; :meth:`result_lines` stays the true file.
        """
        if self._store.get(batch_id) is None:
            raise KeyError(batch_id)
        return self.faults.served_result_faults(batch_id)

    def assets(self) -> list[AssetSnapshot]:
        """Every registered asset (all API keys), oldest first."""
        return self._api.assets.snapshots()

    def asset_counts(self) -> AssetCounts:
        """Upload URLs, stored PUTs, registrations, assets created and look-ups so far."""
        return self._api.assets.counts()

    def asset_usage(self) -> dict[str, int]:
        """Asset id → how many batch lines (or generations) used it."""
        return self._api.assets.usage()

    @property
    def faults_injected(self) -> dict[str, int]:
        """Faults actually injected so far, by kind (``faults.counts()``)."""
        return self.faults.counts()

    @property
    def open_batches(self) -> int:
        """Batches now ``PENDING``, ``JOBS_CREATED`` or ``PROCESSING``."""
        return self._store.open_count()

    @property
    def max_concurrent_open(self) -> int:
        """The most batches ever open at once."""
        return self._store.max_open

    # -- generations ----------------------------------------------------------------------------

    def generations(self) -> list[GenerationSnapshot]:
        """Every created generation, oldest first, as of now."""
        public_url = self.public_url
        return [self._generations.snapshot(item, public_url) for item in self._generations.all()]

    def generation(self, generation_id: str) -> GenerationSnapshot:
        found = self._generations.get(generation_id)
        if found is None:
            raise KeyError(generation_id)
        return self._generations.snapshot(found, self.public_url)

    def generate_counts(self) -> GenerateCounts:
        return self._generate_tally.snapshot()

    def max_generations_open(self) -> int:
        """The most generations ever PENDING or PROCESSING at once."""
        return self._generations.max_open

    def open_generations(self) -> int:
        return self._generations.open_count()

    def generations_per_target(self) -> dict[tuple[str, str], int]:
        """Generations per ``(job, chunk)`` named in their ``webhookUrl`` query string."""
        targets = (webhook_target(item.webhook_url) for item in self._generations.all())
        return dict(Counter(target for target in targets if target is not None))

    def max_generate_requests_per_minute(self) -> int:
        """The most ``POST /v2/generate`` requests seen in any 60 s of the emulated clock."""
        return self._generate_limit.busiest_minute

    def request_summary(self) -> dict[str, int]:
        """Requests answered, by ``"<METHOD> <route template>"``, plus
        ``distinct_idempotency_keys`` (of ``POST /v2/generate``)."""
        summary: dict[str, int] = dict(
            Counter(route_key(record.method, record.path) for record in self.requests)
        )
        summary["distinct_idempotency_keys"] = self.generate_counts().distinct_idempotency_keys
        return summary

    def wait_until(
        self, predicate: Callable[[], bool], timeout: float = 5.0, interval: float = 0.02
    ) -> bool:
        """Poll ``predicate`` (real time) until it holds or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        while True:
            if predicate():
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(interval)
