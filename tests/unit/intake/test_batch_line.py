"""The hand-assembled batch line is exactly compact json.dumps of the same object."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from syncdrop.intake.batch_line import generation_line

# Any text the reader can hand over: everything but lone surrogates, which it refuses.
texts = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)


@given(
    request_id=texts,
    model=texts,
    video=texts,
    audio=st.none() | texts,
    voice=texts,
    script=texts,
    options=st.none()
    | st.dictionaries(texts, st.booleans() | st.floats(0, 1) | texts, min_size=1, max_size=3),
    output_file_name=st.none() | texts,
)
def test_generation_line_equals_compact_json_dumps(
    request_id: str,
    model: str,
    video: str,
    audio: str | None,
    voice: str,
    script: str,
    options: dict[str, object] | None,
    output_file_name: str | None,
) -> None:
    sound: dict[str, object]
    if audio is not None:
        sound = {"type": "audio", "url": audio}
    else:
        sound = {
            "type": "text",
            "provider": {"name": "elevenlabs", "voiceId": voice, "script": script},
        }
    body: dict[str, object] = {"model": model, "input": [{"type": "video", "url": video}, sound]}
    if options:
        body["options"] = options
    if output_file_name is not None:
        body["outputFileName"] = output_file_name
    expected = json.dumps(
        {"request_id": request_id, "endpoint": "/v2/generate", "payload": body},
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()
    options_json = (
        json.dumps(options, ensure_ascii=False, separators=(",", ":")) if options else None
    )

    line = generation_line(
        request_id, model, video, audio, voice, script, options_json, output_file_name
    )

    assert line == expected
