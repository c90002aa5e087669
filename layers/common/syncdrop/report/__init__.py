"""Report: Sync's output lines become row outcomes, a results CSV and the one email per file."""

from syncdrop.report.email import (
    Email,
    EmailStatus,
    JobReport,
    completed_email,
    dry_run_email,
    failed_file_email,
    top_error_reasons,
)
from syncdrop.report.result_lines import GenerationResult, RowStatus, parse_result_line
from syncdrop.report.results_csv import (
    RESULT_COLUMNS,
    ReportRow,
    ResultCounts,
    spreadsheet_safe,
    write_results_csv,
)

__all__ = [
    "RESULT_COLUMNS",
    "Email",
    "EmailStatus",
    "GenerationResult",
    "JobReport",
    "ReportRow",
    "ResultCounts",
    "RowStatus",
    "completed_email",
    "dry_run_email",
    "failed_file_email",
    "parse_result_line",
    "spreadsheet_safe",
    "top_error_reasons",
    "write_results_csv",
]
