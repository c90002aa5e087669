"""What every read of an upload must satisfy, and uploads streamed lazily for memory checks."""

from __future__ import annotations

import codecs
import gc
import io
import itertools
import json
import re
import tracemalloc
from collections.abc import Callable, Iterable, Iterator
from typing import Literal

from syncdrop.intake import AcceptedRow, FileRejected, IntakeRules, RowRejection, UploadReader

VIDEO = "https://cdn.example.com/v/clip.mp4"
AUDIO = "https://cdn.example.com/a/voice.wav"
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
WORKBOOK_MAGIC = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0")

Kind = Literal["csv", "jsonl"]
Outcome = AcceptedRow | RowRejection


def presign(bucket: str, key: str) -> str:
    return f"https://{bucket}.s3.example.com/{key}?signed=1"


RULES = IntakeRules(presign_s3=presign)


def read(data: bytes, kind: Kind, rules: IntakeRules = RULES) -> list[Outcome] | FileRejected:
    """Every outcome of the upload, or the FileRejected it raised; anything else escapes."""
    try:
        return list(UploadReader(io.BytesIO(data), kind=kind, rules=rules))
    except FileRejected as refused:
        return refused


def documented_text(data: bytes) -> str | None:
    """The upload as text under the documented encodings, or None when it is not such text:
    UTF-8 (BOM optional) or UTF-16 with a BOM, no NUL characters, not a workbook."""
    if data.startswith(WORKBOOK_MAGIC):
        return None
    if data.startswith(codecs.BOM_UTF8):
        encoding, body = "utf-8", data[3:]
    elif data.startswith(codecs.BOM_UTF16_LE):
        encoding, body = "utf-16-le", data[2:]
    elif data.startswith(codecs.BOM_UTF16_BE):
        encoding, body = "utf-16-be", data[2:]
    else:
        encoding, body = "utf-8", data
    try:
        text = body.decode(encoding)
    except UnicodeDecodeError:
        return None
    return None if "\x00" in text else text


def as_utf8(text: str) -> bytes:
    """The same text as a UTF-8 upload; the BOM makes a leading U+FEFF survive as text."""
    return codecs.BOM_UTF8 + text.encode("utf-8")


def utf8_safe(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def assert_sound(outcome: Outcome, rules: IntakeRules = RULES) -> None:
    """One outcome is usable downstream: a Sync batch line in Sync's shape, or a stated reason;
    everything a person will see (reason, columns) can be written as UTF-8."""
    assert isinstance(outcome, AcceptedRow | RowRejection), outcome
    assert outcome.row_number >= 1
    for name, value in outcome.columns.items():
        assert isinstance(name, str)
        assert isinstance(value, str)
        assert utf8_safe(name), ascii(name)
        assert utf8_safe(value), ascii(value)
    if isinstance(outcome, RowRejection):
        assert isinstance(outcome.reason, str)
        assert outcome.reason.strip()
        assert utf8_safe(outcome.reason), ascii(outcome.reason)
        assert outcome.request_id is None or REQUEST_ID.fullmatch(outcome.request_id)
        return
    assert len(outcome.line) < rules.max_line_bytes
    line = json.loads(outcome.line.decode("utf-8"))
    assert set(line) == {"request_id", "endpoint", "payload"}
    assert line["request_id"] == outcome.request_id
    assert REQUEST_ID.fullmatch(outcome.request_id)
    assert line["endpoint"] == "/v2/generate"
    payload = line["payload"]
    assert isinstance(payload, dict)
    assert payload["model"] in rules.allowed_models
    items = payload["input"]
    assert isinstance(items, list)
    assert all(isinstance(item, dict) for item in items)
    videos = [item for item in items if item.get("type") == "video"]
    assert len(videos) == 1
    assert isinstance(videos[0]["url"], str)
    assert videos[0]["url"].startswith("https://")
    sounds = [item for item in items if item.get("type") in ("audio", "text")]
    assert len(sounds) == 1


def assert_all_sound(outcomes: list[Outcome], rules: IntakeRules = RULES) -> None:
    """Every outcome sound, row numbers strictly increasing, no request id claimed twice."""
    for outcome in outcomes:
        assert_sound(outcome, rules)
    numbers = [outcome.row_number for outcome in outcomes]
    assert all(a < b for a, b in itertools.pairwise(numbers)), numbers
    claimed = [outcome.request_id for outcome in outcomes if outcome.request_id is not None]
    assert len(claimed) == len(set(claimed))


class LazyUpload(io.RawIOBase):
    """A binary stream made from an iterator of byte pieces, never all in memory at once."""

    def __init__(self, pieces: Iterable[bytes]) -> None:
        super().__init__()
        self._pieces: Iterator[bytes] = iter(pieces)
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._pending:
            piece = next(self._pieces, None)
            if piece is None:
                return 0
            self._pending = piece
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def batched(lines: Iterable[bytes], size: int = 32 * 1024) -> Iterator[bytes]:
    """Lines joined into pieces of about ``size`` bytes."""
    piece: list[bytes] = []
    length = 0
    for line in lines:
        piece.append(line)
        length += len(line)
        if length >= size:
            yield b"".join(piece)
            piece.clear()
            length = 0
    if piece:
        yield b"".join(piece)


def peak_memory(run: Callable[[], object]) -> int:
    """The peak of memory allocated while ``run`` runs, in bytes, above what was live before."""
    gc.collect()
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        run()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        if not was_tracing:
            tracemalloc.stop()


def drain(stream: io.RawIOBase, kind: Kind, rules: IntakeRules = RULES) -> tuple[int, int, int]:
    """Read the whole upload keeping only counts: (accepted, rejected, last row number).

    Checks the type and the row order of each outcome on the way, holding nothing else.
    """
    accepted = rejected = last = 0
    for outcome in UploadReader(stream, kind=kind, rules=rules):  # type: ignore[arg-type]
        assert outcome.row_number > last
        last = outcome.row_number
        if isinstance(outcome, AcceptedRow):
            accepted += 1
        else:
            assert isinstance(outcome, RowRejection)
            rejected += 1
    return accepted, rejected, last
