"""The command line: click only here. Flags -> an ``app`` call -> an exit code.

Heavy modules (pydantic, httpx, jsonschema) are imported inside the commands,
so ``--help`` stays fast. Every expected failure is an ``AuditError`` and
becomes one line on stderr and its exit code; nothing else prints a traceback
unless ``--debug`` asks for it.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from genesys_oauth_audit import __version__
from genesys_oauth_audit.engine.drift_classes import DRIFT_CLASSES
from genesys_oauth_audit.engine.drift_classes import FAIL_ON_CHOICES as DRIFT_FAIL_ON
from genesys_oauth_audit.errors import (
    AuditError,
    ExitCode,
    InputFileError,
    diagnostics_count,
    exit_code_table,
)
from genesys_oauth_audit.report import DRIFT_REPORTERS, RECOMMENDERS, REPORTERS

# The longest usage window a flag may ask for (ten years): far past what the usage service keeps,
# and a count of days that dates can still be counted back by.
MAX_USAGE_DAYS = 3650

if TYPE_CHECKING:
    from genesys_oauth_audit.app import ConnectionOptions, Streams
    from genesys_oauth_audit.findings import Severity
    from genesys_oauth_audit.report.base import GroupBy

SEVERITY_CHOICES = ("critical", "high", "medium", "low", "info")
# Read from the reporter registries (names and descriptions), never copied by hand.
FORMAT_CHOICES = tuple(REPORTERS)
DRIFT_FORMAT_CHOICES = tuple(DRIFT_REPORTERS)


def _formats_help(registry: Mapping[str, tuple[str, str]]) -> str:
    return ", ".join(f"{name} ({description})" for name, (_, description) in registry.items())


EPILOG = "\b\nExit codes:\n" + exit_code_table()  # \b: click must not rewrap the table


def epilog(command: str) -> str:
    """A command's own exit codes (errors.COMMAND_EXIT_CODES), for its ``--help``."""
    return "\b\nExit codes:\n" + exit_code_table(command)


def shown(text: str) -> str:
    """Text as it may reach the terminal: this run's secrets redacted, then every control,
    format and separator character escaped (a server's error text can carry ESC sequences)."""
    from genesys_oauth_audit.redact import redact
    from genesys_oauth_audit.report.escape import terminal

    return redact(terminal(redact(text)))


def _setup_logging(verbose: int, quiet: bool = False) -> None:
    import logging  # here, not at the top: `--help` does not log

    class ShownFormatter(logging.Formatter):
        """Log lines pass through ``shown``: no secret and no raw control reaches stderr at -vv."""

        def format(self, record: logging.LogRecord) -> str:
            return shown(super().format(record))

    level = logging.WARNING if verbose <= 0 else logging.INFO if verbose == 1 else logging.DEBUG
    if quiet:
        level = logging.ERROR
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(ShownFormatter("genesys-oauth-audit: %(message)s"))
    root = logging.getLogger("genesys_oauth_audit")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


# -v/-vv/-q are accepted before the command and after it (as ruff and pip-audit do): both
# places add to one setting kept in the context's meta, shared by the group and its command.
VERBOSE_HELP = "More detail on stderr (-vv: every request). Never secrets."
QUIET_HELP = (
    "Quiet: stderr carries only errors and the final result (no warnings, progress or notes); "
    "what goes to stdout is unchanged."
)


def _verbosity(ctx: click.Context, param: click.Parameter, value: int | bool) -> None:
    if not value:
        return
    meta = ctx.meta
    key = "goa.quiet" if param.name == "quiet" else "goa.verbose"
    meta[key] = int(meta.get(key, 0)) + int(value)
    if meta.get("goa.quiet") and meta.get("goa.verbose"):
        raise click.UsageError("-q (quiet) and -v (verbose) contradict each other: give one")
    _setup_logging(int(meta.get("goa.verbose", 0)), bool(meta.get("goa.quiet")))


