"""The report page: one self-contained HTML file beside the results CSV, for a person to look at.

Rows are spooled as JSON while the results CSV streams out, and the page is written once the
counts are known: the head (counts, bar, reasons), the spooled rows as an inline JSON block, and
a small script that renders the table with a status filter and a search box. Nothing on the page
is fetched from anywhere (inline CSS and script, no fonts or images), so it opens from S3 or disk.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO
from urllib.parse import urlsplit

from syncdrop.report.result_lines import RowStatus
from syncdrop.report.results_csv import RESULT_COLUMNS, ReportRow, ResultCounts, results_header
from syncdrop.report.wording import clock, count, one_line, plural

# A reason or cell longer than this is cut on the page; the results CSV keeps it whole.
CELL_CHARS = 500
# Presigned links differ only in their file name and signature: the rest is written once.
SIGNATURE_PARAMS = ("X-Amz-Signature", "Signature")

STATUS_WORDS = {
    RowStatus.COMPLETED: "done",
    RowStatus.FAILED: "failed",
    RowStatus.TIMED_OUT: "timed out",
    RowStatus.REJECTED: "rejected",
    RowStatus.CANCELLED: "cancelled",
}

_STYLE = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2em auto;
max-width:75em;padding:0 1em;color:#1d2329;background:#fff}
h1{font-size:1.5em;margin:0 0 .2em}h2{font-size:1.15em;margin:1.6em 0 .5em}
.muted{color:#5b6670}
.bar{display:flex;height:1.6em;border-radius:4px;overflow:hidden;background:#e8ebee;margin:.8em 0}
.bar span{min-width:2px}
.COMPLETED{background:#2e8540}.FAILED{background:#c5283d}.TIMED_OUT{background:#e08a00}
.REJECTED{background:#6c757d}.CANCELLED{background:#9aa5b1}
.legend{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:1.4em;margin:0}
.legend i{display:inline-block;width:.9em;height:.9em;border-radius:2px;margin-right:.35em;
vertical-align:-.1em}
.legend b{font-variant-numeric:tabular-nums}
.reasons td:first-child{text-align:right;padding-right:1em;white-space:nowrap;
font-variant-numeric:tabular-nums}
.controls{display:flex;flex-wrap:wrap;gap:1em;align-items:center;margin:.5em 0}
.controls input{min-width:20em}
.controls input,.controls select,.controls button{font:inherit;padding:.25em .4em}
table.rows{border-collapse:collapse;width:100%}
.rows th,.rows td{border-bottom:1px solid #e1e4e8;padding:.35em .5em;text-align:left;
vertical-align:top;overflow-wrap:anywhere}
.rows th{background:#f6f8fa;position:sticky;top:0;white-space:nowrap}
.rows td.tight{white-space:nowrap;overflow-wrap:normal}
.rows td.reason{min-width:14em}
.rows video{width:14em;height:7.9em;background:#000;display:block}
.status{font-weight:600}.status.COMPLETED{color:#2e8540;background:none}
.status.FAILED,.status.CANCELLED{color:#c5283d;background:none}
.status.TIMED_OUT{color:#a86400;background:none}.status.REJECTED{color:#5b6670;background:none}
"""

