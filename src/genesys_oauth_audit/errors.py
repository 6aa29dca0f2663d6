"""The whole error tree: every expected failure is one of these, and each knows its exit code."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class ExitCode(IntEnum):
    """Exit codes are API (docs/exit-codes.md): the same for every command."""

    OK = 0
    FINDINGS = 1
    BAD_INPUT = 2
    INCOMPLETE = 3

    @property
    def meaning(self) -> str:
        return _MEANINGS[self]


_MEANINGS = {
    ExitCode.OK: "ran completely; no finding at or above --fail-on",
    ExitCode.FINDINGS: "ran completely; findings at or above --fail-on",
    ExitCode.BAD_INPUT: "bad input: unreadable or invalid policy, snapshot or proposal file, bad flags",
    ExitCode.INCOMPLETE: (
        "the audit could not be completed: authentication, permission, network or API failure"
    ),
}


_STOPPED = "interrupted (Ctrl-C, SIGTERM), or an internal error (a bug: please report it)"

# What each exit code means for each command: every command's ``--help`` is built from this one
# table, and docs/exit-codes.md says the same (tests/test_cli_habits.py keeps them equal). A
# command not listed here has the general meanings above.
COMMAND_EXIT_CODES: dict[str, dict[ExitCode, str]] = {
    "fetch": {
        ExitCode.OK: "the snapshot was written (fetch has no findings: it never exits 1)",
        ExitCode.BAD_INPUT: "bad flags, or an output path that cannot be written",
        ExitCode.INCOMPLETE: "the org could not be read completely; no snapshot was written",
    },
    "check": dict(_MEANINGS),
    "validate": {
        ExitCode.OK: "every policy file is valid (warnings do not fail)",
        ExitCode.BAD_INPUT: "a policy file is unreadable or invalid: each problem as "
        "path:line:col, then a count",
        ExitCode.INCOMPLETE: _STOPPED,
    },
    "rules": {
        ExitCode.OK: "the rules were listed",
        ExitCode.BAD_INPUT: "a policy file is unreadable or invalid",
        ExitCode.INCOMPLETE: _STOPPED,
    },
    "explain": {
        ExitCode.OK: "the rule was explained",
        ExitCode.BAD_INPUT: "no rule of that id in the policies, or a policy file is invalid",
        ExitCode.INCOMPLETE: _STOPPED,
    },
    "test": {
        ExitCode.OK: "every policy test passed",
        ExitCode.FINDINGS: "a policy test failed",
        ExitCode.BAD_INPUT: "a test file, or a policy or inventory it names, is unreadable or "
        "invalid",
        ExitCode.INCOMPLETE: _STOPPED,
    },
    "diff": {
        ExitCode.OK: "no change of a --fail-on class (with the default, any: no drift at all)",
        ExitCode.FINDINGS: "a change of a --fail-on class (with the default, any: any drift)",
        ExitCode.BAD_INPUT: "a snapshot is unreadable or invalid, the two are of different "
        "orgs, or bad flags",
        ExitCode.INCOMPLETE: _STOPPED,
    },
    "recommend": {
        ExitCode.OK: "the recommendations were written (recommend never writes to the org)",
        ExitCode.BAD_INPUT: "bad flags, an unknown client, or an unreadable or invalid snapshot",
        ExitCode.INCOMPLETE: "the org could not be read completely (usage included); nothing was "
        "written",
    },
    "orgs list": {
        ExitCode.OK: "the orgs file is valid; its orgs were listed",
        ExitCode.BAD_INPUT: "the orgs file is unreadable or invalid: each problem as "
        "path:line:col, then a count",
        ExitCode.INCOMPLETE: _STOPPED,
    },
    "merge": {
        ExitCode.OK: "every org of the reports ran completely, with no finding at or above "
        "--fail-on",
        ExitCode.FINDINGS: "every org ran completely; an org has findings at or above --fail-on",
        ExitCode.BAD_INPUT: "a report is unreadable, or the reports are of different tool or "
        "policy versions, or two are of one org",
        ExitCode.INCOMPLETE: "an org could not be audited (its report says why), or an org of the "
        "orgs file has no report",
    },
}


def exit_code_table(command: str | None = None) -> str:
    """The exit-code table as shown in ``--help``: the general one, or one command's own."""
    meanings = COMMAND_EXIT_CODES.get(command, _MEANINGS) if command else _MEANINGS
    return "\n".join(f"  {code.value}  {meaning}" for code, meaning in meanings.items())