def verbosity_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``-v``/``-vv`` and ``-q``, wherever they are given."""
    fn = click.option(
        "-q", "--quiet", is_flag=True, expose_value=False, callback=_verbosity, help=QUIET_HELP
    )(fn)
    return click.option(
        "-v",
        "--verbose",
        count=True,
        expose_value=False,
        callback=_verbosity,
        help=VERBOSE_HELP,
    )(fn)


def _run(ctx: click.Context, action: Callable[[], ExitCode]) -> None:
    """Run one command; map expected failures to one stderr line and the exit code."""
    from genesys_oauth_audit.files.interrupt import Interrupted, Terminated, sigterm_raises
    from genesys_oauth_audit.redact import forget_all
    from genesys_oauth_audit.settings import register_environment_secrets

    debug = bool(ctx.find_root().params.get("debug"))
    forget_all()  # a new run: the secrets registered from here on are this run's
    register_environment_secrets(os.environ)
    try:
        # SIGTERM (a CI job cancelled) unwinds like SIGINT, so no temporary file is left behind.
        with sigterm_raises():
            code = action()
    except AuditError as exc:
        if exc.exit_code == ExitCode.INCOMPLETE:
            # One line: what failed, and that nothing that looks like a result was written.
            message = shown(" ".join(str(exc).split()) or type(exc).__name__)
            click.echo(
                f"genesys-oauth-audit: error: {message} [audit incomplete; no report written]",
                err=True,
            )
        elif isinstance(exc, InputFileError) and exc.diagnostics:
            # Like ruff and yamllint: one problem a line, its location first, then a count.
            for d in exc.diagnostics:
                click.echo(shown(d.shown("error")), err=True)
            click.echo(diagnostics_count(exc.diagnostics), err=True)
        else:
            for line in str(exc).splitlines() or [type(exc).__name__]:
                click.echo(f"genesys-oauth-audit: error: {shown(line)}", err=True)
        ctx.exit(int(exc.exit_code))
    except KeyboardInterrupt as exc:
        # Outputs are committed together at the end: before that, nothing was written; during
        # it, the exception says which outputs were and which were not.
        if isinstance(exc, Interrupted):
            said = str(exc)
        else:
            cause = "terminated" if isinstance(exc, Terminated) else "interrupted"
            said = f"{cause}; no report was written"
        click.echo(f"genesys-oauth-audit: {said}", err=True)
        ctx.exit(int(ExitCode.INCOMPLETE))
    except BrokenPipeError:
        # The reader closed the pipe (`| head`): the rest cannot be written, and saying so on
        # stderr is noise. Quietly, as other tools; exit 3, since the output is incomplete.
        _discard_stdout()
        ctx.exit(int(ExitCode.INCOMPLETE))
    except Exception as exc:
        if debug:
            raise
        click.echo(
            f"genesys-oauth-audit: internal error: {type(exc).__name__}: {shown(str(exc))} "
            "(this is a bug; re-run as `genesys-oauth-audit --debug COMMAND ...` for details "
            "and report it)",
            err=True,
        )
        ctx.exit(int(ExitCode.INCOMPLETE))
    ctx.exit(int(code))


def _discard_stdout() -> None:
    """Point standard output at /dev/null, so flushing it at exit cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _streams() -> Streams:
    from genesys_oauth_audit.app import Streams

    ctx = click.get_current_context(silent=True)
    return Streams(quiet=bool(ctx is not None and ctx.meta.get("goa.quiet")))


def _parse_now(value: str | datetime | None) -> datetime | None:
    """``--now``, parsed while click reads the flags (its errors are usage errors, exit 2)."""
    if value is None or isinstance(value, datetime):
        return value
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO-8601 date-time", param_hint="--now"
        ) from None
    return _within_years(parsed, "--now")


def _within_years(value: datetime, flag: str) -> datetime:
    """A day the checks can count back from (data.enums: EARLIEST_YEAR to LATEST_YEAR)."""
    from genesys_oauth_audit.data.enums import EARLIEST_YEAR, LATEST_YEAR

    if not EARLIEST_YEAR <= value.year < LATEST_YEAR:
        raise click.BadParameter(
            f"{value.date().isoformat()} is not between {EARLIEST_YEAR}-01-01 and "
            f"{LATEST_YEAR}-01-01",
            param_hint=flag,
        )
    return value


class _Seconds(click.FloatRange):
    """A number of seconds: finite (``nan`` would switch a deadline off, ``inf`` wait forever)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if number is not None and not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number of seconds", param, ctx)
        return number


class _Given(click.types.StringParamType):
    """A text flag that, given, says something: ``--region ''`` (an unset variable in a CI
    script, ``--region "$REGION"``) is an error, never a silent fall back to the environment,
    which may name another org."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        value = super().convert(value, param, ctx)
        if isinstance(value, str) and not value.strip():
            self.fail(
                "is empty; give a value, or leave the flag out to use the environment", param, ctx
            )
        return value


