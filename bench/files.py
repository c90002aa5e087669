"""Campaign CSVs shaped like the demo's (syncdrop_local.sample), written to disk row by row."""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator
from pathlib import Path

HEADER = [
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
FIRST_NAMES = ["Ada", "Bruno", "Chloé", "Dmitri", "Eun-ji", "Farah", "Gustavo", "Hana", "José"]
MEDIA = "https://media.example.com/campaign"


def campaign_rows(rows: int, *, bad_every: int = 97, seed: int = 7) -> Iterator[list[str]]:
    """Every third row speaks a TTS script, the others an audio file; every ``bad_every``-th
    row breaks one rule (0: none does), the way people's files do."""
    rng = random.Random(seed)  # nosec B311 - sample data
    for n in range(1, rows + 1):
        name = rng.choice(FIRST_NAMES)
        tts = n % 3 == 0
        row = [
            f"rq-{n:07d}",
            f"{MEDIA}/base-{n % 12:02d}.mp4",
            "" if tts else f"{MEDIA}/voice/{n:07d}.wav",
            "21m00Tcm4TlvDq8ikWAM" if tts else "",
            f"Hi {name}, your plan is ready." if tts else "",
            "",
            name,
            f"{name.lower()}.{n}@example.com",
            "winter-2026",
        ]
        if bad_every and n % bad_every == 0:
            kind = n // bad_every % 4
            if kind == 0:
                row[1] = row[1].replace("https://", "http://")
            elif kind == 1:
                row[2] = row[3] = row[4] = ""
            elif kind == 2:
                row[5] = "lipsync-9"
            else:
                row[0] = "rq 1"  # a space: not a valid request id
        yield row


def write_campaign(path: Path, rows: int, *, bad_every: int = 97) -> Path:
    """A UTF-8 (with BOM), CRLF campaign file of ``rows`` rows, never all in memory."""
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(HEADER)
        writer.writerows(campaign_rows(rows, bad_every=bad_every))
    return path
