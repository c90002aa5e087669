"""The request id index answers exactly like a dict, whatever the hash and however many ids."""

from __future__ import annotations

import random

import pytest

from syncdrop.intake.request_ids import RequestIdIndex


def claims_match_a_dict(ids: list[str], index: RequestIdIndex) -> None:
    first_rows: dict[str, int] = {}
    try:
        for row, request_id in enumerate(ids, start=2):
            assert index.claim(request_id, row) == first_rows.setdefault(request_id, row)
    finally:
        index.close()


def test_a_new_id_is_taken_and_a_repeat_names_the_first_row() -> None:
    index = RequestIdIndex()
    assert index.claim("clip-1", 2) == 2
    assert index.claim("clip-2", 3) == 3
    assert index.claim("clip-1", 4) == 2
    assert index.claim("clip-1", 9) == 2
    index.close()


@pytest.mark.parametrize(
    "hash_of",
    [hash, lambda _: 0, len, lambda text: sum(map(ord, text))],
    ids=["python", "constant", "length", "weak"],
)
def test_claims_equal_a_dict_even_when_every_fingerprint_collides(hash_of) -> None:
    rng = random.Random(5)
    ids = [f"id-{rng.randrange(1_500)}" for _ in range(3_000)]
    claims_match_a_dict(ids, RequestIdIndex(hash_of))


def test_ids_written_to_disk_are_still_found_exactly() -> None:
    """Tens of thousands of ids go to the temporary file; duplicates of early ones, of ids on
    disk and of ids still in memory all name their first row."""
    rng = random.Random(11)
    fresh = [f"clip-{n}" for n in range(40_000)]
    repeats = [rng.choice(fresh[: n + 1]) for n in range(0, 40_000, 7)]
    ids = fresh[:20_000] + repeats + fresh[20_000:] + repeats
    claims_match_a_dict(ids, RequestIdIndex())


def test_on_disk_lookups_with_colliding_fingerprints() -> None:
    """Every id lands in one bucket with one fingerprint and one partition: each claim is
    decided by the exact ids on disk and in memory."""
    ids = [f"r{n}" for n in range(700)] + [f"r{n}" for n in range(0, 700, 3)]
    claims_match_a_dict(ids, RequestIdIndex(lambda _: 12345))


def test_a_file_that_repeats_one_id_on_every_row() -> None:
    claims_match_a_dict(["same"] * 5_000, RequestIdIndex())
