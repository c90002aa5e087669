"""Reads an upload already in Sync's batch-line format, checking each line like a CSV row."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from typing import Any, BinaryIO

from syncdrop.intake.batch_line import ENDPOINT, compact_json
from syncdrop.intake.cell_checks import (
    REQUEST_ID,
    CellProblem,
    chosen_model,
    duplicate_problem,
    line_too_big_problem,
    media_url,
    request_id_problem,
    shown,
)
from syncdrop.intake.outcomes import AcceptedRow, FileRejected, RowRejection
from syncdrop.intake.request_ids import RequestIdIndex
from syncdrop.intake.rules import IntakeRules
from syncdrop.intake.text_source import MAX_TEXT_LINE, TextProblem, TextSource, problem_in

JSONL_COLUMNS = ("request_id", "video_url", "audio_url", "tts_voice_id", "tts_script", "model")

_SHAPE = (
    'Each line must be one JSON object like {"request_id": "clip-1", "endpoint": '
    '"/v2/generate", "payload": {"model": "lipsync-2", "input": [{"type": "video", "url": '
    '"https://..."}, {"type": "audio", "url": "https://..."}]}}.'
)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    # 1e999 parses as infinity, which has no JSON spelling to send on to Sync.
    number = float(text)
    if math.isinf(number):
        raise ValueError(f"the number {shown(text)} is out of range")
    return number


_decode = json.JSONDecoder(parse_constant=_no_constants, parse_float=_finite_float).decode

# The line's text has no lone surrogates (the reader checks), but a \ud800 escape decodes to
# one, and a string holding it cannot be written as UTF-8: not in a batch file, nor a report.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _as_text(value: object) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else compact_json(value)


class JsonlLineChecker:
    """Turns one JSON line into an AcceptedRow or a RowRejection."""

    def __init__(self, rules: IntakeRules) -> None:
        self.rules = rules
        self.seen = RequestIdIndex()

    def close(self) -> None:
        self.seen.close()

    def check(self, line_number: int, text: str) -> AcceptedRow | RowRejection:
        columns = dict.fromkeys(JSONL_COLUMNS, "")
        try:
            line = _decode(text)
        except ValueError as error:
            where = getattr(error, "colno", None)
            at = f" at character {where}" if where else ""
            detail = getattr(error, "msg", str(error))
            return RowRejection(
                line_number, None, f"This line is not valid JSON ({detail}{at}). {_SHAPE}", columns
            )
        if "\\u" in text and _LONE_SURROGATE.search(compact_json(line)):
            return RowRejection(
                line_number,
                None,
                "This line has a \\u escape for half of a character (a lone surrogate such as "
                "\\ud800), which is not text. Write the character itself, or both halves of its "
                "escape.",
                columns,
            )
        if not isinstance(line, dict):
            return RowRejection(
                line_number, None, f"This line is not a JSON object. {_SHAPE}", columns
            )

        problems: list[str] = []
        request_id = self._claim_request_id(line, line_number, columns, problems)

        endpoint = line.get("endpoint")
        # A missing endpoint can only mean the one endpoint a batch line can name.
        if endpoint is not None and endpoint != ENDPOINT:
            problems.append(f'endpoint {shown(_as_text(endpoint))} must be "{ENDPOINT}".')

        payload = line.get("payload")
        if not isinstance(payload, dict):
            problems.append(f"payload is missing or not a JSON object. {_SHAPE}")
        else:
            self._check_payload(payload, columns, problems)

        if problems:
            return RowRejection(line_number, request_id, " ".join(problems), columns)
        assert request_id is not None  # nosec B101 # narrows a type; a line without one was rejected above
        # Only the three keys Sync reads; other top-level keys stay out, like extra CSV columns.
        sent = {"request_id": request_id, "endpoint": ENDPOINT, "payload": payload}
        encoded = compact_json(sent).encode()
        if len(encoded) >= self.rules.max_line_bytes:
            return RowRejection(
                line_number,
                request_id,
                line_too_big_problem(len(encoded), self.rules.max_line_bytes, "line"),
                columns,
            )
        return AcceptedRow(line_number, request_id, encoded, JSONL_COLUMNS, list(columns.values()))

    def _claim_request_id(
        self, line: dict[str, Any], line_number: int, columns: dict[str, str], problems: list[str]
    ) -> str | None:
        written = line.get("request_id")
        columns["request_id"] = _as_text(written)
        if written is None or written == "":
            request_id = f"row-{line_number}"
        elif not isinstance(written, str):
            problems.append(f"request_id {shown(_as_text(written))} must be a JSON string.")
            return None
        elif REQUEST_ID.fullmatch(written) is None:
            problems.append(request_id_problem(written))
            return None
        else:
            request_id = written
        first = self.seen.claim(request_id, line_number)
        if first != line_number:
            problems.append(
                duplicate_problem(request_id, first, defaulted=not written, noun="line")
            )
            return None
        return request_id

    def _check_payload(
        self, payload: dict[str, Any], columns: dict[str, str], problems: list[str]
    ) -> None:
        model = payload.get("model")
        columns["model"] = _as_text(model)
        if model is None or model == "":
            payload["model"] = self.rules.default_model
        elif not isinstance(model, str):
            problems.append(f"payload.model {shown(_as_text(model))} must be a JSON string.")
        else:
            try:
                payload["model"] = chosen_model(model, self.rules)
            except CellProblem as problem:
                problems.append(str(problem))

        items = payload.get("input")
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            problems.append(
                "payload.input must be a list of objects: one video and one audio or text item."
            )
            return
        videos = [item for item in items if item.get("type") == "video"]
        sounds = [item for item in items if item.get("type") in ("audio", "text")]
        others = [item for item in items if item.get("type") not in ("video", "audio", "text")]
        if len(videos) == 1:
            columns["video_url"] = _as_text(videos[0].get("url"))
            self._check_url(videos[0], "video", problems)
        else:
            problems.append(f"payload.input has {len(videos)} video items; it needs exactly one.")
        if len(sounds) == 1:
            self._check_sound(sounds[0], columns, problems)
        else:
            problems.append(
                f"payload.input has {len(sounds)} audio or text items; it needs exactly one: "
                '{"type": "audio", "url": ...} or {"type": "text", "provider": {"name": '
                '"elevenlabs", "voiceId": ..., "script": ...}}.'
            )
        for item in others:
            problems.append(
                f"payload.input has an item of type {shown(_as_text(item.get('type')))}; "
                "only video, audio and text items can be sent."
            )

    def _check_sound(
        self, item: dict[str, Any], columns: dict[str, str], problems: list[str]
    ) -> None:
        if item["type"] == "audio":
            columns["audio_url"] = _as_text(item.get("url"))
            self._check_url(item, "audio", problems)
            return
        provider = item.get("provider")
        if not isinstance(provider, dict):
            problems.append(
                'The text item needs a "provider" object with name, voiceId and script.'
            )
            return
        voice, script = provider.get("voiceId"), provider.get("script")
        columns["tts_voice_id"] = _as_text(voice)
        columns["tts_script"] = _as_text(script)
        if provider.get("name") != "elevenlabs":
            problems.append(
                f"The text item's provider name {shown(_as_text(provider.get('name')))} must be "
                '"elevenlabs".'
            )
        for key, value in (("voiceId", voice), ("script", script)):
            if not isinstance(value, str) or not value.strip():
                problems.append(f"The text item's provider.{key} must be a non-empty string.")

    def _check_url(self, item: dict[str, Any], kind: str, problems: list[str]) -> None:
        url = item.get("url")
        if not isinstance(url, str) or not url:
            problems.append(
                f"The {kind} item needs a url (https://... or s3://bucket/key); assetId is "
                "not accepted here."
            )
            return
        try:
            item["url"] = media_url(url, f"The {kind} url", self.rules)
        except CellProblem as problem:
            problems.append(str(problem))


def read_jsonl(stream: BinaryIO, rules: IntakeRules) -> Iterator[AcceptedRow | RowRejection]:
    """Every non-blank line of the file, in order; raises FileRejected for the whole file."""
    source = TextSource(stream)
    limit = max(MAX_TEXT_LINE, rules.max_line_bytes + 2)
    checker = JsonlLineChecker(rules)
    check = checker.check
    readline = source.readline
    line_number = 0
    data_rows = 0
    any_text = False
    try:
        while text := readline(limit):
            line_number += 1
            problem = problem_in(text, source.encoding)
            if problem is not None:
                raise FileRejected(problem.message(f"line {line_number}"))
            if len(text) >= limit and text[-1] not in "\r\n":
                _skip_rest_of_line(source, limit)
                any_text = True
                data_rows += 1
                yield RowRejection(
                    line_number,
                    None,
                    f"This line is longer than {limit:,} characters; one line can be at most "
                    f"{rules.max_line_bytes - 1:,} bytes.",
                    dict.fromkeys(JSONL_COLUMNS, ""),
                )
                continue
            if text.isspace():
                continue
            any_text = True
            data_rows += 1
            if data_rows > rules.max_rows:
                raise FileRejected(
                    f"The file has more than {rules.max_rows:,} lines. Split it into files of "
                    f"at most {rules.max_rows:,} lines and upload each one."
                )
            try:
                outcome = check(line_number, text)
            except RecursionError:
                outcome = RowRejection(
                    line_number,
                    None,
                    f"This line nests JSON too deeply to be a Sync request. {_SHAPE}",
                    dict.fromkeys(JSONL_COLUMNS, ""),
                )
            yield outcome
    except TextProblem as problem:
        raise FileRejected(problem.message(f"line {line_number + 1}")) from None
    finally:
        checker.close()
    if not any_text:
        raise FileRejected(
            "The file is empty: a .jsonl upload needs one JSON object per line. "
            "Check that you uploaded the right file."
        )


def _skip_rest_of_line(source: TextSource, limit: int) -> None:
    while True:
        piece = source.readline(limit)
        if not piece or piece[-1] in "\r\n":
            return
