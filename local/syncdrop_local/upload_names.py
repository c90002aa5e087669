"""Which uploaded file names the stack picks up: the uploads bucket's notification filter."""

from __future__ import annotations

# template.yaml's S3 notification: suffix .csv or .jsonl under incoming/. S3 compares
# suffixes case-sensitively, so campaign.CSV is never picked up.
PICKED_UP = (".csv", ".jsonl")

EXCEL_EXPORT = (
    "From Excel, use File > Save As > CSV UTF-8 (Comma delimited) (*.csv); Excel's "
    "'Unicode Text' (*.txt) export is not picked up"
)


def ignored_name_reason(name: str) -> str | None:
    """Why the stack would never see a file of this name, with what to do; None if it would."""
    if name.endswith(PICKED_UP):
        return None
    if name.lower().endswith(PICKED_UP):
        fix = "rename it with a lower-case extension (.csv or .jsonl)"
    else:
        fix = "rename it to end in .csv (or .jsonl for Sync batch lines)"
    return (
        f"the stack picks up only files named *.csv or *.jsonl, so it would ignore {name}: "
        f"{fix}. {EXCEL_EXPORT}."
    )
