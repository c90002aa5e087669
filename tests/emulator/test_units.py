"""Unit and property tests of the emulator's building blocks (no server)."""

from __future__ import annotations

import json
import struct
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syncdrop_local.emulator import Clock, Limits, line_outcome, tiny_mp4
from syncdrop_local.emulator.clock import isoformat, parse_iso8601
from syncdrop_local.emulator.media import iter_boxes
from syncdrop_local.emulator.multipart import parse_multipart
from syncdrop_local.emulator.outcomes import batch_fails
from syncdrop_local.emulator.validation import (
    BatchInputError,
    parse_jsonl,
    parse_rows,
    serialise_rows,
)

from .helpers import jsonl, line, lines


@settings(max_examples=60, deadline=None)
@given(
    data=st.binary(max_size=2000),
    webhook=st.text(
        alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=40
    ),
)
def test_multipart_parser_keeps_file_bytes_exactly(data: bytes, webhook: str) -> None:
    request = httpx.Request(
        "POST",
        "http://127.0.0.1/v2/batch",
        data={"webhook_url": webhook, "dry_run": "true"},
        files={"input": ("in.jsonl", data, "application/jsonl")},
    )
    parts = {
        part.name: part for part in parse_multipart(request.read(), request.headers["content-type"])
    }
    assert parts["input"].data == data
    assert parts["input"].filename == "in.jsonl"
    assert parts["input"].content_type == "application/jsonl"
    assert parts["webhook_url"].text() == webhook
    assert parts["dry_run"].text() == "true"


@settings(max_examples=30, deadline=None)
@given(count=st.integers(min_value=20, max_value=60), blank_every=st.integers(2, 7))
def test_valid_files_are_accepted_with_their_line_numbers(count: int, blank_every: int) -> None:
    rows: list[bytes] = []
    expected: list[int] = []
    for index, record in enumerate(lines(count)):
        if index % blank_every == 0:
            rows.append(b"")
        rows.append(json.dumps(record).encode())
        expected.append(len(rows))
    parsed = parse_jsonl(b"\n".join(rows), Limits())
    assert [item.line_number for item in parsed] == expected
    assert [item.request_id for item in parsed] == [f"request-{i}" for i in range(1, count + 1)]
    assert [item.record for item in parse_rows(lines(count), Limits())] == lines(count)


def test_rows_size_is_compact_jsonl() -> None:
    rows: list[Any] = [{"a": "é", "b": [1, 2]}]
    assert serialise_rows(rows) == '{"a":"é","b":[1,2]}\n'.encode()


def test_limits_are_configurable() -> None:
    small = Limits(min_lines=1, max_lines=2, max_bytes=10_000)
    assert len(parse_jsonl(jsonl(lines(1)), small)) == 1
    with pytest.raises(BatchInputError, match="at most 2"):
        parse_jsonl(jsonl(lines(3)), small)


def test_outcome_rule() -> None:
    ok = line(1)
    assert line_outcome(ok, seed=0, batch_ordinal=1, failure_rate=0).status == "COMPLETED"
    failing = line(2, video="https://x/v.mp4?sync-fail=INPUT_TOO_LONG")
    outcome = line_outcome(failing, seed=0, batch_ordinal=1, failure_rate=0)
    assert (outcome.status, outcome.error_code) == ("FAILED", "INPUT_TOO_LONG")
    assert outcome.error_message
    custom = line_outcome(
        line(3, audio="https://x/sync-fail=WEIRD_CODE/a.wav"),
        seed=0,
        batch_ordinal=1,
        failure_rate=0,
    )
    assert custom.error_code == "WEIRD_CODE"
    assert "WEIRD_CODE" in (custom.error_message or "")
    assert (
        line_outcome(ok, seed=0, batch_ordinal=1, failure_rate=1.0).error_code
        == "GENERATION_FAILED"
    )
    assert batch_fails([ok, line(4, video="https://x/sync-batch-fail")])
    assert not batch_fails([ok, failing])


def test_mp4_is_a_well_formed_container() -> None:
    data = tiny_mp4()
    assert len(data) < 8192
    boxes = dict(iter_boxes(data))
    assert boxes[b"ftyp"][:4] == b"isom"
    moov = boxes[b"moov"]
    children = dict(iter_boxes(moov))
    assert set(children) == {b"mvhd", b"trak"}
    timescale, duration = struct.unpack_from(">II", children[b"mvhd"], 12)
    assert duration / timescale == pytest.approx(1.0)
    trak = dict(iter_boxes(children[b"trak"]))
    mdia = dict(iter_boxes(trak[b"mdia"]))
    assert mdia[b"hdlr"][8:12] == b"vide"
    stbl = dict(iter_boxes(dict(iter_boxes(mdia[b"minf"]))[b"stbl"]))
    (chunk_offset,) = struct.unpack_from(">I", stbl[b"stco"], 8)
    (sample_size,) = struct.unpack_from(">I", stbl[b"stsz"], 12)
    assert data[chunk_offset - 4 : chunk_offset] == b"mdat"
    assert chunk_offset + sample_size == len(data)


def test_clock_scale_freeze_and_advance() -> None:
    clock = Clock(time_scale=0, start=1_700_000_000)
    assert clock.now() == 1_700_000_000
    clock.advance(30)
    assert clock.now() == 1_700_000_030
    with pytest.raises(ValueError, match="forward"):
        clock.advance(-1)
    clock.time_scale = 1000
    assert clock.now() >= 1_700_000_030
    assert clock.now_datetime().tzinfo is not None


def test_iso_helpers() -> None:
    assert isoformat(1_700_000_000.1234) == "2023-11-14T22:13:20.123Z"
    assert isoformat(1_700_000_000.9999) == "2023-11-14T22:13:21.000Z"
    assert parse_iso8601("2023-11-14T22:13:20.123Z") == pytest.approx(1_700_000_000.123)
    assert parse_iso8601("2023-11-14T23:13:20+01:00") == 1_700_000_000
    assert parse_iso8601("2023-11-14T22:13:20") == 1_700_000_000
    with pytest.raises(ValueError, match="soon"):
        parse_iso8601("soon")