def as_of_option(help_text: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--as-of YYYY-MM-DD``: the day time-based checks judge as of."""
    return click.option(
        "--as-of",
        "as_of",
        type=click.DateTime(formats=["%Y-%m-%d"]),
        callback=lambda ctx, param, value: _within_years(value, "--as-of") if value else value,
        default=None,
        metavar="YYYY-MM-DD",
        help=help_text,
    )


Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def _stacked(options: Sequence[Decorator], fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` with ``options`` applied, listed by ``--help`` in the order given."""
    for option in reversed(options):
        fn = option(fn)
    return fn


def connection_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option(
            "--region",
            type=_Given(),
            help="Region name (us-east-1, eu_west_1), host suffix (mypurecloud.ie) or API base URL. "
            "[env: GENESYSCLOUD_REGION, GENESYSCLOUD_API_REGION; default: us-east-1]",
        ),
        click.option(
            "--client-id",
            type=_Given(),
            help="Client-credentials client id. [env: GENESYSCLOUD_OAUTHCLIENT_ID]",
        ),
        click.option(
            "--login-url",
            type=_Given(),
            help="Login base URL. [env: GENESYSCLOUD_LOGIN_URL; default: the API URL with api. -> login.]",
        ),
        click.option(
            "--timeout",
            type=_Seconds(min=0.1),
            default=30.0,
            show_default=True,
            help="Seconds one HTTP response may take, from sending to its last byte.",
        ),
        click.option(
            "--max-retries",
            type=click.IntRange(min=0),
            default=8,
            show_default=True,
            help="Retries of any one request (429, 5xx, resets, timeouts).",
        ),
        click.option(
            "--retry-budget",
            type=_Seconds(min=0),
            default=300.0,
            show_default=True,
            help="Seconds the whole run may spend waiting between retries.",
        ),
        click.option(
            "--usage-timeout",
            type=_Seconds(min=0),
            default=600.0,
            show_default=True,
            help="Seconds to wait for the org-level usage query to complete.",
        ),
        click.option(
            "--deadline",
            type=_Seconds(min=0, min_open=True),
            default=900.0,
            show_default=True,
            help="Seconds the whole audit may take, every wait included; past it, exit 3.",
        ),
        click.option(
            "--max-response-mb",
            type=click.IntRange(min=1),
            default=256,
            show_default=True,
            help="Largest API response read, in MiB after decompression; a larger one exits 3.",
        ),
    ]
    return _stacked(options, fn)


CONNECTION_FLAGS = (
    "region",
    "client_id",
    "login_url",
    "timeout",
    "max_retries",
    "retry_budget",
    "usage_timeout",
    "deadline",
    "max_response_mb",
)


def _no_connection_flags(ctx: click.Context, why: str) -> None:
    """Connection flags (and ``--usage-days``, the days of usage to read) where no org is read
    are an error, never silently ignored (a typo'd --region would otherwise pass unnoticed). The
    environment is not checked: CI sets it for every job."""
    given = [
        f"--{name.replace('_', '-')}"
        for name in (*CONNECTION_FLAGS, "usage_days")
        if ctx.get_parameter_source(name) not in (None, click.core.ParameterSource.DEFAULT)
    ]
    if given:
        them = "it" if len(given) == 1 else "them"
        raise click.UsageError(
            f"{', '.join(given)} {'is' if len(given) == 1 else 'are'} for reading a live org, "
            f"and {why}: drop {them}, or drop --inventory to audit the live org"
        )


def _connection(kw: dict[str, Any]) -> ConnectionOptions:
    from genesys_oauth_audit.app import ConnectionOptions

    return ConnectionOptions(
        region=kw.pop("region"),
        client_id=kw.pop("client_id"),
        login_url=kw.pop("login_url"),
        timeout=kw.pop("timeout"),
        max_retries=kw.pop("max_retries"),
        retry_budget=kw.pop("retry_budget"),
        usage_timeout=kw.pop("usage_timeout"),
        deadline=kw.pop("deadline"),
        max_response_mb=kw.pop("max_response_mb"),
    )


def output_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """One ``--FORMAT-output F`` per reporter of the registry, so one run writes every format."""
    for name, (_, description) in reversed(REPORTERS.items()):
        fn = click.option(
            f"--{name}-output",
            type=click.Path(dir_okay=False, path_type=Path),
            help=f"Also write the {name} report to this file ({description}); '-' is standard "
            "output (instead of the --format report, unless --format is given).",
        )(fn)
    return fn


