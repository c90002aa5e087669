"""Reads a spreadsheet's CSV export, row by row, into Sync batch lines or reasons for a person."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from itertools import chain
from operator import itemgetter
from typing import BinaryIO

from syncdrop.intake.batch_line import compact_json, generation_line
from syncdrop.intake.cell_checks import (
    HTTPS_URL,
    OPTION_PARSERS,
    OUTPUT_FILE_NAME,
    REACT_MODEL,
    REACT_ONLY_COLUMNS,
    REQUEST_ID,
    CellProblem,
    chosen_model,
    duplicate_problem,
    line_too_big_problem,
    media_url,
    output_file_name_problem,
    react_only_problem,
    request_id_problem,
    shown,
)
from syncdrop.intake.outcomes import AcceptedRow, FileRejected, RowRejection
from syncdrop.intake.request_ids import RequestIdIndex
from syncdrop.intake.rules import IntakeRules
from syncdrop.intake.text_source import TextProblem, TextSource

DELIMITERS = (",", ";", "\t")
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}
_NO_CELLS: list[str] = []  # shared, never mutated


def detect_delimiter(first_line: str) -> str:
    """The delimiter of the header line: the one that makes video_url a column of its own,
    else the one that splits the line (outside quotes) into the most columns."""
    best, best_score = ",", (False, 0)
    for delimiter in DELIMITERS:
        names = next(csv.reader([first_line], delimiter=delimiter), [])
        has_video = any(name.strip().lower() == "video_url" for name in names)
        score = (has_video and len(names) > 1, len(names))
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _sep_hint(first_line: str) -> str | None:
    """Excel's optional first line "sep=;" names the delimiter and is not a row."""
    text = first_line.rstrip("\r\n")
    if len(text) == 5 and text[:4].lower() == "sep=" and text[4] in DELIMITERS:
        return text[4]
    return None


class CsvLayout:
    """Where each known column sits in the header; absent columns point past the end."""

    def __init__(self, cells: list[str], delimiter: str) -> None:
        self.width = width = len(cells)
        # Unnamed columns still carry the person's data into the results.
        self.names = [cell or f"column {pos + 1}" for pos, cell in enumerate(cells)]
        position: dict[str, int] = {}
        for pos, cell in enumerate(cells):
            key = cell.lower()
            if not key:
                continue
            if key in position:
                raise FileRejected(
                    f"The header has the column {shown(cell)} twice (columns "
                    f"{position[key] + 1} and {pos + 1}). Each column name may appear only "
                    "once: rename or remove one of them."
                )
            position[key] = pos
        _require_columns(position, cells, delimiter)

        def at(name: str) -> int:
            return position.get(name, width)

        self.video = at("video_url")
        self.audio = at("audio_url")
        self.voice = at("tts_voice_id")
        self.script = at("tts_script")
        self.request_id = at("request_id")
        self.model = at("model")
        self.output_file_name = at("output_file_name")
        self.options = [
            (position[name], name, parse)
            for name, parse in OPTION_PARSERS.items()
            if name in position
        ]


def _require_columns(position: dict[str, int], cells: list[str], delimiter: str) -> None:
    found = ", ".join(shown(cell) for cell in cells if cell) or "none"
    if "video_url" not in position:
        if any("://" in cell for cell in cells):
            raise FileRejected(
                "The first row must be the header with the column names (video_url, "
                f"audio_url, ...), but it holds data ({found}). Insert a header row at the top."
            )
        raise FileRejected(
            f"The header has no video_url column (columns found, split at each "
            f"{_DELIMITER_NAMES[delimiter]}: {found}). Name the column with the video links "
            "video_url, with audio_url (or tts_voice_id and tts_script) beside it."
        )
    if "audio_url" in position or ("tts_voice_id" in position and "tts_script" in position):
        return
    half = [name for name in ("tts_voice_id", "tts_script") if name in position]
    if half:
        other = "tts_script" if half[0] == "tts_voice_id" else "tts_voice_id"
        raise FileRejected(
            f"The header has {half[0]} but no {other} column: text-to-speech needs both. "
            f"Add a {other} column, or give the audio as an audio_url column."
        )
    raise FileRejected(
        "The header has video_url but no audio column. Add an audio_url column with links "
        "to the audio, or tts_voice_id and tts_script columns for text-to-speech."
    )


