"""Intake decides who is told and keeps it on the job; the one email carries it to SNS."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from syncdrop.domain.intake import IntakeLimits, accept_upload
from syncdrop.domain.reporting import finish_job
from syncdrop.domain.services import Services
from syncdrop.intake import IntakeRules
from syncdrop.jobs import JobStatus, UploadRef
from syncdrop.recipients import parse_prefix_rules
from tests.fakes.stores import (
    FakeJobStore,
    FakeNotifier,
    FakeObjectStore,
    FakeResultLines,
    FakeResultsQueue,
    FakeResultStore,
    FakeSync,
)
from tests.support.csv_files import campaign_rows, to_csv

LIMITS = IntakeLimits(
    rules=IntakeRules(),
    max_upload_bytes=1_000_000,
    min_lines=20,
    max_lines=500,
    max_bytes=5 << 20,
    notify_rules=parse_prefix_rules("incoming/team-a/=lead@a.example"),
)


class World:
    def __init__(self, key: str, body: bytes, metadata: dict[str, str] | None = None) -> None:
        self.objects = FakeObjectStore(uploads={("bkt", key): body})
        if metadata is not None:
            self.objects.metadata[("bkt", key)] = metadata
        self.jobs = FakeJobStore()
        self.notifier = FakeNotifier()
        self.services = Services(
            jobs=self.jobs,
            results=FakeResultStore(),
            objects=self.objects,
            sync=FakeSync(),
            clock=lambda: datetime(2026, 12, 1, tzinfo=UTC),
            results_queue=FakeResultsQueue(),
            notifier=self.notifier,
            result_lines=FakeResultLines(),
        )
        self.upload = UploadRef("bkt", key, "v1", size=len(body))


def test_the_metadata_names_who_is_told_and_the_job_keeps_it() -> None:
    world = World(
        "incoming/team-a/x.csv",
        to_csv(campaign_rows(3)),
        {"notify": "Me@X.example,other@x.example"},
    )
    outcome = accept_upload(world.services, world.upload, LIMITS)
    assert outcome.job.status is JobStatus.RUNNING
    stored = world.jobs.get_job(outcome.job.job_id)
    assert stored is not None
    assert (stored.notify, stored.notify_note) == (["me@x.example", "other@x.example"], "")


def test_without_metadata_the_prefix_rule_decides() -> None:
    world = World("incoming/team-a/x.csv", to_csv(campaign_rows(3)))
    outcome = accept_upload(world.services, world.upload, LIMITS)
    stored = world.jobs.get_job(outcome.job.job_id)
    assert stored is not None
    assert stored.notify == ["lead@a.example"]


def test_a_file_refused_for_its_size_still_goes_to_the_person_it_names() -> None:
    world = World("incoming/big.csv", b"x" * 2_000_000, {"notify": "me@x.example"})
    outcome = accept_upload(world.services, world.upload, LIMITS)
    assert outcome.job.status is JobStatus.FAILED
    stored = world.jobs.get_job(outcome.job.job_id)
    assert stored is not None
    assert stored.notify == ["me@x.example"]
    finish_job(world.services, outcome.job.job_id)
    (email,) = world.notifier.published
    assert json.loads(email.attributes["notify"]) == ["me@x.example"]


def test_the_email_names_its_people_and_the_key_and_says_which_address_was_wrong() -> None:
    world = World("incoming/x.csv", b"just text, no header\n", {"notify": "me@x.example, bob"})
    outcome = accept_upload(world.services, world.upload, LIMITS)
    assert outcome.job.status is JobStatus.FAILED  # a refused file's email is the quickest
    finish_job(world.services, outcome.job.job_id)
    (email,) = world.notifier.published
    assert json.loads(email.attributes["notify"]) == ["me@x.example"]
    assert email.attributes["upload_key"] == "incoming/x.csv"
    assert "Who was told:" in email.body
    assert "'bob', which is not an email address" in email.body


def test_a_file_naming_nobody_has_no_notify_attribute() -> None:
    world = World("incoming/x.csv", b"just text, no header\n")
    outcome = accept_upload(world.services, world.upload, LIMITS)
    finish_job(world.services, outcome.job.job_id)
    (email,) = world.notifier.published
    assert "notify" not in email.attributes  # {"notify": [{"exists": false}]} matches it
    assert "Who was told:" not in email.body
