"""A realistic campaign CSV for the demo: valid rows, a few bad ones, a few that Sync fails."""

from __future__ import annotations

import csv
import io
import random

FIRST_NAMES = [
    "Ada",
    "Bruno",
    "Chloé",
    "Dmitri",
    "Eun-ji",
    "Farah",
    "Gustavo",
    "Hana",
    "Ivo",
    "José",
]
MEDIA = "https://media.example.com/campaign"


def campaign_csv(
    rows: int = 1200, *, seed: int = 7, bad_every: int = 97, fail_every: int = 151
) -> bytes:
    """CSV bytes the way a spreadsheet exports them (UTF-8 BOM, CRLF).

    Every ``bad_every``-th row breaks one validation rule (so the report has rejections);
    every ``fail_every``-th row asks the Sync emulator to fail that generation.
    """
    rng = random.Random(seed)  # nosec B311 # sample data
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(
        [
            "request_id",
            "video_url",
            "audio_url",
            "tts_voice_id",
            "tts_script",
            "model",
            "first_name",
            "email",
            "campaign_id",
        ]
    )
    for n in range(1, rows + 1):
        name = rng.choice(FIRST_NAMES)
        use_tts = n % 3 == 0
        video = f"{MEDIA}/base-{n % 12:02d}.mp4"
        if n % fail_every == 0:
            video += "?sync-fail=FACE_NOT_FOUND"
        row = [
            f"rq-{n:05d}",
            video,
            "" if use_tts else f"{MEDIA}/voice/{n:05d}.wav",
            "21m00Tcm4TlvDq8ikWAM" if use_tts else "",
            f"Hi {name}, your plan is ready." if use_tts else "",
            "",
            name,
            f"{name.lower().replace('é', 'e')}.{n}@example.com",
            "winter-2026",
        ]
        if n % bad_every == 0:
            _break(row, n // bad_every)
        writer.writerow(row)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _break(row: list[str], kind: int) -> None:
    """Break one rule, a different one each time, the way people do."""
    match kind % 5:
        case 0:
            row[1] = row[1].replace("https://", "http://")  # not https
        case 1:
            row[2] = row[3] = row[4] = ""  # neither audio nor TTS
        case 2:
            row[5] = "lipsync-9"  # unknown model
        case 3:
            row[0] = "rq-00001"  # duplicate request_id
        case _:
            row[1] = "not a url"
