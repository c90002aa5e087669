"""Reading a report page back as its script does: its rows and their video links."""

from __future__ import annotations

import json
import re
from typing import Any


def data_block(page: str, block_id: str) -> Any:
    """The JSON of one <script type="application/json" id=...> block of the page."""
    match = re.search(
        rf'<script type="application/json" id="{block_id}">(.*?)</script>', page, re.DOTALL
    )
    assert match is not None, f"no {block_id} block"
    return json.loads(match.group(1))


def page_rows(page: str) -> list[list[Any]]:
    """[row number, status, reason, request_id, video, [the person's cells]] per row."""
    return list(data_block(page, "report-rows")["rows"])


def video_links(page: str) -> dict[int, str]:
    """Row number → the link its <video> plays, put back together as the page's script does."""
    shared = data_block(page, "report-links")
    links = {}
    for number, _, _, _, video, _ in page_rows(page):
        if isinstance(video, list):
            folder, query = shared[video[0]]
            links[number] = f"{folder}{video[1]}?{query.replace(chr(0), video[2])}"
        elif video:
            links[number] = video
    return links
