"""The invariant checker itself: a sound state passes, and each broken state is caught."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

from syncdrop_local.emulator import signature_header_value
from tests.support.csv_files import campaign_rows, to_csv
from tests.support.invariants import (
    Delivery,
    RunState,
    SyncBatch,
    SyncGeneration,
    captured_logs,
    check_invariants,
    check_state,
    expected_row_numbers,
)
from tests.support.local_system import run_to_the_end

SECRET = "whsec_checker"
API_KEY = "sk-checker"
UPLOAD = (
    b"\xef\xbb\xbfrequest_id,video_url\r\na,https://v/1.mp4\r\n,\r\nb,https://v/2.mp4\r\nc,x\r\n"
)
HOOK = "http://front/sync/webhook?job={job}&chunk={chunk}"


def signed(body: bytes, secret: str = SECRET) -> str:
    return signature_header_value(secret, 1_700_000_000, body)


def sound_state() -> RunState:
    """One file of three rows (spreadsheet rows 2, 4 and 5), one batch, one email."""
    body = b'{"id":"b1","status":"COMPLETED"}'
    return RunState(
        uploads={"incoming/a.csv": UPLOAD},
        jobs={"j1": {"job_id": "j1", "status": "COMPLETED", "rows": 3, "key": "incoming/a.csv"}},
        chunks=[
            {
                "job_id": "j1",
                "number": 1,
                "status": "COMPLETED",
                "results_written": True,
                "batch_id": "b1",
            }
        ],
        rows={
            "j1": [
                {"job_id": "j1", "row_number": 2, "status": "COMPLETED", "generation_id": "g1"},
                {"job_id": "j1", "row_number": 4, "status": "FAILED", "error_message": "no face"},
                {"job_id": "j1", "row_number": 5, "status": "REJECTED", "error_message": "x"},
            ]
        },
        batches=[SyncBatch("b1", HOOK.format(job="j1", chunk=1), frozenset({"g1"}))],
        deliveries=[
            Delivery("b1", body, signed(body), 200),
            Delivery("b1", body, signed(body, "whsec_wrong"), 401),
            Delivery("b1", body, None, 401),
        ],
        generations=[],
        max_open_generations=0,
        generation_concurrency=3,
        email_job_ids=["j1"],
        max_open_batches=1,
        batch_concurrency=2,
        webhook_secret=SECRET,
        upload_versions={"incoming/a.csv": [UPLOAD]},
        secrets=(API_KEY, SECRET),
        logs='{"message": "results message handled", "job_id": "j1"}',
    )


def with_generations(state: RunState) -> RunState:
    """The same file's rows 2 and 4 as single generations (chunks 1 and 2), no batch."""
    state.chunks = [
        {"job_id": "j1", "number": n, "status": "COMPLETED", "results_written": True}
        for n in (1, 2)
    ]
    state.batches = []
    state.generations = [
        SyncGeneration(f"g{n}", HOOK.format(job="j1", chunk=n), f"syncdrop-j1-{n:06d}")
        for n in (1, 2)
    ]
    state.max_open_generations = 2
    return state


def test_single_generations_pass_once_each() -> None:
    assert check_state(with_generations(sound_state())).problems == []


def test_a_row_made_twice_as_a_generation_is_caught() -> None:
    state = with_generations(sound_state())
    state.generations.append(SyncGeneration("g9", HOOK.format(job="j1", chunk=2), "other-key"))
    report = check_state(state)
    assert report.duplicate_submissions == 1
    assert any("created twice" in p for p in report.problems)


def test_a_generation_without_a_key_and_a_reused_key_are_caught() -> None:
    state = with_generations(sound_state())
    state.generations[0] = SyncGeneration("g1", HOOK.format(job="j1", chunk=1), None)
    state.generations.append(SyncGeneration("g3", HOOK.format(job="j1", chunk=3), "k"))
    state.generations.append(SyncGeneration("g4", HOOK.format(job="j1", chunk=4), "k"))
    problems = check_state(state).problems
    assert any("without an Idempotency-Key" in p for p in problems)
    assert any("more than one generation" in p for p in problems)


def test_a_replaced_chunk_also_sent_as_a_batch_is_caught() -> None:
    state = with_generations(sound_state())
    state.chunks.append(
        {"job_id": "j1", "number": 7, "status": "REPLACED", "results_written": True}
    )
    state.batches = [SyncBatch("b7", HOOK.format(job="j1", chunk=7))]
    assert any("sent both ways" in p for p in check_state(state).problems)


