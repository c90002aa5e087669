"""The spool of accepted rows: exact chunk files and manifests, whatever the cells hold."""

from __future__ import annotations

import json

from syncdrop.domain.intake import _SpooledRows
from syncdrop.intake import AcceptedRow

NAMES = ["request_id", "video_url", "note", "名前"]


def row(number: int, note: str, line: bytes = b'{"request_id":"x"}') -> AcceptedRow:
    cells = [f"r{number}", f"https://v.example.com/{number}.mp4", note, "ｶﾅ", ""]
    return AcceptedRow(number, f"r{number}", line, NAMES, cells)


def test_manifest_lines_are_json_of_row_request_id_and_every_column() -> None:
    notes = ['say "hi"', "back\\slash", "two\nlines\r\n", "tab\there", "emoji 😀", "\u2028", ""]
    spool = _SpooledRows()
    try:
        for number, note in enumerate(notes, start=2):
            spool.add(row(number, note))
        ((_, lines, manifest),) = spool.chunks([range(len(notes))])
    finally:
        spool.close()
    entries = [json.loads(line) for line in manifest.splitlines()]
    assert entries == [
        {
            "row": n,
            "request_id": f"r{n}",
            "columns": dict(zip(NAMES, row(n, note).cells[:-1], strict=True)),
        }
        for n, note in enumerate(notes, start=2)
    ]
    assert lines == b'{"request_id":"x"}\n' * len(notes)


def test_chunks_hold_their_own_lines_even_past_64_kb_a_line() -> None:
    big = b'{"request_id":"' + b"y" * 90_000 + b'"}'
    sizes = [10, 70_000, 5, 80_000, 7]
    spool = _SpooledRows()
    try:
        for number, size in enumerate(sizes, start=2):
            spool.add(row(number, "n", big[:size] if size > 100 else b"s" * size))
        assert list(spool.sizes) == [10, 70_000, 5, 80_000, 7]
        chunks = list(spool.chunks([range(0, 2), range(2, 5)]))
    finally:
        spool.close()
    assert [len(lines) for _, lines, _ in chunks] == [10 + 70_000 + 2, 5 + 80_000 + 7 + 3]
    assert [len(manifest.splitlines()) for _, _, manifest in chunks] == [2, 3]
