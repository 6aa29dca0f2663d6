"""Reporters: one module per format, each ``render(evaluation, run) -> str``; they never print.

``REPORTERS`` names them for ``--format``, the ``--FORMAT-output`` flags and
``--help`` without importing them (start-up time matters for ``--help``);
``renderer()`` loads one. ``DRIFT_REPORTERS`` does the same for ``diff``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from genesys_oauth_audit.engine.drift import Drift
    from genesys_oauth_audit.findings import Evaluation
    from genesys_oauth_audit.leastpriv.recommend import Recommendation
    from genesys_oauth_audit.report.base import RunInfo

REPORTERS: dict[str, tuple[str, str]] = {
    "text": (
        "genesys_oauth_audit.report.text",
        "for people: grouped, as wide as the terminal (80 in files)",
    ),
    "json": (
        "genesys_oauth_audit.report.json_report",
        "machine-readable, schemas/report.schema.json",
    ),
    "sarif": ("genesys_oauth_audit.report.sarif", "SARIF 2.1.0 for GitHub code scanning"),
    "junit": ("genesys_oauth_audit.report.junit", "JUnit XML for GitLab, Jenkins, Azure DevOps"),
    "markdown": (
        "genesys_oauth_audit.report.markdown",
        "for a pull-request comment or the job summary, $GITHUB_STEP_SUMMARY",
    ),
    "html": (
        "genesys_oauth_audit.report.html",
        "one self-contained page to open, filter and share",
    ),
}


def renderer(name: str) -> Callable[[Evaluation, RunInfo], str]:
    module = importlib.import_module(REPORTERS[name][0])
    render: Callable[[Evaluation, RunInfo], str] = module.render
    return render


# ``diff`` formats: name -> (function of report/drift.py, what it is for).
DRIFT_REPORTERS: dict[str, tuple[str, str]] = {
    "text": ("render_text", "for people"),
    "json": ("render_json", "machine-readable"),
    "markdown": ("render_markdown", "for an issue or the job summary"),
}


def drift_renderer(name: str) -> Callable[[Drift], str]:
    module = importlib.import_module("genesys_oauth_audit.report.drift")
    render: Callable[[Drift], str] = getattr(module, DRIFT_REPORTERS[name][0])
    return render


# ``recommend`` formats: name -> (function of report/recommend.py, what it is for).
RECOMMENDERS: dict[str, tuple[str, str]] = {
    "terraform": (
        "render_terraform",
        "CX-as-Code: a genesyscloud_auth_role and the client's roles blocks",
    ),
    "json": ("render_json", "the request body of POST /api/v2/authorization/roles, per role"),
    "text": ("render_text", "for people"),
}


def recommender(name: str) -> Callable[[Sequence[Recommendation]], str]:
    module = importlib.import_module("genesys_oauth_audit.report.recommend")
    render: Callable[[Sequence[Recommendation]], str] = getattr(module, RECOMMENDERS[name][0])
    return render
