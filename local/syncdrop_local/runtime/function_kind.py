"""What event sources need of a function, however it runs (in this process or in its own)."""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from syncdrop_local.runtime.stack import FunctionSpec


class Invocable(Protocol):
    spec: FunctionSpec
    invocations: int
    cold_starts: int
    spans: deque[tuple[float, float]]

    def invoke(self, event: dict[str, Any]) -> Any: ...
