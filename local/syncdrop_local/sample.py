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
    rng = random.Random(seed)
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
    faults = [
        lambda r: r.__setitem__(1, r[1].replace("https://", "http://")),
        lambda r: (r.__setitem__(2, ""), r.__setitem__(3, ""), r.__setitem__(4, "")),
        lambda r: r.__setitem__(5, "lipsync-9"),
        lambda r: r.__setitem__(0, "rq-00001"),
        lambda r: r.__setitem__(1, "not a url"),
    ]
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
            faults[(n // bad_every) % len(faults)](row)
        writer.writerow(row)
    return ("\ufeff" + out.getvalue()).encode("utf-8")