class OptionColumns:
    """The options.* columns of the header, turned into Sync's options object per row.

    Files repeat a few combinations ("loop", "0.5", "true") on every row, so the JSON of
    each combination is worked out once and then looked up.
    """

    _REMEMBERED = 1024

    def __init__(self, found: list[tuple[int, str, Callable[[str], object]]]) -> None:
        self._found = found
        positions = [position for position, _, _ in found]
        self.values_of: Callable[[list[str]], tuple[str, ...]] = (
            itemgetter(*positions) if len(positions) > 1 else lambda cells: (cells[positions[0]],)
        )
        # (model, cell values) -> the options JSON, "" when no option is given.
        self.known: dict[tuple[str, tuple[str, ...]], str] = {}

    def options_json(self, model: str, values: tuple[str, ...], problems: list[str]) -> str:
        """The options object as JSON ("" when none); appends a problem per unusable value."""
        before = len(problems)
        members = []
        for (_, name, parse), value in zip(self._found, values, strict=True):
            if not value:
                continue
            if name in REACT_ONLY_COLUMNS and model != REACT_MODEL:
                if model:  # an unknown model is reported on its own
                    problems.append(react_only_problem(name, model))
                continue
            try:
                members.append(f'"{name}":{compact_json(parse(value))}')
            except CellProblem as problem:
                problems.append(str(problem))
        options = "{" + ",".join(members) + "}" if members else ""
        if len(problems) == before and len(self.known) < self._REMEMBERED:
            self.known[(model, values)] = options
        return options


RowCheck = Callable[[int, list[str], list[str]], "AcceptedRow | RowRejection"]


def row_checker(layout: CsvLayout, rules: IntakeRules, request_ids: RequestIdIndex) -> RowCheck:
    """The check of one data row's cells; runs once per row, so everything it can look up
    ahead of time is bound here."""
    # request_id -> the row that first used it: the only state that grows with the file.
    first_row_of = request_ids.claim
    https = HTTPS_URL.fullmatch
    valid_request_id = REQUEST_ID.fullmatch
    valid_output_file_name = OUTPUT_FILE_NAME.fullmatch
    default_model = rules.default_model
    allowed_models = rules.allowed_models
    max_line_bytes = rules.max_line_bytes
    at_video, at_audio = layout.video, layout.audio
    at_voice, at_script = layout.voice, layout.script
    at_request_id, at_model, at_output = layout.request_id, layout.model, layout.output_file_name
    option_columns = OptionColumns(layout.options) if layout.options else None
    options_of = option_columns.values_of if option_columns else None
    known_options = option_columns.known if option_columns else {}
    names = layout.names

    def check(row_number: int, cells: list[str], overflow: list[str]) -> AcceptedRow | RowRejection:
        problems: list[str] = []
        if overflow:
            problems.append(_overflow_problem(layout.width, overflow))

        written = cells[at_request_id]
        request_id: str | None = written or f"row-{row_number}"
        if written and valid_request_id(written) is None:
            problems.append(request_id_problem(written))
            request_id = None
        if request_id is not None:
            first = first_row_of(request_id, row_number)
            if first != row_number:
                problems.append(
                    duplicate_problem(request_id, first, defaulted=not written, noun="row")
                )
                request_id = None

        video = cells[at_video]
        if not video:
            problems.append(
                "video_url is empty: every row needs a link to its video "
                "(https://... or s3://bucket/key)."
            )
        elif https(video) is None:
            try:
                video = media_url(video, "video_url", rules)
            except CellProblem as problem:
                problems.append(str(problem))

        audio: str | None = cells[at_audio]
        voice = cells[at_voice]
        script = cells[at_script]
        if audio:
            if voice or script:
                problems.append(_audio_and_tts_problem(voice, script))
            elif https(audio) is None:
                try:
                    audio = media_url(audio, "audio_url", rules)
                except CellProblem as problem:
                    problems.append(str(problem))
        else:
            audio = None
            if not (voice and script):
                problems.append(_missing_audio_problem(voice, script, layout))

        model = cells[at_model]
        if not model:
            model = default_model
        elif model not in allowed_models:
            try:
                model = chosen_model(model, rules)
            except CellProblem as problem:
                problems.append(str(problem))
                model = ""

        options = None
        if options_of is not None:
            values = options_of(cells)
            options = known_options.get((model, values))
            if options is None:
                assert option_columns is not None  # nosec B101 # narrows a type; never None when options_of is set
                options = option_columns.options_json(model, values, problems)
            options = options or None

        output_file_name = cells[at_output] or None
        if output_file_name is not None and valid_output_file_name(output_file_name) is None:
            problems.append(output_file_name_problem(output_file_name))

        if problems:
            columns = dict(zip(names, cells))  # noqa: B905 - cells hold a spare one
            return RowRejection(row_number, request_id, " ".join(problems), columns)
        assert request_id is not None  # nosec B101 # narrows a type; a row without one was rejected above
        line = generation_line(
            request_id, model, video, audio, voice, script, options, output_file_name
        )
        if len(line) >= max_line_bytes:
            return RowRejection(
                row_number,
                request_id,
                line_too_big_problem(len(line), max_line_bytes, "row"),
                dict(zip(names, cells)),  # noqa: B905 - cells hold a spare one
            )
        return AcceptedRow(row_number, request_id, line, names, cells)

    return check


