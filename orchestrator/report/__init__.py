"""`mjv report`: one self-contained HTML page showing every job's images, prompts and clips."""

from orchestrator.report.cards import ReportError, build_page
from orchestrator.report.files import (
    REPORT_NAME,
    load_manifest,
    refresh_report,
    report_path,
    write_report,
)
from orchestrator.report.page import render_report

__all__ = [
    "REPORT_NAME",
    "ReportError",
    "build_page",
    "load_manifest",
    "refresh_report",
    "render_report",
    "report_path",
    "write_report",
]