def test_more_generations_open_than_allowed_is_caught() -> None:
    state = with_generations(sound_state())
    state.max_open_generations = 4
    assert any("4 generations open at once" in p for p in check_state(state).problems)


def test_a_sound_run_passes() -> None:
    report = check_state(sound_state())
    assert report.problems == []
    assert report.rows == 3
    assert report.rows_by_status == {"COMPLETED": 1, "FAILED": 1, "REJECTED": 1}
    assert report.unsigned_webhooks_refused == 2
    assert (report.emails, report.duplicate_emails, report.duplicate_submissions) == (1, 0, 0)


def test_timed_out_rows_are_terminal_when_they_say_why() -> None:
    state = sound_state()
    state.rows["j1"][1].update(status="TIMED_OUT", error_message="Sync had not finished it")
    assert check_state(state).problems == []


def rows(state: RunState) -> list[dict[str, Any]]:
    return state.rows["j1"]


BREAKAGES: dict[str, tuple[Callable[[RunState], Any], str]] = {
    # 1. rows
    "a row without a result": (lambda s: rows(s).pop(1), "rows [4] without a result"),
    "a row recorded twice": (lambda s: rows(s).append(dict(rows(s)[0])), "recorded twice"),
    "a row the file does not have": (
        lambda s: rows(s)[0].update(row_number=3),
        "rows [3] not in the file",
    ),
    "a row still pending": (lambda s: rows(s)[0].update(status="PENDING"), "row 2: PENDING"),
    "a failed row without a reason": (
        lambda s: rows(s)[1].pop("error_message"),
        "row 4: no reason given",
    ),
    "a timed-out row without a reason": (
        lambda s: rows(s)[1].update(status="TIMED_OUT", error_message=""),
        "row 4: no reason given",
    ),
    "a job not final": (lambda s: s.jobs["j1"].update(status="RUNNING"), "j1 ended RUNNING"),
    "a job counting other rows than the file": (
        lambda s: s.jobs["j1"].update(rows=2),
        "the file has 3 rows, the job 2",
    ),
    "a file without a job": (lambda s: s.jobs.clear(), "1 files but 0 jobs"),
    "an open chunk": (lambda s: s.chunks[0].update(status="SUBMITTED"), "chunk j1#1 SUBMITTED"),
    # 2. submissions
    "a batch without a webhook URL": (
        lambda s: s.batches.append(SyncBatch("b2", None)),
        "b2 at Sync names no job and chunk",
    ),
    "a chunk created twice": (
        lambda s: s.batches.append(SyncBatch("b2", HOOK.format(job="j1", chunk=1))),
        "chunks created twice at Sync: [('j1', '1')]",
    ),
    "a batch of no job": (
        lambda s: s.batches.append(SyncBatch("b2", HOOK.format(job="j9", chunk=1))),
        "belongs to no job",
    ),
    # 3. emails
    "two emails": (lambda s: s.email_job_ids.append("j1"), "j1: 2 emails"),
    "no email": (lambda s: s.email_job_ids.clear(), "j1: 0 emails"),
    "an email for no job": (lambda s: s.email_job_ids.append("j9"), "emails for no job"),
    # 4. the cap
    "more open batches than the cap": (
        lambda s: setattr(s, "max_open_batches", 3),
        "3 batches open at once; BatchConcurrency is 2",
    ),
    # 5. webhooks and secrets
    "a forged webhook accepted": (
        lambda s: s.deliveries.append(Delivery("b1", b"{}", signed(b"{}", "whsec_x"), 200)),
        "without a valid signature got 200",
    ),
    "an unsigned webhook answered 5xx": (
        lambda s: s.deliveries.append(Delivery("b1", b"{}", None, 500)),
        "without a valid signature got 500",
    ),
    "a chunk holding another job's batch": (
        lambda s: s.batches.__setitem__(0, SyncBatch("b1", HOOK.format(job="j9", chunk=1))),
        "holds b1, which belongs to ('j9', '1')",
    ),
    "a chunk holding a batch Sync never made": (
        lambda s: s.chunks[0].update(batch_id="b7"),
        "which Sync never created",
    ),
    "a row holding another job's video": (
        lambda s: (
            s.batches.append(SyncBatch("b2", HOOK.format(job="j2", chunk=1), frozenset({"g2"})))
            or rows(s)[0].update(generation_id="g2")
        ),
        "j1 row 2 holds a video of j2",
    ),
    "a secret in the logs": (
        lambda s: setattr(s, "logs", f'{{"headers": {{"x-api-key": "{API_KEY}"}}}}'),
        "a secret (sk-c…) was logged",
    ),
    "the webhook secret in the logs": (
        lambda s: setattr(s, "logs", f"verifying with {SECRET}"),
        "a secret (whse…) was logged",
    ),
    # 6. uploads
    "an upload modified": (
        lambda s: s.upload_versions.update({"incoming/a.csv": [b"changed"]}),
        "incoming/a.csv was modified",
    ),
    "an upload deleted": (
        lambda s: s.upload_versions.update({"incoming/a.csv": []}),
        "incoming/a.csv: 0 versions",
    ),
    "an upload deleted behind a delete marker": (
        lambda s: s.deleted_uploads.add("incoming/a.csv"),
        "incoming/a.csv was deleted",
    ),
    "an upload rewritten as a new version": (
        lambda s: s.upload_versions["incoming/a.csv"].append(UPLOAD),
        "incoming/a.csv: 2 versions",
    ),
}


