"""What `syncdrop local` and `syncdrop demo` show of the lines their functions' processes print."""

from __future__ import annotations

import logging

import pytest

from syncdrop_local.local_service import FUNCTION_LOGGER, FunctionOutput


def printed_by_a_function(line: str, level: int) -> None:
    """As runtime/function_log.py hands on a line the process wrote: stdout INFO, stderr WARNING."""
    logging.getLogger(f"{FUNCTION_LOGGER}.syncdrop-local-SubmitBatchFunction").log(
        level, "%s", line
    )


def test_verbose_shows_each_line_on_stdout_as_it_was_written(
    capsys: pytest.CaptureFixture[str],
) -> None:
    output = FunctionOutput(verbose=True)
    printed_by_a_function('{"level":"INFO","message":"job planned"}', logging.INFO)
    printed_by_a_function("UserWarning: No application metrics to publish.", logging.WARNING)
    output.close()
    printed_by_a_function('{"level":"INFO","message":"after the stop"}', logging.INFO)

    captured = capsys.readouterr()
    assert captured.out == (
        '{"level":"INFO","message":"job planned"}\n'
        "UserWarning: No application metrics to publish.\n"
    )
    assert captured.err == ""


def test_without_verbose_nothing_is_shown_and_the_logger_is_given_back(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    logger = logging.getLogger(FUNCTION_LOGGER)
    before = (logger.level, logger.propagate, list(logger.handlers))
    output = FunctionOutput(verbose=False)
    printed_by_a_function("Traceback (most recent call last):", logging.WARNING)
    printed_by_a_function('{"level":"ERROR","message":"boom"}', logging.INFO)
    output.close()

    assert capsys.readouterr() == ("", "")
    assert caplog.records == []
    assert (logger.level, logger.propagate, list(logger.handlers)) == before
