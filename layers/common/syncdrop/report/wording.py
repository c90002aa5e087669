"""Numbers, durations, times and names written the way a person reads them in an email."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta

ELLIPSIS = "…"
# An extension longer than this is not one worth keeping when a name is shortened.
MAX_EXTENSION_CHARS = 8


def count(number: int) -> str:
    """1180 -> "1,180"."""
    return f"{number:,}"


def plural(number: int, noun: str, nouns: str | None = None) -> str:
    """(1, "row") -> "1 row"; (1180, "row") -> "1,180 rows"."""
    return f"{count(number)} {noun if number == 1 else (nouns or noun + 's')}"


def duration(elapsed: timedelta) -> str:
    """Like 48 s, 3 min 5 s, 2 h 14 min or 3 days 4 h; a negative span reads as 0 s."""
    seconds = max(0, round(elapsed.total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min" + (f" {seconds} s" if seconds else "")
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h" + (f" {minutes} min" if minutes else "")
    days, hours = divmod(hours, 24)
    return plural(days, "day") + (f" {hours} h" if hours else "")


def as_utc(moment: datetime) -> datetime:
    """Aware in UTC; a naive time is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def clock(moment: datetime) -> str:
    """Like 2025-01-15 10:35 UTC."""
    return as_utc(moment).strftime("%Y-%m-%d %H:%M UTC")


def one_line(text: str, limit: int | None = None) -> str:
    """Control characters and line breaks become spaces, runs of spaces one, and long text ends
    in an ellipsis, so a file name or a reason cannot break a subject or a list."""
    cleaned = "".join(
        " " if unicodedata.category(char) in ("Cc", "Zl", "Zp") else char for char in text
    )
    flat = " ".join(cleaned.split())
    if limit is not None and len(flat) > limit:
        return flat[: max(0, limit - 1)] + ELLIPSIS
    return flat


def shorten_name(name: str, width: int) -> str:
    """A file name cut to ``width`` characters with an ellipsis, keeping its extension."""
    if len(name) <= width:
        return name
    stem, dot, extension = name.rpartition(".")
    tail = ELLIPSIS + dot + extension
    if dot and stem and len(extension) <= MAX_EXTENSION_CHARS and width > len(tail):
        return stem[: width - len(tail)] + tail
    return name[: max(0, width - 1)] + ELLIPSIS
