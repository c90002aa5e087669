"""`syncdrop demo` without --verbose: the functions' lines, and a request the local servers
failed to answer, go to a log file instead of the terminal."""

from __future__ import annotations

import logging
import socketserver
from pathlib import Path

import pytest

from syncdrop_local.local_service import FUNCTION_LOGGER, FunctionOutput


class Server(socketserver.TCPServer):
    """Never bound: only its error report is used."""


def a_request_failed(server: socketserver.BaseServer) -> None:
    try:
        raise ConnectionResetError("the client gave up")
    except ConnectionResetError:
        server.handle_error(None, ("127.0.0.1", 40000))  # type: ignore[arg-type] # unused


def test_the_lines_and_a_servers_failed_request_go_to_the_file_not_the_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "functions.log"
    server = Server(("127.0.0.1", 0), socketserver.BaseRequestHandler, bind_and_activate=False)
    service = logging.getLogger("syncdrop.local")
    output = FunctionOutput(verbose=False, log_file=log)
    logging.getLogger(f"{FUNCTION_LOGGER}.CopyOutputsFunction").info('{"message": "copied"}')
    service.warning("FanOutResultsFunction failed (Timeout); its messages go back to the queue")
    a_request_failed(server)
    output.close()

    assert capsys.readouterr() == ("", "")
    lines = log.read_text(encoding="utf-8").splitlines()
    assert lines[0] == '{"message": "copied"}'
    assert lines[1].startswith("FanOutResultsFunction failed (Timeout)")
    assert lines[2] == "Server: a request from ('127.0.0.1', 40000) failed"
    assert lines[-1] == "ConnectionResetError: the client gave up"
    assert service.propagate  # the service's lines reach stderr again (`syncdrop local`)
    assert service.handlers == []

    # Closed: socketserver prints its tracebacks again, and nothing more reaches the file.
    a_request_failed(server)
    assert "ConnectionResetError: the client gave up" in capsys.readouterr().err
    assert log.read_text(encoding="utf-8").splitlines() == lines
