"""Downloading a batch's result JSONL: from the emulator over HTTP, and from fake hosts."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syncdrop.adapters.policy import RetryPolicy
from syncdrop.adapters.result_download import (
    DEFAULT_RESULT_HOSTS,
    MAX_LINE_BYTES,
    ResultDownloader,
    ResultDownloadError,
    ResultUrlRefused,
    host_matches,
    split_lines,
)
from syncdrop.adapters.sync_api import USER_AGENT, SyncBatchApi
from syncdrop.errors import TransientError
from syncdrop.sync_models import Batch, BatchStatus
from syncdrop_local.emulator import SyncEmulator
from tests.support.sync_lines import batch_lines

API_KEY = "sk-test-result-download"
FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.02, connect_timeout=1, read_timeout=2)
LOCAL_HOSTS = ("127.0.0.1", "localhost")
RESULT_TTL = 900
SYNC_BASE = "https://api.sync.so"
OUTPUT_URL = f"{SYNC_BASE}/v2/batches/batch_abc123/result"
SIGNED_URL = "https://storage.sync.so/batch_abc123.jsonl?X-Amz-Signature=abc"
# The ResultUrlHosts parameter's default, as a deployment passes it (RESULT_URL_HOSTS).
DEPLOYED_HOSTS = ("*.sync.so",)


class RecordingTransport(httpx.BaseTransport):
    """Real HTTP to the emulator, keeping every request; ``after`` sees each response."""

    def __init__(self, after: Callable[[httpx.Response], None] | None = None) -> None:
        self._inner = httpx.HTTPTransport()
        self._after = after
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        response = self._inner.handle_request(request)
        if self._after is not None:
            self._after(response)
        return response

    def close(self) -> None:
        self._inner.close()


class FakeResultHost:
    """Sync's result redirect plus a storage host serving ``body`` (a list of chunks).

    ``broken_bodies`` of the first downloads are cut after ``cut_after`` chunks;
    ``refuse_first`` downloads get a transport error before any answer.
    """

    def __init__(
        self,
        body: list[bytes],
        *,
        broken_bodies: int = 0,
        cut_after: int = 1,
        refuse_first: int = 0,
        location: str = SIGNED_URL,
    ) -> None:
        self.body = body
        self.broken_bodies = broken_bodies
        self.cut_after = cut_after
        self.refuse_first = refuse_first
        self.location = location
        self.requests: list[httpx.Request] = []
        self.streams: list[ChunkStream] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.host == "api.sync.so":
            return httpx.Response(302, headers={"location": self.location})
        if self.refuse_first:
            self.refuse_first -= 1
            raise httpx.ConnectTimeout("timed out", request=request)
        cut = self.broken_bodies > 0
        self.broken_bodies -= 1
        stream = ChunkStream(self.body, cut_after=self.cut_after if cut else None)
        self.streams.append(stream)
        return httpx.Response(200, stream=stream)

    def downloader(self) -> ResultDownloader:
        return ResultDownloader(
            api_base_url=SYNC_BASE,
            allowed_redirect_hosts=DEPLOYED_HOSTS,
            policy=FAST,
            transport=httpx.MockTransport(self),
        )


class ChunkStream(httpx.SyncByteStream):
    def __init__(self, chunks: list[bytes], *, cut_after: int | None = None) -> None:
        self.chunks = chunks
        self.cut_after = cut_after
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        for index, chunk in enumerate(self.chunks):
            if index == self.cut_after:
                raise httpx.RemoteProtocolError("peer closed connection mid-body")
            yield chunk

    def close(self) -> None:
        self.closed = True


def result_line(request_id: str) -> bytes:
    return json.dumps({"request_id": request_id, "status": "COMPLETED"}).encode()


# -- against the emulator ----------------------------------------------------------------------


@pytest.fixture
def emulator() -> Iterator[SyncEmulator]:
    with SyncEmulator(
        api_key=API_KEY, webhook_secret=None, time_scale=0, result_url_ttl=RESULT_TTL
    ) as emu:
        yield emu


@pytest.fixture
def sync_api(emulator: SyncEmulator) -> Iterator[SyncBatchApi]:
    api = SyncBatchApi(base_url=emulator.url, api_key=lambda: API_KEY, policy=FAST)
    yield api
    api.close()


@pytest.fixture
def recorder() -> RecordingTransport:
    return RecordingTransport()


@pytest.fixture
def downloader(emulator: SyncEmulator, recorder: RecordingTransport) -> Iterator[ResultDownloader]:
    built = ResultDownloader(
        api_base_url=emulator.url,
        allowed_redirect_hosts=LOCAL_HOSTS,
        policy=FAST,
        transport=recorder,
    )
    yield built
    built.close()


def completed_batch(
    sync_api: SyncBatchApi, emulator: SyncEmulator, fail: set[int] | None = None
) -> Batch:
    created = sync_api.create_batch(batch_lines(20, fail=fail), webhook_url=None)
    assert isinstance(created, Batch)
    emulator.advance(1000)
    batch = sync_api.get_batch(created.id)
    assert batch.status is BatchStatus.COMPLETED
    assert batch.output_url == f"{emulator.url}/v2/batches/{batch.id}/result"
    return batch


def signed_downloads(emulator: SyncEmulator) -> list[int]:
    return [r.status for r in emulator.requests if r.path.startswith("/signed/")]


def use_localhost_for_signed_links(emulator: SyncEmulator) -> None:
    port = httpx.URL(emulator.url).port
    emulator.settings.signed_base = f"http://localhost:{port}"


def test_downloads_every_line_of_a_completed_batch(sync_api, emulator, downloader):
    batch = completed_batch(sync_api, emulator, fail={3})
    lines = [json.loads(line) for line in downloader.lines(batch.output_url)]
    assert [line["request_id"] for line in lines] == [f"r{i}" for i in range(1, 21)]
    assert lines[2]["status"] == "FAILED"
    assert lines[2]["error"]["code"] == "FACE_NOT_FOUND"
    assert all(line["status"] == "COMPLETED" for i, line in enumerate(lines) if i != 2)
    assert lines == emulator.result_lines(batch.id)


def test_no_api_key_or_authorization_reaches_the_result_hosts(
    sync_api, emulator, downloader, recorder
):
    batch = completed_batch(sync_api, emulator)
    emulator.clear_records()
    assert len(list(downloader.lines(batch.output_url))) == 20
    paths = [(r.path.split("/")[1], r.status, r.api_key_present) for r in emulator.requests]
    assert paths == [("v2", 302, False), ("signed", 200, False)]
    assert len(recorder.requests) == 2
    for request in recorder.requests:
        assert "x-api-key" not in request.headers
        assert "authorization" not in request.headers
        assert request.headers["user-agent"] == USER_AGENT


def test_redirect_to_another_allowed_host_is_followed(sync_api, emulator, downloader, recorder):
    use_localhost_for_signed_links(emulator)
    batch = completed_batch(sync_api, emulator)
    assert len(list(downloader.lines(batch.output_url))) == 20
    assert [r.url.host for r in recorder.requests] == ["127.0.0.1", "localhost"]
    assert signed_downloads(emulator) == [200]


def test_redirect_to_a_host_that_is_not_allowed_is_refused(sync_api, emulator):
    use_localhost_for_signed_links(emulator)
    batch = completed_batch(sync_api, emulator)
    only_api_host = ResultDownloader(
        api_base_url=emulator.url, allowed_redirect_hosts=(), policy=FAST
    )
    with pytest.raises(ResultUrlRefused, match="localhost"):
        list(only_api_host.lines(batch.output_url))
    only_api_host.close()
    assert signed_downloads(emulator) == []


def test_link_expiring_between_redirect_and_download(sync_api, emulator):
    def expire_after_redirect(response: httpx.Response) -> None:
        if response.status_code == 302:
            emulator.advance(RESULT_TTL + 1)

    batch = completed_batch(sync_api, emulator)
    slow = ResultDownloader(
        api_base_url=emulator.url,
        allowed_redirect_hosts=LOCAL_HOSTS,
        policy=FAST,
        transport=RecordingTransport(after=expire_after_redirect),
    )
    with pytest.raises(ResultDownloadError, match="expired") as err:
        list(slow.lines(batch.output_url))
    slow.close()
    assert err.value.status == 403
    assert "no longer valid" in str(err.value)  # the next attempt GETs the batch for a new link
    assert signed_downloads(emulator) == [403]  # an expired link is not retried


def test_signed_link_used_after_it_expired(sync_api, emulator, downloader):
    batch = completed_batch(sync_api, emulator)
    signed = httpx.get(batch.output_url).headers["location"]
    emulator.advance(RESULT_TTL + 1)
    with pytest.raises(ResultDownloadError, match="expired") as err:
        list(downloader.lines(signed))
    assert err.value.status == 403
    assert isinstance(err.value, TransientError)
    # A fresh GET of the batch's outputUrl gives a working link again.
    assert len(list(downloader.lines(batch.output_url))) == 20


def test_a_download_5xx_is_retried(sync_api, emulator, downloader):
    batch = completed_batch(sync_api, emulator)
    emulator.faults.fail_next_result_downloads(1, status=503)
    assert len(list(downloader.lines(batch.output_url))) == 20
    assert signed_downloads(emulator) == [503, 200]


def test_download_5xx_gives_up_after_the_shared_policy(sync_api, emulator, downloader):
    batch = completed_batch(sync_api, emulator)
    emulator.faults.fail_next_result_downloads(5, status=500)
    with pytest.raises(ResultDownloadError) as err:
        list(downloader.lines(batch.output_url))
    assert err.value.status == 500
    assert signed_downloads(emulator) == [500] * FAST.attempts


def test_results_not_ready_yet(sync_api, emulator, downloader):
    created = sync_api.create_batch(batch_lines(20), webhook_url=None)
    with pytest.raises(ResultDownloadError) as err:
        list(downloader.lines(f"{emulator.url}/v2/batches/{created.id}/result"))
    assert err.value.status == 404
    assert len([r for r in emulator.requests if r.path.endswith("/result")]) == 1


def test_unreachable_host_is_retried_then_reported():
    downloader = ResultDownloader(
        api_base_url="http://127.0.0.1:9", allowed_redirect_hosts=(), policy=FAST
    )
    with pytest.raises(ResultDownloadError, match="failed"):
        list(downloader.lines("http://127.0.0.1:9/v2/batches/b/result"))
    downloader.close()


# -- URL and redirect checks -------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://evilsync.so/v2/batches/b/result",
        "https://sync.so.evil.example/v2/batches/b/result",
        "https://169.254.169.254/latest/meta-data/",
        "https://api.sync.so@169.254.169.254/latest/meta-data/",
        "https://user:secret@api.sync.so/v2/batches/b/result",
        "http://api.sync.so/v2/batches/b/result",
        "ftp://api.sync.so/v2/batches/b/result",
        "/v2/batches/b/result",
        "",
        "https://[::1/",
    ],
)
def test_output_url_outside_the_allowed_hosts_is_refused_before_any_request(url):
    host = FakeResultHost([b""])
    downloader = host.downloader()
    with pytest.raises(ResultUrlRefused):
        downloader.lines(url)  # refused on the call, before iterating
    assert host.requests == []


@pytest.mark.parametrize(
    "location",
    [
        "https://169.254.169.254/latest/meta-data/iam/",
        "//metadata.google.internal/computeMetadata/v1/",
        "https://evilsync.so/result.jsonl",
        "https://internal.corp.example/result.jsonl",
        "http://results.s3.amazonaws.com/result.jsonl",  # a downgrade to plain http
        "https://key:secret@results.s3.amazonaws.com/result.jsonl",
    ],
)
def test_redirect_to_a_disallowed_target_is_refused(location):
    host = FakeResultHost([b"{}\n"], location=location)
    with pytest.raises(ResultUrlRefused):
        list(host.downloader().lines(OUTPUT_URL))
    assert [r.url.host for r in host.requests] == ["api.sync.so"]


@pytest.mark.parametrize(
    "location",
    [
        SIGNED_URL,
        "https://output.sync.so/batch_abc123_results.jsonl",
        "/v2/batches/batch_abc123/result.jsonl",  # relative: stays on the API host
    ],
)
def test_redirects_to_the_deployed_result_hosts_are_followed(location):
    body = [result_line("r1") + b"\n" + result_line("r2") + b"\n"]
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/v2/batches/batch_abc123/result":
            return httpx.Response(302, headers={"location": location})
        return httpx.Response(200, stream=ChunkStream(body))

    downloader = ResultDownloader(
        api_base_url=SYNC_BASE,
        allowed_redirect_hosts=DEPLOYED_HOSTS,
        policy=FAST,
        transport=httpx.MockTransport(handler),
    )
    assert [json.loads(line)["request_id"] for line in downloader.lines(OUTPUT_URL)] == [
        "r1",
        "r2",
    ]
    assert len(seen) == 2
    for request in seen:
        assert not {"x-api-key", "authorization"} & set(request.headers.keys())


def test_an_unreadable_location_is_a_download_error():
    host = FakeResultHost([b"{}\n"], location="http://[::1")
    with pytest.raises(ResultDownloadError):
        list(host.downloader().lines(OUTPUT_URL))
    assert {r.url.host for r in host.requests} == {"api.sync.so"}


def test_too_many_redirects():
    def loop(request: httpx.Request) -> httpx.Response:
        return httpx.Response(307, headers={"location": "/v2/batches/b/result"})

    downloader = ResultDownloader(
        api_base_url=SYNC_BASE, policy=FAST, transport=httpx.MockTransport(loop), max_redirects=2
    )
    with pytest.raises(ResultDownloadError, match="more than 2"):
        list(downloader.lines(OUTPUT_URL))


def test_a_redirect_without_location_is_a_download_error():
    downloader = ResultDownloader(
        api_base_url=SYNC_BASE,
        policy=FAST,
        transport=httpx.MockTransport(lambda request: httpx.Response(302)),
    )
    with pytest.raises(ResultDownloadError, match="Location"):
        list(downloader.lines(OUTPUT_URL))


@pytest.mark.parametrize(
    ("host", "pattern", "expected"),
    [
        ("api.sync.so", "*.sync.so", True),
        ("a.b.sync.so", "*.sync.so", True),
        ("API.Sync.SO.", "*.sync.so", True),
        ("evilsync.so", "*.sync.so", False),
        ("sync.so", "*.sync.so", False),
        ("sync.so.evil.example", "*.sync.so", False),
        ("api.sync.so.", "*.sync.so", True),
        ("bucket.s3.us-east-1.amazonaws.com", "*.amazonaws.com", True),
        ("amazonaws.com.evil.example", "*.amazonaws.com", False),
        ("storage.googleapis.com", "storage.googleapis.com", True),
        ("evil.storage.googleapis.com", "storage.googleapis.com", False),
        ("xstorage.googleapis.com", "storage.googleapis.com", False),
        ("localhost", "localhost", True),
        ("127.0.0.1", "127.0.0.1", True),
        ("127.0.0.10", "127.0.0.1", False),
    ],
)
def test_host_patterns(host, pattern, expected):
    assert host_matches(host, pattern) is expected


def test_by_default_only_the_api_host_is_allowed():
    assert DEFAULT_RESULT_HOSTS == ()


@pytest.mark.parametrize(
    ("location", "extra"),
    [
        # Any bucket of any account: no longer allowed by a blanket *.amazonaws.com.
        ("https://attacker-bucket.s3.us-east-1.amazonaws.com/r.jsonl", "results.example.net"),
        ("https://d111111abcdef8.cloudfront.net/r.jsonl", "*.example.net"),
        ("https://storage.googleapis.com/bucket/r.jsonl", ""),
        ("https://sync.so.evil.example/r.jsonl", ""),
    ],
)
def test_hosts_outside_the_deployments_list_are_refused(location, extra):
    hosts = tuple(h for h in (*DEPLOYED_HOSTS, extra) if h)
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(302, headers={"location": location})

    downloader = ResultDownloader(
        api_base_url=SYNC_BASE,
        allowed_redirect_hosts=hosts,
        policy=FAST,
        transport=httpx.MockTransport(handler),
    )
    with pytest.raises(ResultUrlRefused, match="ResultUrlHosts"):
        list(downloader.lines(OUTPUT_URL))
    assert [r.url.host for r in seen] == ["api.sync.so"]


def test_a_host_the_deployment_adds_is_followed():
    location = "https://outputs-bucket.s3.us-west-2.amazonaws.com/r.jsonl?X-Amz-Signature=s"

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "api.sync.so":
            return httpx.Response(302, headers={"location": location})
        return httpx.Response(200, content=result_line("r1") + b"\n")

    downloader = ResultDownloader(
        api_base_url=SYNC_BASE,
        allowed_redirect_hosts=(*DEPLOYED_HOSTS, "outputs-bucket.s3.us-west-2.amazonaws.com"),
        policy=FAST,
        transport=httpx.MockTransport(handler),
    )
    assert len(list(downloader.lines(OUTPUT_URL))) == 1


@pytest.mark.parametrize("pattern", ["*", "*.", "", "a*.sync.so", "*.*.so", "sync.so/x"])
def test_nonsense_host_patterns_are_rejected(pattern):
    with pytest.raises(ValueError, match="pattern"):
        ResultDownloader(api_base_url=SYNC_BASE, allowed_redirect_hosts=[pattern])


# -- streaming ---------------------------------------------------------------------------------


def test_a_cut_after_lines_were_yielded_raises_and_is_not_retried():
    host = FakeResultHost(
        [result_line("r1") + b"\n" + result_line("r2") + b"\n", result_line("r3") + b"\n"],
        broken_bodies=1,
        cut_after=1,
    )
    lines = host.downloader().lines(OUTPUT_URL)
    assert json.loads(next(lines))["request_id"] == "r1"
    assert json.loads(next(lines))["request_id"] == "r2"
    with pytest.raises(ResultDownloadError, match="mid-file") as err:
        next(lines)
    assert isinstance(err.value.__cause__, httpx.RemoteProtocolError)
    assert len(host.streams) == 1
    assert host.streams[0].closed


def test_a_cut_before_the_first_line_is_retried():
    host = FakeResultHost([b'{"request_id":', b'"r1"}\n'], broken_bodies=2, cut_after=1)
    assert list(host.downloader().lines(OUTPUT_URL)) == [b'{"request_id":"r1"}']
    assert len(host.streams) == 3


def test_a_timeout_is_retried():
    host = FakeResultHost([result_line("r1")], refuse_first=2)
    assert list(host.downloader().lines(OUTPUT_URL)) == [result_line("r1")]


def test_timeouts_give_up_after_the_shared_policy():
    host = FakeResultHost([result_line("r1")], refuse_first=10)
    with pytest.raises(ResultDownloadError, match="timed out") as err:
        list(host.downloader().lines(OUTPUT_URL))
    assert "X-Amz-Signature" not in str(err.value)
    assert len([r for r in host.requests if r.url.host != "api.sync.so"]) == FAST.attempts


def test_a_body_that_cannot_be_decoded_is_a_download_error():
    calls: list[httpx.Request] = []

    def garbled(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, headers={"content-encoding": "gzip"}, content=b"not gzip")

    downloader = ResultDownloader(
        api_base_url=SYNC_BASE, policy=FAST, transport=httpx.MockTransport(garbled)
    )
    with pytest.raises(ResultDownloadError, match="DecodingError"):
        list(downloader.lines(OUTPUT_URL))
    assert len(calls) == 1


def test_abandoning_the_lines_closes_the_response():
    host = FakeResultHost([result_line("r1") + b"\n", result_line("r2") + b"\n"])
    lines = host.downloader().lines(OUTPUT_URL)
    next(lines)
    lines.close()  # type: ignore[attr-defined]
    assert host.streams[0].closed


def test_crlf_blank_lines_and_a_last_line_without_newline_over_http():
    chunks = [b"\r\n", b'{"a":1}\r', b"\n\n  \n", b'{"b":', b'2}\r\n{"c":3}']
    host = FakeResultHost(chunks)
    assert list(host.downloader().lines(OUTPUT_URL)) == [b'{"a":1}', b'{"b":2}', b'{"c":3}']


def test_a_line_longer_than_the_limit_is_a_broken_file():
    megabyte = b"x" * (1024 * 1024)
    host = FakeResultHost([b"{}\n", *[megabyte] * 9, b"\n"])
    lines = host.downloader().lines(OUTPUT_URL)
    assert next(lines) == b"{}"
    with pytest.raises(ResultDownloadError, match="longer than"):
        next(lines)
    assert len(host.streams) == 1  # a broken file is not fetched again


def test_a_line_of_exactly_the_limit_is_accepted():
    exact = b"x" * MAX_LINE_BYTES
    assert list(split_lines([exact[:5], exact[5:], b"\r\n"])) == [exact]


def test_split_lines_limit_counts_a_single_huge_chunk():
    with pytest.raises(ResultDownloadError):
        list(split_lines([b"a" * 11 + b"\nb\n"], max_line=10))
    assert list(split_lines([b"a" * 10 + b"\r\nb"], max_line=10)) == [b"a" * 10, b"b"]


_line = st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"").replace(b"\r", b""))


@settings(max_examples=200, deadline=None)
@given(
    lines=st.lists(_line, max_size=20),
    crlf=st.booleans(),
    trailing_newline=st.booleans(),
    cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=10),
)
def test_split_lines_whatever_the_chunking(lines, crlf, trailing_newline, cuts):
    ending = b"\r\n" if crlf else b"\n"
    data = ending.join(lines) + (ending if trailing_newline and lines else b"")
    points = sorted({min(c, len(data)) for c in cuts} | {0, len(data)})
    chunks = [data[a:b] for a, b in itertools.pairwise(points)]
    expected = [line for line in lines if line.strip()]
    assert list(split_lines(chunks)) == expected
