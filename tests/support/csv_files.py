"""Small CSV files as spreadsheets export them."""

from __future__ import annotations


def campaign_rows(n: int, *, start: int = 1, fail: set[int] | None = None) -> list[list[str]]:
    rows = []
    for i in range(start, start + n):
        video = f"https://media.example.com/v{i}.mp4"
        if fail and i in fail:
            video += "?sync-fail=FACE_NOT_FOUND"
        rows.append([f"r{i}", video, f"https://media.example.com/a{i}.wav", f"Name {i}"])
    return rows


def to_csv(
    rows: list[list[str]],
    *,
    header: tuple[str, ...] = ("request_id", "video_url", "audio_url", "first_name"),
    delimiter: str = ",",
    newline: str = "\n",
    bom: bool = False,
) -> bytes:
    def cell(value: str) -> str:
        if any(ch in value for ch in (delimiter, '"', "\n", "\r")):
            return '"' + value.replace('"', '""') + '"'
        return value

    text = newline.join(delimiter.join(cell(c) for c in row) for row in [list(header), *rows])
    return (("\ufeff" if bom else "") + text + newline).encode()
