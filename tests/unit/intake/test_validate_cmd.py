"""`syncdrop validate`: the offline check of an upload, its report and its exit codes."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from syncdrop_local.validate_cmd import add_arguments, run, upload_kind
from tests.unit.intake.uploads import AUDIO, VIDEO


def validate(path: Path, *options: str) -> int:
    parser = argparse.ArgumentParser(prog="syncdrop validate")
    add_arguments(parser)
    return run(parser.parse_args([str(path), *options]))


def write_csv(tmp_path: Path, rows: list[str], name: str = "videos.csv") -> Path:
    path = tmp_path / name
    path.write_text("request_id,video_url,audio_url\n" + "".join(r + "\n" for r in rows))
    return path


def good_rows(count: int) -> list[str]:
    return [f"clip-{i},{VIDEO},{AUDIO}" for i in range(count)]


def test_a_clean_file_exits_0_with_its_batch_plan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(tmp_path, good_rows(510))

    code = validate(path, "--json")

    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert report == {
        "rows": 510,
        "valid": 510,
        "rejected": 0,
        "batches": [255, 255],
        "path": "batch",
        "path_reason": "510 valid rows: enough for Sync batches (at least 20).",
        "errors": [],
        "file_error": None,
        "notes": [],
    }


def test_rejected_rows_exit_1_and_are_listed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(tmp_path, [*good_rows(25), f"bad,http://x.example.com/v.mp4,{AUDIO}"])

    code = validate(path, "--json")

    report = json.loads(capsys.readouterr().out)
    assert code == 1
    assert (report["rows"], report["valid"], report["rejected"]) == (26, 25, 1)
    assert report["batches"] == [25]
    assert report["file_error"] is None
    (error,) = report["errors"]
    assert error["row"] == 27
    assert error["request_id"] == "bad"
    assert "http://" in error["reason"]


def test_the_text_report_names_each_rejected_row_and_sums_up(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(tmp_path, [*good_rows(20), f"bad,{VIDEO},", f"clip-0,{VIDEO},{AUDIO}"])

    code = validate(path)

    out = capsys.readouterr().out
    assert code == 1
    assert "row 22 (request_id bad): audio_url is empty" in out
    assert "row 23: request_id 'clip-0' is already used by row 2" in out
    assert "22 rows, 20 valid, 2 rejected" in out
    assert "1 Sync batch of 20 rows" in out


def test_an_unusable_file_exits_2_with_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "videos.csv"
    path.write_bytes(f"video_url,audio_url\n{VIDEO},{AUDIO},Jos\xe9\n".encode("cp1252"))

    code = validate(path, "--json")

    report = json.loads(capsys.readouterr().out)
    assert code == 2
    assert "row 2" in report["file_error"]
    assert "CSV UTF-8" in report["file_error"]
    assert report["batches"] == []


def test_too_few_valid_rows_for_a_batch_go_as_single_generations_and_say_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(tmp_path, good_rows(19))

    code = validate(path)

    out = capsys.readouterr().out
    assert code == 0
    assert "19 rows, 19 valid, 0 rejected" in out
    assert "Path: as 19 single generations (POST /v2/generate)." in out
    assert "19 valid rows are fewer than the 20 a Sync batch needs" in out


def test_batches_only_refuses_too_few_valid_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(tmp_path, good_rows(19))

    code = validate(path, "--submit-mode", "batch")

    captured = capsys.readouterr()
    assert code == 2
    assert "at least 20 valid rows" in captured.err


def test_the_path_follows_the_submit_mode_and_the_batch_minimum(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(tmp_path, good_rows(30))
    assert validate(path, "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["path"], report["batches"]) == ("batch", [30])
    assert validate(path, "--json", "--submit-mode", "generate") == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["path"], report["batches"]) == ("generate", [])
    assert "SubmitMode generate" in report["path_reason"]
    assert validate(path, "--json", "--batch-min-lines", "31") == 0
    assert json.loads(capsys.readouterr().out)["path"] == "generate"


def test_a_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = validate(tmp_path / "nope.csv", "--json")

    assert code == 2
    assert "Cannot read" in json.loads(capsys.readouterr().out)["file_error"]


def test_the_model_option_sets_the_default_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "videos.csv"
    path.write_text(
        "video_url,audio_url,model_mode\n" + "".join(f"{VIDEO},{AUDIO},head\n" for _ in range(20))
    )

    assert validate(path, "--json") == 2  # model_mode needs react-1: no valid row left
    report = json.loads(capsys.readouterr().out)
    assert report["rejected"] == 20
    assert report["file_error"] == "No row is valid, so nothing would be sent to Sync."

    assert validate(path, "--json", "--model", "react-1") == 0


def test_s3_links_validate_offline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_csv(tmp_path, [f"c{i},s3://my-bucket/v {i}.mp4,{AUDIO}" for i in range(20)])

    assert validate(path, "--json") == 0


def test_jsonl_files_are_validated_by_extension_or_content(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = {
        "endpoint": "/v2/generate",
        "payload": {
            "model": "lipsync-2",
            "input": [{"type": "video", "url": VIDEO}, {"type": "audio", "url": AUDIO}],
        },
    }
    text = "".join(json.dumps({"request_id": f"r{i}", **line}) + "\n" for i in range(20))
    named = tmp_path / "batch.jsonl"
    named.write_text(text)
    unnamed = tmp_path / "batch.txt"
    unnamed.write_text(text)

    assert upload_kind(named) == "jsonl"
    assert upload_kind(unnamed) == "jsonl"
    assert validate(named, "--json") == 0
    assert json.loads(capsys.readouterr().out)["valid"] == 20
    # Read by its content, but refused: the stack never picks up a .txt upload.
    assert validate(unnamed, "--json") == 2
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] == 20
    assert "it would ignore batch.txt" in report["file_error"]


def test_an_excel_unicode_text_file_is_sniffed_as_csv(tmp_path: Path) -> None:
    path = tmp_path / "export.txt"
    path.write_bytes(f"video_url\taudio_url\r\n{VIDEO}\t{AUDIO}\r\n".encode("utf-16"))

    assert upload_kind(path) == "csv"
