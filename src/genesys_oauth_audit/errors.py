"""The whole error tree: every expected failure is one of these, and each knows its exit code."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class ExitCode(IntEnum):
    """Exit codes are API (SPEC §3): the same for every command."""

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


def exit_code_table() -> str:
    """The exit-code table as shown in ``--help`` and the README."""
    return "\n".join(f"  {code.value}  {code.meaning}" for code in ExitCode)


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

    def __str__(self) -> str:
        where = self.path
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return f"{where}: {self.message}"


class InputFileError(BadInputError):
    """One or more problems in input files; all of them are reported at once."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = list(diagnostics)
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