# Hidden: tests and recipes pin the clock with it, for reproducible runs.
now_option = click.option(
    "--now",
    hidden=True,
    callback=lambda ctx, param, value: _parse_now(value),
    help="Pretend the current time is this (ISO-8601); for reproducible runs.",
)
color_option = click.option(
    "--color/--no-color",
    default=None,
    help="Colour the text report (default: only on a terminal, never with NO_COLOR).",
)


def report_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """How a run's report is written, the same for ``check`` and ``merge``: ``--format``, one
    ``--FORMAT-output`` per reporter, ``--group-by``, ``--riskiest``, ``--sarif-include-waived``."""
    options: list[Decorator] = [
        click.option(
            "--format",
            "fmt",
            type=click.Choice(FORMAT_CHOICES),
            default="text",
            show_default=True,
            help="What goes to standard output: " + _formats_help(REPORTERS) + ".",
        ),
        output_options,
        click.option(
            "--group-by",
            type=click.Choice(("rule", "client")),
            default="rule",
            show_default=True,
            help="How the text report groups findings.",
        ),
        click.option(
            "--riskiest",
            type=click.IntRange(min=0),
            default=10,
            show_default=True,
            metavar="N",
            help="Clients the text report lists as riskiest by the risk catalog (high or "
            "critical, and at least --min-severity); 0 leaves the block out.",
        ),
        click.option(
            "--sarif-include-waived",
            is_flag=True,
            help="Put waived findings in SARIF too, with suppressions (GitHub ignores "
            "suppressions).",
        ),
    ]
    return _stacked(options, fn)


