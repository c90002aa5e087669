"""Single generations end to end on the local stack: a small file, a plan without batches,
a redelivered S3 event and lost create answers, each row at Sync exactly once."""

from __future__ import annotations

from collections import Counter

from syncdrop_local.runtime.sqs_source import DeliveryFaults
from tests.support.csv_files import campaign_rows, to_csv
from tests.support.local_system import LocalSystem

# Turns of the request pace every 60 / 6000 s (+ margin): a test need not wait a minute.
FAST_PACE = {"GenerateRequestsPerMinute": "6000"}


def intake_source(system: LocalSystem):
    queue = system.runtime.stack.ref("IntakeQueue")
    (source,) = [s for s in system.runtime.sqs_sources if s.queue_url == queue]
    return source


def run_generations(system: LocalSystem, job_id: str, rounds: int) -> dict:
    """Each round finishes what Sync holds open and lets the stack move (fan-out submits the
    next rows); the reconciler runs as its schedule would."""
    for _ in range(rounds):
        system.finish_batches()
        system.settle()
        system.runtime.run_schedules()
        system.settle()
        snap = system.snapshot(job_id)
        if snap["notified"]:
            return snap
    raise AssertionError(f"job {job_id} not finished after {rounds} rounds: {snap['status']}")


def test_seven_rows_become_seven_generations_despite_a_doubled_event_and_lost_answers(
    local_system,
):
    system = local_system(parameters=FAST_PACE)
    intake_source(system).faults = DeliveryFaults(duplicate_rate=1.0)
    system.emulator.faults.configure(generate_lose_first_answer=True)
    system.drop("incoming/seven.csv", to_csv(campaign_rows(7)))
    system.settle()
    (job,) = system.jobs()
    snap = run_generations(system, job["job_id"], rounds=10)

    assert snap["status"] == "COMPLETED"
    assert snap["route"] == "generate"
    assert Counter(c["kind"] for c in snap["chunks"]) == {"GENERATION": 7}
    results = system.results()
    assert [r["status"] for r in results] == ["COMPLETED"] * 7
    assert len({r["generation_id"] for r in results}) == 7
    # Sync saw every row's key at least twice (the first answers were lost) and made one each.
    counts = system.emulator.generate_counts()
    assert counts.created == 7
    assert counts.distinct_idempotency_keys == 7
    assert counts.received >= 14
    per_row = system.emulator.generations_per_target()
    assert sorted(per_row.values()) == [1] * 7
    assert {int(chunk) for _job, chunk in per_row} == set(range(1, 8))
    assert system.emulator.create_counts.total == 0  # no batch was asked for
    emails = system.runtime.collect_emails()
    assert len(emails) == 1
    assert "fewer than the 20 a Sync batch needs" in emails[0].body
    assert emails[0].subject.endswith("7 done")


def test_a_plan_without_batches_finishes_by_generate_under_its_concurrency(local_system):
    system = local_system(
        parameters={**FAST_PACE, "GenerationConcurrency": "3"},
        plan="creator",
    )
    system.drop("incoming/big.csv", to_csv(campaign_rows(45, fail={9})))
    system.settle()
    (job,) = system.jobs()
    snap = run_generations(system, job["job_id"], rounds=30)

    assert snap["status"] == "COMPLETED"
    assert snap["route"] == "generate"
    assert "HTTP 402" in snap["route_note"]
    kinds = Counter((c["kind"], c["status"]) for c in snap["chunks"])
    assert kinds[("BATCH", "REPLACED")] == 1
    assert kinds[("GENERATION", "COMPLETED")] == 45
    assert system.emulator.max_generations_open() <= 3
    statuses = Counter(r["status"] for r in system.results())
    assert statuses == {"COMPLETED": 44, "FAILED": 1}
    (email,) = system.runtime.collect_emails()
    assert "How the rows were sent:" in email.body
    assert "Scale or Enterprise" in email.body
    # The next file goes as generations at once: no second 402.
    refused = system.emulator.create_counts.total
    system.drop("incoming/next.csv", to_csv(campaign_rows(25)))
    system.settle()
    assert system.emulator.create_counts.total == refused