# Renders the rows with textContent only: no cell is ever parsed as HTML.
_SCRIPT = """
(function () {
  "use strict";
  var PAGE = 500;
  var data = JSON.parse(document.getElementById("report-rows").textContent);
  var links = JSON.parse(document.getElementById("report-links").textContent);
  var words = data.words, rows = data.rows, shown = rows, page = 0;
  var body = document.getElementById("rows-body");
  var status = document.getElementById("status-filter");
  var search = document.getElementById("search");
  var summary = document.getElementById("rows-shown");
  var prev = document.getElementById("prev"), next = document.getElementById("next");
  var head = document.getElementById("rows-head");
  data.columns.forEach(function (name) {
    var th = document.createElement("th");
    th.textContent = name;
    head.appendChild(th);
  });
  function videoLink(video) {
    if (typeof video === "string") { return video; }
    var t = links[video[0]];
    return t[0] + video[1] + "?" + t[1].replace("\\u0000", video[2]);
  }
  function haystack(row) {
    if (row.text === undefined) {
      row.text = [row[0], words[row[1]] || row[1], row[1], row[2], row[3]]
        .concat(row[5]).join("\\n").toLowerCase();
    }
    return row.text;
  }
  function cell(tr, text) {
    var td = document.createElement("td");
    td.textContent = text;
    tr.appendChild(td);
    return td;
  }
  function render() {
    var first = page * PAGE, last = Math.min(shown.length, first + PAGE);
    var fragment = document.createDocumentFragment();
    for (var i = first; i < last; i++) {
      var row = shown[i], tr = document.createElement("tr");
      tr.setAttribute("data-row", row[0]);
      cell(tr, row[0]).className = "tight";
      var s = cell(tr, words[row[1]] || row[1]);
      s.className = "tight status " + row[1];
      s.setAttribute("data-status", row[1]);
      cell(tr, row[2]).className = "reason";
      cell(tr, row[3]).className = "tight";
      var v = cell(tr, "");
      if (row[4]) {
        var video = document.createElement("video");
        video.controls = true;
        video.preload = "none";
        video.src = videoLink(row[4]);
        v.appendChild(video);
      }
      row[5].forEach(function (text) { cell(tr, text); });
      fragment.appendChild(tr);
    }
    body.replaceChildren(fragment);
    summary.textContent = shown.length === 0 ? "No row matches." :
      "Showing " + (first + 1) + "\\u2013" + last + " of " + shown.length +
      (shown.length === 1 ? " row" : " rows") +
      (shown.length === rows.length ? "." : " (of " + rows.length + " in the file).");
    prev.disabled = page === 0;
    next.disabled = last >= shown.length;
  }
  function filter() {
    var wanted = status.value, needle = search.value.trim().toLowerCase();
    shown = rows.filter(function (row) {
      return (!wanted || row[1] === wanted) && (!needle || haystack(row).indexOf(needle) >= 0);
    });
    page = 0;
    render();
  }
  status.addEventListener("change", filter);
  search.addEventListener("input", filter);
  prev.addEventListener("click", function () { page -= 1; render(); });
  next.addEventListener("click", function () { page += 1; render(); });
  document.getElementById("controls").hidden = false;
  render();
})();
"""
# Only this script may run (CSP hash), and the page may fetch nothing but the videos it plays.
_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; "
    f"script-src 'sha256-{base64.b64encode(hashlib.sha256(_SCRIPT.encode()).digest()).decode()}'; "
    "media-src https: http:; base-uri 'none'; form-action 'none'"
)


@dataclass(frozen=True, slots=True)
class PageFacts:
    """What the page says above its table, known once every row has been written."""

    file_name: str
    counts: ResultCounts
    # (reason, how many rows), most frequent first: the email's list, maybe longer.
    reasons: Sequence[tuple[str, int]]
    finished_at: datetime
    links_expire_at: datetime
    job_id: str