def exit_codes_markdown() -> str:
    """Every command's exit codes as one Markdown table (docs/exit-codes.md holds it verbatim)."""
    rows = ["| command | code | meaning |", "|---|---|---|"]
    for command, meanings in COMMAND_EXIT_CODES.items():
        rows += [
            f"| `{command}` | {code.value} | {meaning} |" for code, meaning in meanings.items()
        ]
    return "\n".join(rows) + "\n"


class AuditError(Exception):
    """Base of every expected failure. ``str()`` is the one line shown to the user."""

    exit_code: ExitCode = ExitCode.INCOMPLETE


# --- exit 2: bad input ---------------------------------------------------------------------


class BadInputError(AuditError):
    """Bad flags or settings that are not about one file."""

    exit_code = ExitCode.BAD_INPUT


@dataclass(frozen=True)
class Diagnostic:
    """One problem in an input file, located as precisely as we can."""

    path: str
    line: int | None
    column: int | None
    message: str

    @property
    def where(self) -> str:
        """``path:line:col``, as much of it as is known."""
        where = self.path
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return where

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"

    def shown(self, severity: str = "error") -> str:
        """One diagnostic line as ruff and yamllint print them, the location first:
        ``policies/acme.yaml:12:7: error: unknown check type ...``."""
        return f"{self.where}: {severity}: {self.message}"


def diagnostics_count(diagnostics: list[Diagnostic], severity: str = "error") -> str:
    """The line after the diagnostics: ``3 errors in 2 files``."""
    n, files = len(diagnostics), len({d.path for d in diagnostics})
    return f"{n} {severity}{'' if n == 1 else 's'} in {files} file{'' if files == 1 else 's'}"


class InputFileError(BadInputError):
    """One or more problems in input files; all of them are reported at once."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        # The same words at the same place are said once (a value can break two schemas that
        # read it alike: a plan's `after: [1]` of a client breaks the plan's and the client's).
        self.diagnostics = list(dict.fromkeys(diagnostics))
        super().__init__("\n".join(str(d) for d in self.diagnostics))


class PolicyError(InputFileError):
    """A policy file is unreadable or invalid."""


class SnapshotError(InputFileError):
    """A snapshot (inventory) file is unreadable or invalid."""


class ProposalError(InputFileError):
    """A proposal file (request body or Terraform plan) is unreadable or invalid."""


# --- exit 3: the audit could not be completed ------------------------------------------------


class FetchError(AuditError):
    """Reading the org failed; the inventory would be incomplete."""

    exit_code = ExitCode.INCOMPLETE


class AuthenticationError(FetchError):
    """The login host refused our credentials, or the API refused our token."""


class PermissionDeniedError(FetchError):
    """The API answered 403: the auditor's client lacks a permission."""


class ApiError(FetchError):
    """The API answered an error we do not retry; ``status`` is its HTTP status (a caller may
    fall back on a 404, as usage reading does when the newer usage service is absent)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class TransportError(FetchError):
    """The host could not be reached, or retries were exhausted."""


class BadResponseError(FetchError):
    """A body that is not the JSON the API documents (HTML, truncated, wrong types)."""


class PagingError(FetchError):
    """Pagination repeated, never ended, or lost entities."""


class InvalidTokenError(AuthenticationError):
    """An access token that cannot be sent: a character an HTTP header may not carry."""


class ResponseTooLargeError(BadResponseError):
    """A response grew past ``--max-response-mb`` once decompressed."""


class UnsafeIdError(BadResponseError):
    """An id the API answered that cannot be placed in a URL path (``/``, ``..``, controls)."""


class EmptyOrgError(FetchError):
    """The API listed nothing where a real org always has something (clients, roles, scopes)."""


class DeadlineError(FetchError):
    """The run passed ``--deadline``."""
