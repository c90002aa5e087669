"""Checks one value of a row at a time and says, for a person, what is wrong and what to do."""

from __future__ import annotations

import math
import re
from collections.abc import Callable

from syncdrop.intake.rules import IntakeRules

# A host made of DNS labels or a bracketed IPv6 address, an optional port, then anything
# without whitespace. Only https: Sync downloads the media itself. (Possessive quantifiers:
# nothing to backtrack into, and this runs twice per row.)
HTTPS_URL = re.compile(
    r"(?i:https)://(?:[A-Za-z0-9-]++(?:\.[A-Za-z0-9-]++)*+\.?|\[[0-9A-Fa-f:.]+\])"
    r"(?::[0-9]{1,5})?(?:[/?#]\S*+)?"
)
# S3 bucket naming rules; a key may hold spaces (the presigned URL encodes them).
S3_URL = re.compile(r"(?i:s3)://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/([^\x00-\x1f\x7f]+)")
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
OUTPUT_FILE_NAME = re.compile(r"[A-Za-z0-9_-]{1,255}")

SYNC_MODES = ("bounce", "loop", "cut_off", "silence", "remap")
MODEL_MODES = ("lips", "face", "head")
EMOTIONS = ("happy", "sad", "angry", "disgusted", "surprised", "neutral")
REACT_MODEL = "react-1"
REACT_ONLY_COLUMNS = ("model_mode", "prompt")

_TRUE = frozenset({"true", "yes", "1"})
_FALSE = frozenset({"false", "no", "0"})
_SHOWN_LENGTH = 60


class CellProblem(Exception):
    """A value that cannot be used; the text is a whole sentence for a person."""


def shown(value: str) -> str:
    """The value quoted for a message, cut short when long."""
    if len(value) > _SHOWN_LENGTH:
        value = value[: _SHOWN_LENGTH - 1] + "…"
    return f"'{value}'"


def media_url(value: str, column: str, rules: IntakeRules) -> str:
    """The https URL Sync should download for ``value``; raises CellProblem when unusable."""
    if HTTPS_URL.fullmatch(value):
        return value
    s3 = S3_URL.fullmatch(value)
    if s3 is not None:
        if rules.presign_s3 is None:
            raise CellProblem(
                f"{column} {shown(value)} is an S3 link, but S3 links are not enabled here. "
                "Use an https:// link to the file."
            )
        try:
            return rules.presign_s3(s3.group(1), s3.group(2))
        except ValueError as exc:  # the deployment does not allow this bucket or key
            raise CellProblem(f"{column} {shown(value)}: {exc}") from exc
    raise CellProblem(_why_not_a_media_url(value, column))


def _why_not_a_media_url(value: str, column: str) -> str:
    lowered = value.lower()
    what = f"{column} {shown(value)}"
    if lowered.startswith("s3://"):
        return (
            f"{what} is not a usable S3 link: write it as s3://bucket/key, with the bucket "
            "name in lowercase and the key after the slash."
        )
    if any(ch.isspace() for ch in value):
        return (
            f"{what} contains a space, and a link cannot. Copy the link again from the "
            "browser's address bar (spaces become %20) or rename the file without spaces."
        )
    if lowered.startswith("http://"):
        return (
            f"{what} starts with http://; Sync downloads media only over https. "
            "Use the https:// link to the file, or s3://bucket/key."
        )
    if lowered.startswith("https:"):
        return (
            f"{what} has no valid host name after https://. Use the file's full link, "
            "such as https://example.com/video.mp4."
        )
    if "://" in value:
        scheme = value.split("://", 1)[0]
        return (
            f"{what} is a {shown(scheme)} link, which Sync cannot download. "
            "Use an https:// link to the file, or s3://bucket/key."
        )
    return (
        f"{what} is not a link. Give the file's full address starting with https:// "
        "(or s3://bucket/key)."
    )


def request_id_problem(value: str) -> str:
    return (
        f"request_id {shown(value)} may only use letters, digits, '.', '_' and '-', "
        "up to 128 characters. Change it, or leave the cell empty to get an id from "
        "the row number."
    )


def model_problem(value: str, rules: IntakeRules) -> str:
    allowed = ", ".join(sorted(rules.allowed_models))
    return (
        f"model {shown(value)} is not available; use one of {allowed}, "
        f"or leave it empty for {rules.default_model}."
    )


def chosen_model(value: str, rules: IntakeRules) -> str:
    """The model a row asks for, in Sync's spelling; raises CellProblem when not allowed."""
    if not value:
        return rules.default_model
    if value in rules.allowed_models:
        return value
    lowered = value.lower()
    if lowered in rules.allowed_models:
        return lowered
    raise CellProblem(model_problem(value, rules))


def _one_of(column: str, choices: tuple[str, ...]) -> Callable[[str], str]:
    allowed = frozenset(choices)
    listed = ", ".join(choices)

    def parse(value: str) -> str:
        lowered = value.lower()
        if lowered in allowed:
            return lowered
        raise CellProblem(f"{column} {shown(value)} is not one of {listed}.")

    return parse


def parse_bool(column: str, value: str) -> bool:
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise CellProblem(f"{column} {shown(value)} must be true or false (yes/no and 1/0 work too).")


def parse_temperature(value: str) -> float:
    # Spreadsheets in many locales write 0,7 for 0.7.
    text = value.replace(",", ".", 1) if value.count(",") == 1 and "." not in value else value
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if not 0.0 <= number <= 1.0:
        raise CellProblem(f"temperature {shown(value)} must be a number from 0 to 1, such as 0.5.")
    return number


def _active_speaker_detection(value: str) -> dict[str, bool]:
    return {"auto_detect": parse_bool("active_speaker_detection", value)}


def _occlusion_detection(value: str) -> bool:
    return parse_bool("occlusion_detection_enabled", value)


# Column name -> parser of the cell into the value of options[column]; the keys of
# Sync's options object are the column names themselves.
OPTION_PARSERS: dict[str, Callable[[str], object]] = {
    "sync_mode": _one_of("sync_mode", SYNC_MODES),
    "temperature": parse_temperature,
    "active_speaker_detection": _active_speaker_detection,
    "occlusion_detection_enabled": _occlusion_detection,
    "model_mode": _one_of("model_mode", MODEL_MODES),
    "prompt": _one_of("prompt", EMOTIONS),
}


def react_only_problem(column: str, model: str) -> str:
    return (
        f"{column} works only with model {REACT_MODEL}, and this row uses {model}: "
        f"set model to {REACT_MODEL} or leave {column} empty."
    )


def output_file_name_problem(value: str) -> str:
    return (
        f"output_file_name {shown(value)} may only use letters, digits, '_' and '-', up to "
        "255 characters, with no extension (Sync adds .mp4)."
    )


def duplicate_problem(request_id: str, first_row: int, *, defaulted: bool, noun: str) -> str:
    if defaulted:
        return (
            f"This {noun}'s default request_id {shown(request_id)} is already used by "
            f"{noun} {first_row}; give this {noun} its own request_id."
        )
    return (
        f"request_id {shown(request_id)} is already used by {noun} {first_row}; "
        f"each {noun} needs its own request_id."
    )


def line_too_big_problem(size: int, limit: int, noun: str) -> str:
    return (
        f"This {noun} becomes a Sync request of {size:,} bytes, and one {noun} can be at most "
        f"{limit - 1:,} bytes (a very long tts_script is the usual cause). Shorten it."
    )
