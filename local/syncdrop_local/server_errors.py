"""A request the local stack's HTTP servers (moto's, the Sync emulator's, the webhook front's)
failed to answer: socketserver prints its traceback on stderr, over the demo's progress; while
the local service runs it is logged with the functions' lines instead (their log file, or
stdout with --verbose)."""

from __future__ import annotations

import logging
import socketserver
from collections.abc import Callable
from typing import Any

# Under the functions' logger: it goes wherever their lines go (local_service.FunctionOutput).
log = logging.getLogger("syncdrop.function.servers")


def _logged(server: socketserver.BaseServer, request: Any, client_address: Any) -> None:
    name = type(server).__name__
    log.warning("%s: a request from %s failed", name, client_address, exc_info=True)


def log_server_errors() -> Callable[[], None]:
    """Every socketserver-based server logs its failed requests; returns what undoes it."""
    printed = socketserver.BaseServer.handle_error
    socketserver.BaseServer.handle_error = _logged  # type: ignore[method-assign,assignment]

    def undo() -> None:
        socketserver.BaseServer.handle_error = printed  # type: ignore[method-assign]

    return undo
