"""A finished job's report page, written beside its results CSV, with fakes: its video links,
the email's link to it, and the page written again when late outcomes rewrite the CSV."""

from __future__ import annotations

from datetime import timedelta

from syncdrop.domain.completion import handle_results_message
from syncdrop.domain.fan_out import FanOutOutcome, fan_out_chunk
from syncdrop.domain.reconcile import ReconcilePolicy, reconcile
from syncdrop.domain.reporting import LINK_LIFETIME, FinishOutcome
from syncdrop.messages import ResultsMessage
from syncdrop.sync_models import BatchStatus
from tests.support.report_pages import page_rows, video_links
from tests.unit.test_completion import JOB, T0, World, broken, done
from tests.unit.test_copy_outputs import copying_world, run_copies

PAGE = "results/c.report.html"
SECONDS = int(LINK_LIFETIME.total_seconds())
DEADLINE = timedelta(hours=48)
POLICY = ReconcilePolicy(
    batch_concurrency=3,
    webhook_base="https://h/sync/webhook",
    submitting_grace=timedelta(0),
    poll_after=timedelta(0),
)


def handle(world: World, message: ResultsMessage) -> FanOutOutcome | FinishOutcome:
    return handle_results_message(world.services, message, batch_concurrency=3, webhook_base="")


def finished(world: World) -> None:
    """The chunk's fan-out, its videos' copies, then the report they wake."""
    handle(world, ResultsMessage.for_chunk(JOB, 1, "batch_1"))
    run_copies(world, last_attempt=True)
    handle(world, world.queue.sent[-1])


def deadline_world() -> World:
    """Two chunks: one finished, one Sync has not finished when the deadline passes."""
    world = World(chunks=2)
    world.jobs.jobs[JOB].deadline = T0 + DEADLINE
    world.submit(1, "batch_1")
    world.finish_at_sync(
        "batch_1", BatchStatus.COMPLETED, [done("c1r1"), done("c1r2"), broken("c1r3")]
    )
    world.submit(2, "batch_2")
    assert fan_out_chunk(world.services, JOB, 1) is FanOutOutcome.WRITTEN
    return world


def test_the_page_plays_the_copies_and_the_email_links_it_before_the_csv():
    world = copying_world()
    handle_results_message(
        world.services,
        ResultsMessage.for_chunk(JOB, 1, "batch_1"),
        batch_concurrency=2,
        webhook_base="",
    )
    run_copies(world)
    handle_results_message(
        world.services, world.queue.sent[-1], batch_concurrency=2, webhook_base=""
    )
    (email,) = world.notifier.published
    page = world.objects.objects[PAGE].decode()
    rows = {row[3]: row for row in page_rows(page)}
    assert {rid: row[1] for rid, row in rows.items()} == {
        "c1r1": "COMPLETED",
        "c1r2": "COMPLETED",
        "c1r3": "FAILED",
    }
    # The copies, presigned for the report's lifetime; the failed row has nothing to play.
    links = video_links(page)
    assert links == {
        rows[rid][0]: f"https://bkt.s3.amazonaws.com/outputs/c/{rid}.mp4?X-Amz-Expires={SECONDS}"
        for rid in ("c1r1", "c1r2")
    }
    assert f"Video links work until {(T0 + LINK_LIFETIME):%Y-%m-%d %H:%M} UTC" in page
    page_link = f"https://bkt.s3.amazonaws.com/{PAGE}?X-Amz-Expires={SECONDS}&versionId=v1"
    lines = email.body.splitlines()
    at = lines.index(f"  {page_link}")
    assert lines[at - 1].startswith("See every row and play the videos in your browser")
    assert "works until" in lines[at - 1]
    assert at < next(i for i, line in enumerate(lines) if line.startswith("Download it here"))


def test_sync_links_play_when_there_is_no_copy():
    world = copying_world()
    world.lines.media.clear()  # every download refused: no copy, Sync's link kept
    handle_results_message(
        world.services,
        ResultsMessage.for_chunk(JOB, 1, "batch_1"),
        batch_concurrency=2,
        webhook_base="",
    )
    run_copies(world, last_attempt=True)
    handle_results_message(
        world.services, world.queue.sent[-1], batch_concurrency=2, webhook_base=""
    )
    page = world.objects.objects[PAGE].decode()
    assert sorted(video_links(page).values()) == ["https://cdn/c1r1.mp4", "https://cdn/c1r2.mp4"]
    reasons = {row[3]: row[2] for row in page_rows(page)}
    assert "could not be copied" in reasons["c1r1"]


def test_late_outcomes_rewrite_the_page_with_the_csv():
    world = deadline_world()
    world.now = T0 + DEADLINE + timedelta(minutes=1)
    reconcile(world.services, POLICY)
    assert handle(world, ResultsMessage.for_job(JOB)) is FinishOutcome.SENT
    first = world.objects.objects[PAGE].decode()
    assert sorted(row[1] for row in page_rows(first)).count("TIMED_OUT") == 3
    assert 'data-count="TIMED_OUT"' in first
    world.finish_at_sync("batch_2", BatchStatus.COMPLETED, [done(f"c2r{i}") for i in (1, 2, 3)])
    world.now += timedelta(hours=3)
    assert handle(world, ResultsMessage.for_chunk(JOB, 2, "batch_2")) is FanOutOutcome.WRITTEN
    # Written again with the CSV, each once more.
    assert len(world.objects.versions[PAGE]) == 2
    assert len(world.objects.versions["results/c.results.csv"]) == 2
    again = world.objects.objects[PAGE].decode()
    assert "TIMED_OUT" not in [row[1] for row in page_rows(again)]
    assert "https://cdn/c2r3.mp4" in video_links(again).values()
    assert len(world.notifier.published) == 1