def script_json(value: object) -> str:
    """JSON that cannot end its <script> block or open a comment: <, > and & are escaped."""
    text = json.dumps(value, ensure_ascii=True, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


class VideoLinks:
    """Row video links, each presigned link split into a shared part and what is its own.

    The shared part (the folder, the credential, the expiry, the security token: about 1 KB
    with a Lambda role's credentials) is written once per distinct value, so 100,000 rows
    stay about 100 bytes of link each.
    """

    def __init__(self) -> None:
        self.shared: list[tuple[str, str]] = []
        self._index: dict[tuple[str, str], int] = {}

    def compact(self, url: str) -> str | list[int | str]:
        prefix, _, query = url.partition("?")
        folder, slash, name = prefix.rpartition("/")
        params = query.split("&") if query else []
        signed = [i for i, p in enumerate(params) if p.split("=", 1)[0] in SIGNATURE_PARAMS]
        if not slash or len(signed) != 1:
            return url
        (at,) = signed
        key, _, signature = params[at].partition("=")
        params[at] = f"{key}=\0"  # the row's signature goes here
        shared = (folder + "/", "&".join(params))
        number = self._index.setdefault(shared, len(self.shared))
        if number == len(self.shared):
            self.shared.append(shared)
        return [number, name, signature]


class ReportPage:
    """Collects the rows as they stream into the results CSV, then writes the page.

    ``video_link`` turns a finished row into a link the page can play ("" for none); ``spool``
    is a temporary file that holds the rows' JSON meanwhile.
    """

    def __init__(
        self,
        spool: BinaryIO,
        input_columns: Sequence[str],
        video_link: Callable[[ReportRow], str],
    ) -> None:
        self._spool = spool
        self._video_link = video_link
        extra = results_header(input_columns)[len(RESULT_COLUMNS) :]
        self._columns = [(shown, source) for shown, source in extra if source is not None]
        self._links = VideoLinks()
        self._rows = 0
        self._statuses: set[RowStatus] = set()

    def rows(self, rows: Iterable[ReportRow]) -> Iterator[ReportRow]:
        """The same rows, each one also recorded for the page."""
        for row in rows:
            self._add(row)
            yield row

    def _add(self, row: ReportRow) -> None:
        link = _playable(self._video_link(row)) if row.status is RowStatus.COMPLETED else ""
        record = [
            row.row_number,
            str(row.status),
            one_line(row.error_message, CELL_CHARS),
            row.request_id,
            self._links.compact(link) if link else "",
            [one_line(row.columns.get(source, ""), CELL_CHARS) for _, source in self._columns],
        ]
        self._statuses.add(row.status)
        self._spool.write((b"," if self._rows else b"") + script_json(record).encode())
        self._rows += 1

    def write(self, facts: PageFacts, out: BinaryIO) -> None:
        """The whole page into ``out``: the head, the spooled rows, the script."""
        out.write(_head(facts, self._statuses).encode("utf-8", errors="replace"))
        data = {"columns": [shown for shown, _ in self._columns], "words": STATUS_WORDS}
        opening = script_json(data)[:-1] + ',"rows":['
        out.write(f'<script type="application/json" id="report-rows">{opening}'.encode())
        self._spool.seek(0)
        shutil.copyfileobj(self._spool, out)
        out.write(b"]}</script>\n")
        links = script_json(self._links.shared)
        out.write(f'<script type="application/json" id="report-links">{links}</script>\n'.encode())
        out.write(f"<script>{_SCRIPT}</script>\n</body>\n</html>\n".encode())


def _playable(link: str) -> str:
    """Only web links reach a <video src>: never javascript:, data: or a relative path."""
    return link if urlsplit(link).scheme in ("https", "http") else ""


def _head(facts: PageFacts, statuses: set[RowStatus]) -> str:
    e = html.escape
    counts = facts.counts
    name = one_line(facts.file_name) or "your file"
    parts = [
        (RowStatus.COMPLETED, "done", counts.completed),
        (RowStatus.FAILED, "failed", counts.failed),
        (RowStatus.TIMED_OUT, "timed out", counts.timed_out),
        (RowStatus.REJECTED, "rejected", counts.rejected),
        (RowStatus.CANCELLED, "cancelled", counts.cancelled),
    ]
    # Done, failed and rejected always; timed out and cancelled only when a job has some.
    occasional = (RowStatus.TIMED_OUT, RowStatus.CANCELLED)
    shown = [p for p in parts if p[2] or p[0] not in occasional]
    bar = "".join(
        f'<span class="{status}" style="flex-grow:{number}" title="{e(word)}: {count(number)}">'
        "</span>"
        for status, word, number in shown
        if number
    )
    legend = "".join(
        f'<li><i class="{status}"></i><b data-count="{status}">{count(number)}</b> {e(word)}</li>'
        for status, word, number in shown
    )
    label = ", ".join(f"{count(number)} {word}" for _, word, number in shown)
    options = "".join(
        f'<option value="{status}">{e(word)}</option>'
        for status, word in STATUS_WORDS.items()
        if status in statuses
    )
    reasons = (
        '<table class="reasons" id="reasons"><tbody>'
        + "".join(
            f'<tr><td data-rows="{times}">{e(plural(times, "row"))}</td><td>{e(reason)}</td></tr>'
            for reason, times in facts.reasons
        )
        + "</tbody></table>"
        if facts.reasons
        else "<p>Every row became a video.</p>"
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{e(_CSP)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>syncdrop: {e(name)}</title>
<style>{_STYLE}</style>
</head>
<body>
<h1>syncdrop: {e(name)}</h1>
<p class="muted">Finished {e(clock(facts.finished_at))}. Job id: {e(one_line(facts.job_id))}</p>
<h2>Outcome</h2>
<div class="bar" id="outcome" role="img" aria-label="{e(label)}">{bar}</div>
<ul class="legend">{legend}<li><b data-count="TOTAL">{count(counts.total)}</b> rows in all</li></ul>
<h2>Why rows did not become videos</h2>
{reasons}
<h2>Every row</h2>
<p id="links-note">Video links work until {e(clock(facts.links_expire_at))}. A video that could
not be copied into your bucket plays from Sync's own link, which expires on Sync's schedule.
The results CSV beside this page has every row too.</p>
<noscript><p>Turn on JavaScript to see the rows here, or open the results CSV.</p></noscript>
<div class="controls" id="controls" hidden>
<label>Status <select id="status-filter"><option value="">all</option>{options}</select></label>
<label>Search <input id="search" type="search"
placeholder="row, reason, request id, your columns"></label>
<button type="button" id="prev">Previous</button><button type="button" id="next">Next</button>
<span id="rows-shown" aria-live="polite"></span>
</div>
<table class="rows"><thead><tr id="rows-head"><th>Row</th><th>Status</th><th>Reason</th>
<th>request_id</th><th>Video</th></tr></thead><tbody id="rows-body"></tbody></table>
"""