def _audio_and_tts_problem(voice: str, script: str) -> str:
    given = " and ".join(name for name, v in (("tts_voice_id", voice), ("tts_script", script)) if v)
    return (
        f"Give either audio_url or tts_voice_id + tts_script, not both: this row has "
        f"audio_url and {given}. Empty the one you do not want."
    )


def _overflow_problem(width: int, overflow: list[str]) -> str:
    offset, value = next((i, v) for i, v in enumerate(overflow) if v)
    return (
        f"This row has more cells than the header has columns ({width}): {shown(value)} in "
        f"column {width + offset + 1} has no column name. A value that contains the "
        "delimiter must be in double quotes; otherwise add a name for that column to the header."
    )


def _missing_audio_problem(voice: str, script: str, layout: CsvLayout) -> str:
    if voice:
        return (
            "tts_script is empty: text-to-speech needs both tts_voice_id and tts_script. "
            "Fill in the script, or use audio_url instead."
        )
    if script:
        return (
            "tts_voice_id is empty: text-to-speech needs both tts_voice_id and tts_script. "
            "Fill in the ElevenLabs voice id, or use audio_url instead."
        )
    has_audio = layout.audio < layout.width
    has_tts = layout.voice < layout.width and layout.script < layout.width
    if has_audio and has_tts:
        return (
            "The row has no audio: fill audio_url, or tts_voice_id and tts_script for "
            "text-to-speech."
        )
    if has_audio:
        return (
            "audio_url is empty: every row needs a link to its audio "
            "(https://... or s3://bucket/key)."
        )
    return "tts_voice_id and tts_script are empty: every row needs a voice and a script to speak."


def read_csv(
    stream: BinaryIO, rules: IntakeRules, on_header: Callable[[list[str]], None]
) -> Iterator[AcceptedRow | RowRejection]:
    """Every non-blank data row of the file, in order; raises FileRejected for the whole file.

    Row numbers are what a spreadsheet shows: every record counts, blank ones included,
    and a cell with line breaks inside quotes stays one row.
    """
    lines = TextSource(stream).checked_lines()
    row_number = 0  # the last record read; a failure lies in the one after it
    request_ids = RequestIdIndex()
    try:
        first = next(lines, None)
        if first is None:
            raise FileRejected(_EMPTY)
        delimiter = _sep_hint(first)
        if delimiter is None:
            delimiter = detect_delimiter(first)
            lines = chain([first], lines)
        records = csv.reader(lines, delimiter=delimiter, quotechar='"', strict=False)

        layout: CsvLayout | None = None
        for record in records:
            row_number += 1
            cells = [cell.strip() for cell in record]
            if any(cells):
                layout = CsvLayout(cells, delimiter)
                break
        if layout is None:
            raise FileRejected(_EMPTY)
        on_header(layout.names)

        check = row_checker(layout, rules, request_ids)
        width = layout.width
        padding = [""] * (width + 1)
        max_rows = rules.max_rows
        data_rows = 0
        strip = str.strip
        for record in records:
            row_number += 1
            cells = list(map(strip, record))
            if not any(cells):
                continue  # Excel leaves blank records (";;;") at the end
            data_rows += 1
            if data_rows > max_rows:
                raise FileRejected(
                    f"The file has more than {max_rows:,} rows. Split it into files of at "
                    f"most {max_rows:,} rows and upload each one."
                )
            overflow = _NO_CELLS
            size = len(cells)
            if size < width:
                cells += padding[: width - size]
            elif size > width:
                overflow = cells[width:]
                del cells[width:]
                if not any(overflow):
                    overflow = _NO_CELLS  # trailing empty cells are harmless
            cells.append("")  # what an absent column reads as
            yield check(row_number, cells, overflow)
    except TextProblem as problem:
        raise FileRejected(problem.message(f"row {row_number + 1}")) from None
    except csv.Error as error:
        raise FileRejected(_csv_error_message(error, row_number + 1)) from None
    finally:
        request_ids.close()


def _csv_error_message(error: csv.Error, row: int) -> str:
    if "field larger than field limit" in str(error):
        return (
            f"Row {row} has a cell longer than {csv.field_size_limit():,} characters. Usually a "
            'double quote (") that is opened but never closed makes the rest of the file one cell: '
            "check the quotes in that row."
        )
    return f"Row {row} cannot be read as CSV ({error}). Export the file again as CSV."


_EMPTY = (
    "The file is empty: it needs a header row (video_url, audio_url, ...) and one row per "
    "video. Check that you uploaded the right file."
)
