"""Debian's Chromium driven by Playwright: never a browser download, never the network."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Route, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# What a page opened from disk may load; anything else is refused and recorded.
LOCAL_SCHEMES = ("file:", "data:")


def chromium_path() -> Path:
    """The system Chromium; a clear failure (never a skip) when the machine has none."""
    found = CHROMIUM if CHROMIUM.exists() else None
    if found is None and (on_path := shutil.which("chromium")):
        found = Path(on_path)
    if found is None:
        pytest.fail(
            f"No Chromium at {CHROMIUM} or on PATH: the browser tests need Debian's chromium. "
            "Install it with `apt-get install chromium` (.ci/run does so when it is missing).",
            pytrace=False,
        )
    return found


@dataclass
class Requests:
    """Every request the page made, and those refused for leaving the machine's files."""

    seen: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


@contextmanager
def local_browser(profile: Path) -> Iterator[tuple[BrowserContext, Requests]]:
    """A fresh Chromium profile whose every non-file request is aborted and recorded."""
    requests = Requests()

    def gate(route: Route) -> None:
        url = route.request.url
        if url.startswith(LOCAL_SCHEMES):
            route.continue_()
        else:
            requests.refused.append(url)
            route.abort()

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(chromium_path()),
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1280, "height": 860},
            service_workers="block",
        )
        try:
            context.on("request", lambda request: requests.seen.append(request.url))
            context.route("**/*", gate)
            yield context, requests
        finally:
            context.close()
