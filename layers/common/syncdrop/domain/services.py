"""The collaborators one invocation works with, handed to the domain as one value."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from syncdrop.ports import JobStore, ObjectStore, ResultStore, SyncApi


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Services:
    jobs: JobStore
    results: ResultStore
    objects: ObjectStore
    sync: SyncApi
    clock: Callable[[], datetime] = field(default=utc_now)