@pytest.mark.parametrize("breakage", list(BREAKAGES))
def test_each_broken_state_is_caught(breakage: str) -> None:
    state = sound_state()
    breaking, expected = BREAKAGES[breakage]
    breaking(state)
    report = check_state(state)
    assert any(expected in problem for problem in report.problems), report.problems
    with pytest.raises(AssertionError, match="invariants broken"):
        report.assert_holds()


def test_the_figures_count_what_broke() -> None:
    state = sound_state()
    rows(state).pop(0)
    state.batches.append(SyncBatch("b2", HOOK.format(job="j1", chunk=1)))
    state.email_job_ids.append("j1")
    report = check_state(state)
    assert (report.rows_lost, report.duplicate_submissions, report.duplicate_emails) == (1, 1, 1)


def test_logs_are_only_checked_when_the_run_captured_them() -> None:
    state = sound_state()
    state.logs = None
    assert check_state(state).problems == []


def test_expected_row_numbers_follow_the_spreadsheet() -> None:
    assert expected_row_numbers("incoming/a.csv", UPLOAD) == [2, 4, 5]
    semicolons = b"\n\nrequest_id;video_url\na;https://v\n;\n\nb;https://w\n"
    assert expected_row_numbers("incoming/b.csv", semicolons) == [4, 7]
    assert expected_row_numbers("incoming/c.jsonl", b'{"a":1}\n\n{"b":2}\n') == [1, 3]


def test_captured_logs_hold_syncdrop_records_with_their_extra_fields() -> None:
    with captured_logs() as capture:
        logging.getLogger("syncdrop.somewhere").warning("calling Sync", extra={"key": API_KEY})
    state = sound_state()
    state.logs = capture.text
    assert "calling Sync" in capture.text
    assert any("was logged" in problem for problem in check_state(state).problems)


def test_a_breach_of_the_cap_reaches_the_checker(local_system: Any) -> None:
    # The stack claims up to 4 slots while the check holds it to 2: a wrong claim limit. Sync's
    # own cap is far higher, so the extra batches are created, not refused with a 429.
    system = local_system(batch_concurrency=4, parameters={"BatchMaxLines": "50"})
    assert system.emulator.settings.batch_concurrency > 4
    uploads = {"incoming/wide.csv": to_csv(campaign_rows(200))}
    system.drop("incoming/wide.csv", uploads["incoming/wide.csv"])
    run_to_the_end(system, files=1)
    report = check_invariants(system, uploads, batch_concurrency=2)
    assert report.max_open_batches == 4
    assert report.problems == ["4 batches open at once; BatchConcurrency is 2"]
    assert check_invariants(system, uploads, batch_concurrency=4).problems == []


def test_an_unsigned_webhook_answered_5xx_is_excused_only_by_a_killed_invocation() -> None:
    state = sound_state()
    body = b'{"id":"b1","status":"COMPLETED"}'
    state.deliveries.append(Delivery("b1", body, None, 500))
    assert any("without a valid signature got 500" in p for p in check_state(state).problems)
    state.webhook_invocations_killed = 1  # Lambda ended that invocation: 5xx, nothing changed
    assert check_state(state).problems == []
    state.deliveries.append(Delivery("b1", body, signed(body, "whsec_wrong"), 200))
    assert any("got 200" in p for p in check_state(state).problems)
