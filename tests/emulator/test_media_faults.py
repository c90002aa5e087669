"""Output-video and whole-result-file faults, seen by clients fetching over HTTP."""

from __future__ import annotations

import json

import httpx
import pytest

from syncdrop_local.emulator import SyncEmulator, tiny_mp4

from .helpers import create_batch, running

VIDEO = tiny_mp4()
CLIENT = httpx.Client(timeout=10)  # one TLS context for every fetch; cut connections are dropped


def video_urls(emu: SyncEmulator, http: httpx.Client, count: int = 20) -> dict[str, str]:
    """A finished batch's output video URLs by request id."""
    batch_id = create_batch(http, count)
    emu.clock.advance(1000)
    return {
        line["request_id"]: line["response"]["outputUrl"] for line in emu.result_lines(batch_id)
    }


def fetch(url: str, client: httpx.Client = CLIENT) -> tuple[int, bytes, str | None]:
    """Status, the body bytes that arrived, and the transport error that ended the body."""
    received = b""
    with client.stream("GET", url) as response:
        try:
            for chunk in response.iter_raw():
                received += chunk
        except httpx.TransportError as exc:
            return response.status_code, received, type(exc).__name__
        return response.status_code, received, None


@pytest.mark.parametrize(
    ("status", "code"), [(403, "AccessDenied"), (404, "NoSuchKey"), (500, "InternalError")]
)
def test_chosen_rows_are_refused_on_every_fetch(status: int, code: str) -> None:
    with running() as (emu, http):
        emu.faults.configure(media_refused_rows="request-3,request-7", media_refused_status=status)
        urls = video_urls(emu, http)
        for request_id, url in urls.items():
            for _ in range(2):
                answer = CLIENT.get(url)
                if request_id in ("request-3", "request-7"):
                    assert answer.status_code == status
                    assert answer.headers["content-type"] == "application/xml"
                    assert f"<Code>{code}</Code>" in answer.text
                else:
                    assert answer.status_code == 200
                    assert answer.content == VIDEO
        assert emu.faults.injected == {"media_refused": 4}


def test_a_reset_row_sends_part_of_the_video_then_resets_the_connection() -> None:
    with running() as (emu, http):
        emu.faults.media_reset_rows = frozenset({"request-2"})
        urls = video_urls(emu, http)
        for _ in range(2):
            status, received, error = fetch(urls["request-2"])
            assert (status, error) == (200, "ReadError")  # ECONNRESET mid-body
            assert 0 < len(received) < len(VIDEO)
            assert VIDEO.startswith(received)
        assert fetch(urls["request-1"]) == (200, VIDEO, None)
        assert emu.faults.injected == {"media_reset": 2}
        assert [r.status for r in emu.requests if r.path.startswith("/media/")] == [200] * 3


def test_a_truncated_row_announces_the_whole_length_and_ends_early() -> None:
    with running() as (emu, http):
        emu.faults.configure(media_truncated_rows={"request-5"})
        urls = video_urls(emu, http)
        with httpx.Client() as client, client.stream("GET", urls["request-5"]) as response:
            assert response.headers["content-length"] == str(len(VIDEO))
        status, received, error = fetch(urls["request-5"])
        assert (status, error) == (200, "RemoteProtocolError")  # fewer bytes than announced
        assert received == VIDEO[: len(VIDEO) // 2]
        assert emu.faults.injected == {"media_truncated": 2}


def outcomes(seed: int, **knobs: object) -> dict[str, str]:
    """What fetching each row's video twice gives, over three batches."""
    found: dict[str, str] = {}
    with running(seed) as (emu, http):
        emu.faults.configure(**knobs)
        for batch in range(3):
            for request_id, url in video_urls(emu, http).items():
                results = set()
                for _ in range(2):
                    status, received, error = fetch(url)
                    results.add(error or ("ok" if received == VIDEO else str(status)))
                found[f"{batch}:{request_id}"] = "/".join(sorted(results))
        counts = emu.faults.counts()
        picked = [kind for kind in found.values() if kind != "ok"]
        assert sum(counts[f"media_{k}"] for k in ("refused", "reset", "truncated")) == 2 * len(
            picked
        )
    return found


def test_rates_pick_a_seeded_share_of_rows_for_every_fetch() -> None:
    knobs = {"media_refused_rate": 0.1, "media_reset_rate": 0.1, "media_truncated_rate": 0.1}
    first = outcomes(5, **knobs)
    assert first == outcomes(5, **knobs)  # the same rows, whatever the timing
    assert set(first.values()) == {"ok", "403", "ReadError", "RemoteProtocolError"}
    assert 6 <= sum(1 for kind in first.values() if kind != "ok") <= 36  # ~30 % of 60 rows
    assert set(outcomes(5).values()) == {"ok"}


def test_media_fault_fetches_limits_a_row_to_its_first_fetches() -> None:
    with running() as (emu, http):
        emu.faults.configure(media_refused_rows={"request-1"}, media_fault_fetches=2)
        url = video_urls(emu, http)["request-1"]
        assert [CLIENT.get(url).status_code for _ in range(4)] == [403, 403, 200, 200]
        assert emu.faults.injected == {"media_refused": 2}
        emu.faults.clear()  # forgets the fetches; the row set is cleared too
        assert CLIENT.get(url).status_code == 200


def parsed_lines(body: str) -> list[dict[str, object]]:
    good = []
    for row in body.splitlines():
        try:
            good.append(json.loads(row))
        except ValueError:
            continue
    return good


def test_an_invalid_result_file_is_malformed_on_every_fetch() -> None:
    with running() as (emu, http):
        emu.faults.invalid_result_files = True
        batch_id = create_batch(http)
        emu.clock.advance(1000)
        output_url = http.get(f"/v2/batch/{batch_id}").json()["outputUrl"]
        for _ in range(3):
            body = httpx.get(output_url, follow_redirects=True).text
            assert len(body.splitlines()) == 20
            assert parsed_lines(body) == []
        assert set(emu.served_result_faults(batch_id).values()) == {"malformed"}
        assert len(emu.served_result_faults(batch_id)) == 20
        assert emu.faults.injected == {"invalid_result_file": 1}  # once per batch
        assert len(emu.result_lines(batch_id)) == 20  # the true file is intact


def test_invalid_result_file_rate_picks_whole_batches_by_seed() -> None:
    def invalid_batches(seed: int) -> list[bool]:
        with running(seed) as (emu, http):
            emu.faults.invalid_result_file_rate = 0.3
            ids = [create_batch(http) for _ in range(12)]
            emu.clock.advance(1000)
            found = []
            for batch_id in ids:
                url = http.get(f"/v2/batch/{batch_id}").json()["outputUrl"]
                good = parsed_lines(httpx.get(url, follow_redirects=True).text)
                assert len(good) in (0, 20)
                found.append(not good)
            assert emu.faults.counts()["invalid_result_file"] == sum(found)
            return found

    first = invalid_batches(3)
    assert first == invalid_batches(3)
    assert 0 < sum(first) < 12