def orgs_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--orgs FILE``, ``--org NAME``, ``--jobs N``: a run over the orgs of an orgs file."""
    options = [
        click.option(
            "--orgs",
            "orgs_file",
            type=click.Path(dir_okay=False, path_type=Path),
            help="Audit every org of this orgs file (kind: Orgs; docs/many-orgs.md), side by "
            "side; exit with the worst of them.",
        ),
        click.option(
            "--org",
            "org_names",
            multiple=True,
            metavar="NAME",
            help="With --orgs: only this org of the file (repeatable); what a CI matrix job runs.",
        ),
        click.option(
            "--jobs",
            type=click.IntRange(min=1),
            default=None,
            help="With --orgs: orgs at work at a time (one waiting out a Retry-After or its usage "
            "query lets another work). [default: the number of orgs, at most 8]",
        ),
    ]
    return _stacked(options, fn)


def _orgs_options(
    ctx: click.Context, orgs_file: Path | None, org_names: tuple[str, ...], jobs: int | None
) -> Any:
    """The ``--orgs`` settings, or None; ``--org`` and ``--jobs`` need ``--orgs``."""
    if orgs_file is None:
        for flag, value in (("--org", org_names), ("--jobs", jobs)):
            if value:
                raise click.UsageError(f"{flag} needs --orgs FILE", ctx=ctx)
        return None
    from genesys_oauth_audit.orgs import OrgsOptions

    return OrgsOptions(file=orgs_file, names=tuple(dict.fromkeys(org_names)), jobs=jobs)


@click.group(
    epilog=EPILOG,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="genesys-oauth-audit")
@verbosity_options
@click.option("--debug", is_flag=True, hidden=True, help="Show tracebacks of internal errors.")
def cli(debug: bool) -> None:
    """Policy-as-code compliance checks for the OAuth clients of a Genesys Cloud org.

    -v, -vv and -q may also be given after the command (check -v ...)."""
    ctx = click.get_current_context()
    _setup_logging(int(ctx.meta.get("goa.verbose", 0)), bool(ctx.meta.get("goa.quiet")))


@cli.command(epilog=epilog("fetch"))
@verbosity_options
@connection_options
@orgs_options
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    required=True,
    help="Snapshot file to write ('-': standard output); with --orgs, a directory that gets "
    "<org>.json per org.",
)
@click.option(
    "--usage-days",
    type=click.IntRange(min=0, max=MAX_USAGE_DAYS),
    default=90,
    show_default=True,
    help="Days of API usage to read (one org-level query); 0 skips usage.",
)
@click.option(
    "--no-roles",
    is_flag=True,
    help="Do not read roles (the client then needs no authorization:role:view).",
)
@now_option
@click.pass_context
def fetch(
    ctx: click.Context, /, output: Path, usage_days: int, no_roles: bool, now: str | None, **kw: Any
) -> None:
    """Read every OAuth client of the org and write a snapshot file."""
    conn = _connection(kw)
    many = _orgs_options(ctx, kw.pop("orgs_file"), kw.pop("org_names"), kw.pop("jobs"))

    def action() -> ExitCode:
        from genesys_oauth_audit import app

        if many is not None:
            from genesys_oauth_audit.orgs import fetch_orgs

            return fetch_orgs(
                conn,
                many,
                output,
                roles=not no_roles,
                usage_days=usage_days or None,
                now=_parse_now(now),
                environ=os.environ,
                streams=_streams(),
            )
        return app.fetch(
            conn,
            output,
            roles=not no_roles,
            usage_days=usage_days or None,
            now=_parse_now(now),
            environ=os.environ,
            streams=_streams(),
        )

    _run(ctx, action)


def want_color(flag: bool | None, fmt: str, stream: Any, environ: Mapping[str, str]) -> bool:
    """Colour only for the text format on a terminal, never with NO_COLOR (any value), unless
    --color/--no-color says otherwise."""
    if fmt != "text":
        return False
    if flag is not None:
        return flag
    return bool(getattr(stream, "isatty", lambda: False)()) and "NO_COLOR" not in environ


def text_width(stream: Any, environ: Mapping[str, str]) -> int:
    """The width text for people is wrapped at: ``COLUMNS`` when set, else the terminal's width,
    never under 80 columns; 80 when not writing to a terminal (a file, a pipe, a CI log), so
    what is kept or compared stays the same on every machine."""
    columns = environ.get("COLUMNS", "").strip()
    if columns.isdigit():
        return max(80, int(columns))
    if bool(getattr(stream, "isatty", lambda: False)()):
        import shutil

        return max(80, shutil.get_terminal_size((80, 24)).columns)
    return 80


def _sarif_category(value: str | None) -> str | None:
    """A code scanning category: some visible text on one line (GitHub compares it as given)."""
    if value is None:
        return None
    if not value.strip() or any(ch < " " or ch == "\x7f" for ch in value):
        raise click.BadParameter(
            "give a category such as oauth-clients/pr-plan (visible text on one line)",
            param_hint="--sarif-category",
        )
    return value


def _severity_or_never(value: str) -> Severity | None:
    from genesys_oauth_audit.findings import Severity

    return None if value == "never" else Severity(value)


@cli.command(epilog=epilog("check"))
@verbosity_options
@click.option(
    "-p",
    "--policy",
    "policies",
    multiple=True,
    help="Policy file, or a shipped pack as builtin:NAME (tutorial, baseline, strict, "
    "least-privilege). Repeatable. Required, "
    "except with --orgs when every org names its own policies.",
)
@click.option(
    "--proposed",
    "proposed",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Check a proposed client before it exists: an OAuthClientRequest body (JSON/YAML, one or a "
    "list) or a Terraform plan (terraform show -json). Repeatable. With --inventory or credentials "
    "for a live org, the org's scopes and roles are used; otherwise proposals are checked alone.",
)
@click.option(
    "--inventory",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Audit this snapshot file instead of a live org.",
)
@connection_options
@orgs_options
@report_options
@click.option(
    "--sarif-category",
    callback=lambda _ctx, _param, value: _sarif_category(value),
    metavar="CATEGORY",
    help="The GitHub code scanning category of the SARIF report (runAutomationDetails.id). "
    "Default: one per kind of run: genesys-oauth-audit/org-<id>/ (live org), "
    "genesys-oauth-audit/snapshot/org-<id>/ (--inventory), genesys-oauth-audit/proposals/ "
    "(--proposed).",
)
@click.option(
    "--baseline",
    "baseline",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Findings already in this baseline file are 'unchanged' and do not fail the run.",
)
@click.option(
    "--write-baseline",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Store this run's findings (not the waived ones) as a baseline file ('-': standard output).",
)
@click.option(
    "--min-severity",
    type=click.Choice(SEVERITY_CHOICES),
    default="info",
    show_default=True,
    help="Report findings at or above this severity.",
)
@click.option(
    "--fail-on",
    type=click.Choice((*SEVERITY_CHOICES, "never")),
    default="low",
    show_default=True,
    help="Exit 1 when a finding reaches this severity (independent of --min-severity).",
)
@click.option(
    "--usage-days",
    type=click.IntRange(min=1, max=MAX_USAGE_DAYS),
    default=None,
    help="Days of usage to read when a rule needs usage (default: the longest max-days-unused rule).",
)
@click.option(
    "--framework",
    "frameworks",
    multiple=True,
    metavar="ID",
    help="Run only the rules mapped to this compliance framework (a framework id of the rules' "
    "controls, such as nist-800-53). Repeatable.",
)
@color_option
@as_of_option(
    "Judge time-based checks (days unused, client age, exception expiry) as of this day "
    "(UTC). Default: the snapshot's fetchedAt with --inventory, so a snapshot gives the same "
    "answer on any day; today for a live org."
)
@now_option
@click.pass_context
def check(
    ctx: click.Context,
    /,
    policies: Sequence[str],
    proposed: tuple[Path, ...],
    inventory: Path | None,
    fmt: str,
    group_by: GroupBy,
    riskiest: int,
    sarif_include_waived: bool,
    sarif_category: str | None,
    baseline: Path | None,
    write_baseline: Path | None,
    min_severity: str,
    fail_on: str,
    usage_days: int | None,
    frameworks: tuple[str, ...],
    color: bool | None,
    as_of: datetime | None,
    now: str | None,
    **kw: Any,
) -> None:
    """Evaluate policies over a snapshot or a live org (or every org of an orgs file), report,
    and exit 0/1 for a CI gate."""
    if inventory is not None:
        _no_connection_flags(ctx, f"--inventory {inventory} audits a snapshot file")
    conn = _connection(kw)
    many = _orgs_options(ctx, kw.pop("orgs_file"), kw.pop("org_names"), kw.pop("jobs"))
    if not policies and many is None:
        raise click.MissingParameter(ctx=ctx, param=_param(ctx, "policies"))
    outputs = {name: kw.pop(f"{name}_output") for name in REPORTERS}
    use_color = want_color(color, fmt, sys.stdout, os.environ)
    width = text_width(sys.stdout, os.environ)
    format_explicit = ctx.get_parameter_source("fmt") is not click.core.ParameterSource.DEFAULT

    def action() -> ExitCode:
        from genesys_oauth_audit import app
        from genesys_oauth_audit.findings import Severity

        opts = app.CheckOptions(
            policies=tuple(policies),
            inventory=inventory,
            connection=conn,
            format=fmt,
            outputs={k: v for k, v in outputs.items() if v is not None},
            min_severity=Severity(min_severity),
            fail_on=_severity_or_never(fail_on),
            usage_days=usage_days,
            now=_parse_now(now),
            group_by=group_by,
            riskiest=riskiest,
            sarif_include_waived=sarif_include_waived,
            sarif_category=sarif_category,
            baseline=baseline,
            write_baseline=write_baseline,
            proposed=tuple(proposed),
            frameworks=tuple(dict.fromkeys(frameworks)),
            format_explicit=format_explicit,
            as_of=as_of.date() if as_of is not None else None,
            width=width,
        )
        if many is not None:
            from genesys_oauth_audit.orgs import check_orgs

            return check_orgs(
                opts, many, environ=os.environ, streams=_streams(), color=bool(use_color)
            )
        return app.check(opts, environ=os.environ, streams=_streams(), color=bool(use_color))

    _run(ctx, action)


@cli.command(epilog=epilog("validate"))
@verbosity_options
@click.argument("paths", nargs=-1, required=True)
@click.pass_context
def validate(ctx: click.Context, paths: tuple[str, ...]) -> None:
    """Check policy files, or the policies under a directory (its *.test.yaml skipped): schema
    and semantics, every error at once as file:line:column: error: ..., then a count."""

    def action() -> ExitCode:
        from genesys_oauth_audit import app

        return app.validate(paths, streams=_streams())

    _run(ctx, action)


@cli.command(name="rules", epilog=epilog("rules"))
@verbosity_options
@click.option(
    "-p",
    "--policy",
    "policies",
    multiple=True,
    help="Policy file or builtin:NAME (default: every shipped pack).",
)
@as_of_option("Say whether an override is still in force as of this day (default: today, UTC).")
@click.pass_context
def rules_command(ctx: click.Context, policies: tuple[str, ...], as_of: datetime | None) -> None:
    """List the rules of policy files: id, severity, title, where defined, and what overrides
    replaced (each setting with where it came from)."""

    def action() -> ExitCode:
        from genesys_oauth_audit import app

        return app.list_rules(
            policies, streams=_streams(), as_of=as_of.date() if as_of is not None else None
        )

    _run(ctx, action)


@cli.command(epilog=epilog("explain"))
@verbosity_options
@click.argument("rule_id")
@click.option(
    "-p",
    "--policy",
    "policies",
    multiple=True,
    help="Policy file or builtin:NAME (default: every shipped pack).",
)
@as_of_option("Say whether an override is still in force as of this day (default: today, UTC).")
@click.pass_context
def explain(
    ctx: click.Context, rule_id: str, policies: tuple[str, ...], as_of: datetime | None
) -> None:
    """Show one rule in full: severity, selectors, the check in words, remediation, examples."""

    def action() -> ExitCode:
        from genesys_oauth_audit import app

        return app.explain(
            rule_id,
            policies,
            streams=_streams(),
            width=text_width(sys.stdout, os.environ),
            as_of=as_of.date() if as_of is not None else None,
        )

    _run(ctx, action)


@cli.command(name="test", epilog=epilog("test"))
@verbosity_options
@click.argument("paths", nargs=-1, required=True)
@as_of_option(
    "Judge every test file as of this day (UTC), overriding its today: key. Default: the "
    "file's today:, else its inventoryFile's fetchedAt, else today."
)
@click.pass_context
def test_command(ctx: click.Context, paths: tuple[str, ...], as_of: datetime | None) -> None:
    """Run policy unit tests: *.test.yaml files, or directories holding them (exit 1 on a failure)."""

    def action() -> ExitCode:
        from genesys_oauth_audit import app

        return app.run_policy_tests(
            paths, streams=_streams(), as_of=as_of.date() if as_of is not None else None
        )

    _run(ctx, action)


DIFF_EPILOG = (
    "\b\nClasses of change (--fail-on):\n"
    + "\n".join(f"  {name:<15} {meaning}" for name, meaning in DRIFT_CLASSES.items())
    + "\n\n"
    + epilog("diff")
)


@cli.command(name="diff", epilog=DIFF_EPILOG)
@verbosity_options
@click.argument("old", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("new", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(DRIFT_FORMAT_CHOICES),
    default="text",
    show_default=True,
    help="What goes to standard output: " + _formats_help(DRIFT_REPORTERS) + ".",
)
@click.option(
    "--fail-on",
    "fail_on",
    multiple=True,
    type=click.Choice(DRIFT_FAIL_ON),
    default=("any",),
    show_default=True,
    help="Exit 1 when a change of this class is found (repeatable; classes below). any: every "
    "class (exit 1 on any drift); never: report only.",
)
@click.pass_context
def diff_command(
    ctx: click.Context, old: Path, new: Path, fmt: str, fail_on: tuple[str, ...]
) -> None:
    """What changed between two snapshots of one org, effective permissions included (exit 1
    when a change of a --fail-on class did)."""

    def action() -> ExitCode:
        from genesys_oauth_audit import app

        return app.drift(old, new, fmt, streams=_streams(), fail_on=fail_on)

    _run(ctx, action)


@cli.command(name="recommend", epilog=epilog("recommend"))
@verbosity_options
@click.option(
    "--inventory",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Recommend from this snapshot (written by fetch) instead of a live org.",
)
@connection_options
@click.option(
    "--client",
    "clients",
    multiple=True,
    metavar="ID|NAME",
    help="Only this client (its id, or its name). Repeatable. Default: every client with "
    "operation data.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(tuple(RECOMMENDERS)),
    default="terraform",
    show_default=True,
    help="What to write: " + _formats_help(RECOMMENDERS) + ".",
)
@click.option(
    "-o",
    "--output",
    default="-",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="Where to write ('-': standard output).",
)
@click.option(
    "--usage-days",
    type=click.IntRange(min=1, max=90),
    default=None,
    help="Days of operations to read from a live org (one usage job reads at most 90; default 90).",
)
@now_option
@click.pass_context
def recommend_command(
    ctx: click.Context,
    /,
    inventory: Path | None,
    clients: tuple[str, ...],
    fmt: str,
    output: str,
    usage_days: int | None,
    now: str | None,
    **kw: Any,
) -> None:
    """The least-privilege role of each client-credentials client (its exercised permissions as a
    role, in the divisions it uses today) and the minimal scopes of each user-facing client, from
    the operations each called. Reads only: never writes to the org."""
    if inventory is not None:
        _no_connection_flags(ctx, f"--inventory {inventory} reads a snapshot file")
    conn = _connection(kw)

    def action() -> ExitCode:
        from genesys_oauth_audit import app

        return app.recommend(
            app.RecommendOptions(
                inventory=inventory,
                connection=conn,
                clients=tuple(clients),
                format=fmt,
                output=output,
                usage_days=usage_days,
                now=_parse_now(now),
            ),
            environ=os.environ,
            streams=_streams(),
        )

    _run(ctx, action)


def _param(ctx: click.Context, name: str) -> click.Parameter:
    return next(p for p in ctx.command.params if p.name == name)


@cli.group(name="orgs", epilog=EPILOG)
def orgs_group() -> None:
    """Orgs files (kind: Orgs): the orgs check --orgs and fetch --orgs audit."""


@orgs_group.command(name="list", epilog=epilog("orgs list"))
@verbosity_options
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help='A GitHub Actions matrix on one line: {"include": [{"org": NAME, "region": ..., '
    '"clientIdEnv": ..., "clientSecretEnv": ...}]} (variable names, never values).',
)
@click.pass_context
def orgs_list(ctx: click.Context, path: Path, as_json: bool) -> None:
    """Validate an orgs file and list its orgs: name, region, the variables holding each org's
    credentials, its policies."""

    def action() -> ExitCode:
        from genesys_oauth_audit.orgs import list_orgs

        return list_orgs(path, as_json=as_json, streams=_streams())

    _run(ctx, action)


@cli.command(epilog=epilog("merge"))
@verbosity_options
@click.argument("reports", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@report_options
@color_option
@now_option
@click.pass_context
def merge(
    ctx: click.Context,
    /,
    reports: tuple[Path, ...],
    fmt: str,
    group_by: GroupBy,
    riskiest: int,
    sarif_include_waived: bool,
    color: bool | None,
    now: str | None,
    **kw: Any,
) -> None:
    """Merge the JSON reports of check --orgs runs (one per CI matrix job) into one report in any
    format, as one run over the same orgs writes it; exit with the worst of the orgs."""
    outputs = {name: kw.pop(f"{name}_output") for name in REPORTERS}
    use_color = want_color(color, fmt, sys.stdout, os.environ)
    width = text_width(sys.stdout, os.environ)
    format_explicit = ctx.get_parameter_source("fmt") is not click.core.ParameterSource.DEFAULT

    def action() -> ExitCode:
        from genesys_oauth_audit import orgs

        opts = orgs.MergeOptions(
            format=fmt,
            outputs={k: v for k, v in outputs.items() if v is not None},
            format_explicit=format_explicit,
            group_by=group_by,
            riskiest=riskiest,
            sarif_include_waived=sarif_include_waived,
            color=bool(use_color),
            width=width,
            now=_parse_now(now),
        )
        return orgs.merge(reports, opts, streams=_streams())

    _run(ctx, action)


def no_pydantic_plugins() -> None:
    """Keep pydantic's plugins out of the run, unless ``PYDANTIC_DISABLE_PLUGINS`` says
    otherwise (pydantic's own setting; an empty value lets them in).

    pydantic loads a plugin for every ``pydantic`` entry point any installed package declares
    and hands it every value it validates: inside this gate, the credentials and the API's
    answers would reach code the audit never asked for. (Finding them also reads the metadata of
    every installed distribution: 2-4 ms for the 43 of this project's development environment.)"""
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code. Click's own usage errors exit 2; Ctrl-C before a
    command has started (while click parses the flags) exits 3 with one line, like Ctrl-C
    during it, never click's "Aborted!" with exit 1, which a gate would read as findings."""
    no_pydantic_plugins()
    try:
        code = cli.main(
            args=list(argv) if argv is not None else None,
            prog_name="genesys-oauth-audit",
            standalone_mode=False,
        )
    except click.exceptions.Abort:
        click.echo("genesys-oauth-audit: interrupted; no report was written", err=True)
        return int(ExitCode.INCOMPLETE)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except SystemExit as exc:  # click answers a closed pipe with sys.exit(1)
        return int(exc.code or 0) if not isinstance(exc.code, str) else 2
    return int(code) if isinstance(code, int) else 0
