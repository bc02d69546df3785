"""The report's I/O: where its data comes from (state, manifest, spec) and writing the page."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from orchestrator.atomic import replace_file
from orchestrator.engine.manifest import build_manifest, manifest_path, read_results
from orchestrator.errors import ReportError, SpecError
from orchestrator.model import Campaign
from orchestrator.report.cards import build_page
from orchestrator.report.page import report_chunks
from orchestrator.results import Manifest
from orchestrator.review.reviewfile import Review, ReviewError, load_review, review_path
from orchestrator.state import Reads, open_state, state_found

REPORT_NAME = "report.html"


def report_path(campaign: Campaign) -> Path:
    """Where the campaign's report lives: beside its manifest."""
    return campaign.output_dir / REPORT_NAME


def load_manifest(
    campaign: Campaign, state: str | Path | None, default_path: Path
) -> Manifest | None:
    """The state's manifest when there is a state (a file or a PostgreSQL URL; ``state`` else
    $MJV_STATE else ``default_path``), else the written manifest, else None."""
    if state_found(state, default_path=default_path):  # looking must not create a state file
        with open_state(state, campaign.name, default_path=default_path) as store:
            return build_manifest(campaign, store)
    return read_results(manifest_path(campaign))


def write_report(campaign: Campaign, manifest: Manifest | None) -> Path:
    """Render the report of ``campaign`` from ``manifest`` and write it, a card at a time;
    return its path."""
    path, review = report_path(campaign), _review(campaign)
    try:
        _replace(path, report_chunks(build_page(campaign, manifest, review)))
    except ReportError as exc:
        raise ReportError(f"{manifest_path(campaign)}: {exc}") from exc
    return path


def _review(campaign: Campaign) -> Review:
    """The verdicts report.html shows (read-only)."""
    try:
        return load_review(review_path(campaign.spec_path))
    except (SpecError, ReviewError) as exc:
        raise ReportError(f"the review file: {exc}") from exc


def refresh_report(campaign: Campaign, store: Reads) -> str:
    """Rewrite the report from ``store`` after a run: its path, or why it was not written.

    A report that cannot be written must not turn a finished run into a failed one.
    """
    try:
        return str(write_report(campaign, build_manifest(campaign, store)))
    except ReportError as exc:
        return f"not written: {exc}"


def _replace(path: Path, chunks: Iterable[str]) -> None:
    try:
        replace_file(path, (chunk.encode("utf-8") for chunk in chunks))
    except OSError as exc:
        raise ReportError(f"{path}: cannot write the report: {exc}") from exc
