"""How an invocation of a function running in its own process can fail, in Lambda's words."""

from __future__ import annotations

from typing import Any


class InvocationFailed(Exception):
    """An invocation that returned no answer. ``kind`` is Lambda's errorType for it."""

    kind: str = "Runtime.Unknown"

    def __init__(
        self,
        message: str,
        *,
        kind: str | None = None,
        stack_trace: list[str] | None = None,
        request_id: str = "",
    ) -> None:
        super().__init__(message)
        if kind is not None:
            self.kind = kind
        self.error_message = message
        self.stack_trace = list(stack_trace or [])
        self.request_id = request_id

    @property
    def error_type(self) -> str:
        return self.kind

    def document(self) -> dict[str, Any]:
        """The error as Lambda's Invoke returns it."""
        return {
            "errorType": self.kind,
            "errorMessage": self.error_message,
            "requestId": self.request_id,
            "stackTrace": self.stack_trace,
        }

    @classmethod
    def from_document(cls, document: dict[str, Any], request_id: str = "") -> InvocationFailed:
        return cls(
            str(document.get("errorMessage", "")),
            kind=str(document.get("errorType") or cls.kind),
            stack_trace=[str(line) for line in document.get("stackTrace") or []],
            request_id=request_id,
        )


class HandlerError(InvocationFailed):
    """The handler raised (or returned what cannot be marshalled); ``kind`` is its errorType."""


class InitError(InvocationFailed):
    """The runtime could not load the handler (Runtime.ImportModuleError and the like)."""


class TaskTimedOut(InvocationFailed):
    """The function's Timeout passed; the environment was killed."""

    kind = "Sandbox.Timedout"


class OutOfMemory(InvocationFailed):
    """The environment went over the function's MemorySize and was killed."""

    kind = "Runtime.OutOfMemory"


class ExitError(InvocationFailed):
    """The environment's process ended in the middle of the invocation."""

    kind = "Runtime.ExitError"
