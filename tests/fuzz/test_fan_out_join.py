"""fan_out_chunk joins any result file with the row manifest: one item per row, success if said."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from syncdrop.adapters.dynamo_results import row_key
from syncdrop.domain.fan_out import BATCH_FAILED, NO_RESULT, FanOutOutcome, fan_out_chunk
from syncdrop.domain.services import Services
from syncdrop.jobs import Chunk, ChunkStatus, Job, JobStatus, UploadRef, chunk_keys
from syncdrop.report.result_lines import NO_OUTPUT_URL
from syncdrop.sync_models import Batch, BatchStatus
from tests.fakes.stores import (
    FakeJobStore,
    FakeNotifier,
    FakeObjectStore,
    FakeResultLines,
    FakeResultsQueue,
    FakeResultStore,
    FakeSync,
)

T0 = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
JOB = "job-fuzz"
BATCH_ID = "batch_1"
RESULT_URL = f"https://api.sync.so/v2/batches/{BATCH_ID}/result"
URL_KEYS = ("outputUrl", "output_url", "outputMediaUrl")
# Request ids of rows in other chunks of the same job, and ids no row ever had.
OTHER_CHUNK_IDS = ("c2-row-1", "c2-row-2", "row-999")
UNKNOWN_IDS = ("ghost", "ROW-2", "")


@dataclass(frozen=True)
class LineSpec:
    """One line Sync might write for a request id, and what it says."""

    request_id: str
    status: object  # what the line says, wherever it says it
    status_in_response: bool
    url_key: str
    url: object
    error: object

    def says_completed_with_url(self) -> bool:
        return (
            isinstance(self.status, str)
            and self.status.strip().upper() == "COMPLETED"
            and isinstance(self.url, str)
            and bool(self.url.strip())
        )

    def encode(self) -> bytes:
        response: dict[str, Any] = {"id": f"gen-{self.request_id}", self.url_key: self.url}
        line: dict[str, Any] = {"request_id": self.request_id, "error": self.error}
        if self.status_in_response:
            response["status"] = self.status
        else:
            line["status"] = self.status
        line["response"] = response
        return json.dumps(line).encode()


# Lines no row can be matched by: not text, not JSON, not an object, no usable request id.
GARBAGE = [
    b"",
    b"   ",
    b"\xff\xfe{not utf-8",
    b"{",
    b"null",
    b"[1, 2]",
    b'"row-2"',
    b'{"request_id": null, "status": "COMPLETED"}',
    b'{"request_id": ["row-2"], "status": "COMPLETED", "response": {"outputUrl": "https://x"}}',
    b'{"request_id": "   ", "status": "COMPLETED"}',
    b'{"request_id": true, "status": "COMPLETED"}',
    b"[" * 5000 + b"]" * 5000,
]

statuses = st.sampled_from(
    ["COMPLETED", "completed", " COMPLETED ", "FAILED", "REJECTED", "CANCELED", "PENDING", "", "OK"]
) | st.sampled_from([None, 7, True, ["COMPLETED"], {"s": "COMPLETED"}])
urls = st.sampled_from(["", "   ", None, 5, ["https://cdn.example.com/x.mp4"]]) | st.builds(
    "https://cdn.example.com/{}.mp4".format, st.uuids()
)
errors = st.sampled_from(
    [None, "", "boom", {"code": "NO_FACE", "message": "No face"}, {"message": ""}, {"code": 3}, 4]
)


@st.composite
def jobs(draw: st.DrawFn) -> tuple[list[tuple[int, str]], list[bytes | LineSpec], BatchStatus]:
    ids = draw(
        st.lists(
            st.from_regex(r"[a-z][A-Za-z0-9._-]{0,11}", fullmatch=True),
            min_size=1,
            max_size=30,
            unique=True,
        )
    )
    ids = [i for i in ids if i not in OTHER_CHUNK_IDS + UNKNOWN_IDS] or ["only-row"]
    numbers = sorted(draw(st.sets(st.integers(2, 10_000), min_size=len(ids), max_size=len(ids))))
    manifest = list(zip(numbers, ids, strict=True))
    any_id = st.sampled_from(ids) | st.sampled_from(OTHER_CHUNK_IDS + UNKNOWN_IDS)
    spec = st.builds(
        LineSpec,
        request_id=any_id,
        status=statuses,
        status_in_response=st.booleans(),
        url_key=st.sampled_from(URL_KEYS),
        url=urls,
        error=errors,
    )
    lines = draw(st.lists(spec | st.sampled_from(GARBAGE), max_size=60))
    status = draw(st.sampled_from([BatchStatus.COMPLETED, BatchStatus.FAILED]))
    return manifest, lines, status


def world(
    manifest: list[tuple[int, str]], lines: list[bytes], status: BatchStatus
) -> tuple[Services, FakeJobStore, FakeResultStore]:
    """A job with one SUBMITTED chunk of these rows, whose batch Sync finished with these lines."""
    store, results, objects = FakeJobStore(), FakeResultStore(), FakeObjectStore()
    sync, downloads = FakeSync(), FakeResultLines()
    services = Services(
        jobs=store,
        results=results,
        objects=objects,
        sync=sync,
        clock=lambda: T0,
        results_queue=FakeResultsQueue(),
        notifier=FakeNotifier(),
        result_lines=downloads,
    )
    upload = UploadRef("bkt", "incoming/fuzz.csv", "v1", size=100)
    store.create_job(
        Job(JOB, upload, JobStatus.RUNNING, T0, rows=len(manifest), valid=len(manifest))
    )
    input_key, manifest_key = chunk_keys(JOB, 1)
    objects.objects[manifest_key] = b"\n".join(
        json.dumps({"row": n, "request_id": rid, "columns": {"name": f"N{n}"}}).encode()
        for n, rid in manifest
    )
    objects.objects[input_key] = b"{}\n"
    store.put_chunk(
        Chunk(JOB, 1, ChunkStatus.QUEUED, len(manifest), input_key, manifest_key, updated_at=T0)
    )
    chunk = store.get_chunk(JOB, 1)
    assert chunk is not None
    store.claim_for_submission(chunk, limit=10, now=T0)
    store.mark_submitted(chunk, BATCH_ID, now=T0)
    sync.batches[BATCH_ID] = Batch(id=BATCH_ID, status=status, outputUrl=RESULT_URL)
    downloads.files[RESULT_URL] = lines
    return services, store, results


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(job=jobs())
@example(
    job=(
        [(2, "a"), (3, "b")],
        [LineSpec("a", "COMPLETED", False, "outputUrl", 5, None)],
        BatchStatus.COMPLETED,
    )
)
def test_every_row_gets_one_item_and_success_only_from_its_own_completed_line(
    job: tuple[list[tuple[int, str]], list[bytes | LineSpec], BatchStatus],
) -> None:
    manifest, lines, batch_status = job
    services, store, results = world(
        manifest,
        [line.encode() if isinstance(line, LineSpec) else line for line in lines],
        batch_status,
    )

    assert fan_out_chunk(services, JOB, 1) is FanOutOutcome.WRITTEN

    items = {key: item for (job_id, key), item in results.items.items() if job_id == JOB}
    assert sorted(items) == sorted(row_key(n) for n, _ in manifest)  # one per row, no others
    for number, request_id in manifest:
        item = items[row_key(number)]
        assert item["row_number"] == number
        assert item["request_id"] == request_id
        assert json.loads(str(item["columns"])) == {"name": f"N{number}"}
        said = [
            line for line in lines if isinstance(line, LineSpec) and line.request_id == request_id
        ]
        first = said[0] if said else None  # Sync writes one line per request; the first counts
        if first is not None and first.says_completed_with_url():
            assert item["status"] == "COMPLETED"
            assert isinstance(first.url, str)
            assert item["output_url"] == first.url.strip()
            assert "error_message" not in item
        else:
            assert item["status"] == "FAILED"
            assert isinstance(item.get("error_message"), str)
            assert str(item["error_message"]).strip()
        if first is None:
            missing = BATCH_FAILED if batch_status is BatchStatus.FAILED else NO_RESULT
            assert item["error_message"] == missing
    chunk = store.chunks[(JOB, 1)]
    expected_status = (
        ChunkStatus.FAILED if batch_status is BatchStatus.FAILED else ChunkStatus.COMPLETED
    )
    assert (chunk.status, chunk.results_written) == (expected_status, True)
    assert store.holders == set()


@pytest.mark.parametrize(
    "url",
    [5, 0, 2.5, True, ["https://cdn.example.com/x.mp4"], {"href": "https://cdn.example.com/x.mp4"}],
)
def test_a_completed_line_whose_output_url_is_not_text_fails_its_row(url: object) -> None:
    line = LineSpec("a", "COMPLETED", False, "outputUrl", url, None)
    services, _, results = world([(2, "a")], [line.encode()], BatchStatus.COMPLETED)

    assert fan_out_chunk(services, JOB, 1) is FanOutOutcome.WRITTEN

    item = results.items[(JOB, row_key(2))]
    assert item["status"] == "FAILED"
    assert item["error_message"] == NO_OUTPUT_URL
    assert "output_url" not in item


def test_a_text_output_url_under_another_key_wins_over_a_number() -> None:
    line = json.dumps(
        {
            "request_id": "a",
            "status": "COMPLETED",
            "response": {"outputUrl": 7, "output_url": " https://cdn.example.com/a.mp4 "},
        }
    )
    services, _, results = world([(2, "a")], [line.encode()], BatchStatus.COMPLETED)

    fan_out_chunk(services, JOB, 1)

    item = results.items[(JOB, row_key(2))]
    assert (item["status"], item["output_url"]) == ("COMPLETED", "https://cdn.example.com/a.mp4")
