"""Valid Sync batch lines for tests."""

from __future__ import annotations

import json


def batch_lines(n: int, *, prefix: str = "r", fail: set[int] | None = None) -> bytes:
    """``n`` JSONL lines in Sync's batch format; rows in ``fail`` ask the emulator to fail them."""
    lines = []
    for i in range(1, n + 1):
        video = f"https://media.example.com/v{i}.mp4"
        if fail and i in fail:
            video += "?sync-fail=FACE_NOT_FOUND"
        lines.append(
            json.dumps(
                {
                    "request_id": f"{prefix}{i}",
                    "endpoint": "/v2/generate",
                    "payload": {
                        "model": "lipsync-2",
                        "input": [
                            {"type": "video", "url": video},
                            {"type": "audio", "url": f"https://media.example.com/a{i}.wav"},
                        ],
                    },
                }
            )
        )
    return ("\n".join(lines) + "\n").encode()
