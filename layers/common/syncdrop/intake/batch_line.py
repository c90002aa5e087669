"""Writes one Sync batch line: compact JSON of request_id, endpoint and the /v2/generate payload."""

from __future__ import annotations

import json
import json.encoder
from json.encoder import encode_basestring

ENDPOINT = "/v2/generate"

# Same bytes as json.dumps(..., ensure_ascii=False, separators=(",", ":")): UTF-8 keeps
# non-Latin tts scripts at their real size against the 5 MB batch limit.
_encoder = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), allow_nan=False, check_circular=False
)
# The C encoder JSONEncoder.encode builds on every call, built once: it runs per row.
_c_make_encoder = getattr(json.encoder, "c_make_encoder", None)
_encode_parts = (
    None
    if _c_make_encoder is None
    else _c_make_encoder(
        None, _encoder.default, encode_basestring, None, ":", ",", False, False, False
    )
)


def compact_json(value: object) -> str:
    if _encode_parts is None:
        return _encoder.encode(value)
    return "".join(_encode_parts(value, 0))


def generation_line(
    request_id: str,
    model: str,
    video_url: str,
    audio_url: str | None,
    voice_id: str,
    script: str,
    options_json: str | None,
    output_file_name: str | None,
) -> bytes:
    """The batch line for one generation: audio from ``audio_url``, else ElevenLabs TTS.

    Assembled from escaped strings because it runs once per row of files of up to 100,000
    rows; the tests prove it equals json.dumps of the same object.
    """
    q = encode_basestring
    if audio_url is not None:
        sound = f'{{"type":"audio","url":{q(audio_url)}}}'
    else:
        sound = (
            f'{{"type":"text","provider":{{"name":"elevenlabs",'
            f'"voiceId":{q(voice_id)},"script":{q(script)}}}}}'
        )
    extra = ""
    if options_json is not None:
        extra = f',"options":{options_json}'
    if output_file_name is not None:
        extra += f',"outputFileName":{q(output_file_name)}'
    return (
        f'{{"request_id":{q(request_id)},"endpoint":"{ENDPOINT}","payload":{{'
        f'"model":{q(model)},"input":[{{"type":"video","url":{q(video_url)}}},{sound}]'
        f"{extra}}}}}"
    ).encode()
