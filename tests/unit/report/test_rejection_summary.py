"""A refused file's rejected rows grouped by reason: most common first, lowest rows kept."""

from __future__ import annotations

from syncdrop.report.rejection_summary import RejectionGroup, group_rejections


def test_groups_keep_the_lowest_row_numbers_whatever_order_the_rows_come_in() -> None:
    # The results table returns rows by request id, not by row number.
    rows = [(n, "audio_url is empty") for n in range(200, 1, -1)] + [(7, "bad model")]

    groups = group_rejections(rows)

    assert groups == [
        RejectionGroup("audio_url is empty", 199, (2, 3, 4, 5, 6)),
        RejectionGroup("bad model", 1, (7,)),
    ]


def test_ties_go_to_the_reason_met_first_in_the_file_and_the_rest_are_cut() -> None:
    rows = [(9, "c"), (3, "b"), (4, "b"), (2, "a"), (5, "a"), (8, "d"), (6, "e"), (10, "f")]

    groups = group_rejections(rows, limit=3)

    assert [(g.reason, g.rows) for g in groups] == [("a", 2), ("b", 2), ("e", 1)]


def test_a_line_names_the_row_or_the_rows() -> None:
    assert RejectionGroup("why", 1, (12,)).line(300) == "row 12: why"
    assert RejectionGroup("why", 2, (3, 1_204)).line(300) == "2 rows (rows 3, 1,204): why"
    assert RejectionGroup("why", 9, (2, 3)).line(300) == "9 rows (rows 2, 3, …): why"
    assert RejectionGroup("x" * 50, 1, (2,)).line(10) == "row 2: " + "x" * 9 + "…"


def test_blank_reasons_are_named_and_line_breaks_flattened() -> None:
    groups = group_rejections([(2, ""), (3, "two\nlines")])
    assert {g.reason for g in groups} == {"No reason given", "two lines"}
