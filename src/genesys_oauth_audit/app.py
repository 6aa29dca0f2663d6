"""Each command's pipeline as one short function: load policies -> inventory -> evaluate -> report.

Policies are loaded and validated before the network is touched, so a typo
fails in milliseconds. No report is written unless the run completed: an
incomplete audit raises (exit 3) before any output file exists.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from genesys_oauth_audit import __version__
from genesys_oauth_audit.errors import BadInputError, Diagnostic, ExitCode, InputFileError
from genesys_oauth_audit.redact import redact
from genesys_oauth_audit.report.escape import markdown, terminal
from genesys_oauth_audit.severity import Severity

# Each command imports the stages it uses inside its function: ``validate`` must not pay for
# the engine, the reporters or HTTP, and ``--help`` for nothing at all.
if TYPE_CHECKING:
    import httpx

    from genesys_oauth_audit.files.output import Output, OutputSet
    from genesys_oauth_audit.findings import BaselineEntry, Evaluation
    from genesys_oauth_audit.genesys.client import Place
    from genesys_oauth_audit.inventory import Inventory
    from genesys_oauth_audit.leastpriv.org import OrgLeastPrivilege
    from genesys_oauth_audit.policy.model import PolicySet
    from genesys_oauth_audit.report.base import AsOfBasis, GroupBy, RunInfo, SourceInfo, SourceKind


# The operations window of a live check that needs operation data: the most one usage job reads.
OPERATION_DAYS = 90


TEXT_FILE_WIDTH = 80  # a text report written to a file is the same on every machine


@dataclass(frozen=True)
class ConnectionOptions:
    region: str | None = None
    client_id: str | None = None
    login_url: str | None = None
    timeout: float = 30.0
    max_retries: int = 8
    retry_budget: float = 300.0
    usage_timeout: float = 600.0
    deadline: float | None = 900.0  # the whole run, every wait included
    max_response_mb: int = 256  # one response, counted after decompression


@dataclass(frozen=True)
class CheckOptions:
    policies: tuple[str, ...]
    inventory: Path | None = None
    connection: ConnectionOptions = field(default_factory=ConnectionOptions)
    format: str = "text"
    outputs: Mapping[str, Path] = field(default_factory=dict)
    min_severity: Severity = Severity.INFO
    fail_on: Severity | None = Severity.LOW
    usage_days: int | None = None
    now: datetime | None = None
    group_by: GroupBy = "rule"
    sarif_include_waived: bool = False
    sarif_category: str | None = None  # --sarif-category (default: one per kind of run)
    baseline: Path | None = None
    write_baseline: Path | None = None
    proposed: tuple[Path, ...] = ()
    frameworks: tuple[str, ...] = ()  # limit the run to rules mapped to these frameworks
    # False when --format was left at its default: an output given as "-" then takes standard
    # output instead of the --format report (two things on stdout are an error otherwise).
    format_explicit: bool = True
    as_of: date | None = None  # --as-of: judge time as of this day (default: see ``as_of_day``)
    width: int = 80  # columns of the text report on standard output (files: always 80)
    riskiest: int = 10  # --riskiest: riskiest clients the text report lists (0: none)


@dataclass
class Streams:
    """Where a command writes; tests hand in their own."""

    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    # -q: stderr carries only errors and the final result (no warnings, progress or notes).
    quiet: bool = False


class Progress:
    """A single self-overwriting line on stderr, only when stderr is a terminal."""

    def __init__(self, stream: TextIO, *, quiet: bool = False) -> None:
        self._stream = stream
        self._enabled = not quiet and bool(getattr(stream, "isatty", lambda: False)())
        self._count = 0

    def __call__(self, what: str) -> None:
        self._count += 1
        if self._enabled:
            # ``what`` can hold a path the server chose (a nextUri): escaped like any server text.
            shown = terminal(what)[:150]
            self._stream.write(f"\r\x1b[Kfetching: {self._count} requests, now {shown}")
            self._stream.flush()

    def done(self) -> None:
        if self._enabled and self._count:
            self._stream.write("\r\x1b[K")
            self._stream.flush()


def _now(opts_now: datetime | None) -> datetime:
    now = opts_now or datetime.now(timezone.utc)
    return now if now.tzinfo is not None else now.replace(tzinfo=timezone.utc)


# -- fetching -----------------------------------------------------------------------------------


def fetch_live(
    conn: ConnectionOptions,
    *,
    roles: bool,
    usage_days: int | None,
    now: datetime,
    environ: Mapping[str, str],
    streams: Streams,
    transport: httpx.BaseTransport | None = None,
    operation_days: int | None = None,
    on_request: Callable[[str], None] | None = None,
    place: Place | None = None,
    meanwhile: Callable[[Inventory], None] | None = None,
) -> Inventory:
    """Read the org over the API (the only place the app reaches for HTTP). ``usage_days``: last
    use over that many days; ``operation_days``: the operations each client called (at most 90,
    genesys/usage.py). ``on_request`` is told of every request instead of the progress line (a
    run of many orgs keeps one line); ``place``: where the org's reads work (a run of many orgs
    gives an org's place to another while all its reads wait, ``orgs.Slots``); ``meanwhile``:
    given the org without its usage while the usage query runs (``fetch_inventory``)."""
    from genesys_oauth_audit.genesys.client import ANYWHERE, GenesysClient, RetryPolicy
    from genesys_oauth_audit.genesys.fetch import FetchPlan, fetch_inventory
    from genesys_oauth_audit.settings import connection_settings

    settings = connection_settings(
        region=conn.region, client_id=conn.client_id, login_url=conn.login_url, environ=environ
    )
    # Stays silent when ``on_request`` takes its place.
    progress = Progress(streams.stderr, quiet=streams.quiet)
    retry = RetryPolicy(max_retries=conn.max_retries, budget_seconds=conn.retry_budget)
    try:
        with GenesysClient(
            settings,
            transport=transport,
            retry=retry,
            timeout=conn.timeout,
            on_request=on_request or progress,
            deadline=conn.deadline,
            max_response_bytes=conn.max_response_mb * 1024 * 1024,
            place=place or ANYWHERE,
        ) as api:
            plan = FetchPlan(
                roles=roles,
                usage_days=usage_days,
                usage_timeout_seconds=conn.usage_timeout,
                operation_days=operation_days,
            )
            return fetch_inventory(
                api, plan, region=settings.endpoint.region, now=now, meanwhile=meanwhile
            )
    finally:
        progress.done()


def fetch(
    conn: ConnectionOptions,
    output: Path,
    *,
    roles: bool = True,
    usage_days: int | None = 90,
    now: datetime | None = None,
    environ: Mapping[str, str],
    streams: Streams,
    transport: httpx.BaseTransport | None = None,
) -> ExitCode:
    """``fetch``: write a full snapshot of the org (roles, last use and the operations each client
    called included unless turned off; operations over at most the last 90 days)."""
    from genesys_oauth_audit.files.output import OutputSet

    # The output is checked before the org is read: a bad path fails in milliseconds.
    outputs = OutputSet(stdout=streams.stdout, stderr=streams.stderr)
    snapshot = outputs.add(output, "-o")
    inventory = fetch_live(
        conn,
        roles=roles,
        usage_days=usage_days,
        now=_now(now),
        environ=environ,
        streams=streams,
        transport=transport,
        operation_days=usage_days,
    )
    with outputs.writing() as writer:
        writer.write(snapshot, inventory.to_json())
    where = "the snapshot to standard output" if snapshot.kind == "stdout" else snapshot.shown
    streams.stderr.write(
        f"wrote {where}: {len(inventory.clients)} clients"
        + (f", {len(inventory.roles)} roles" if inventory.roles is not None else "")
        + (f", usage over {inventory.usage.days} days" if inventory.usage is not None else "")
        + (
            f", operations over {inventory.operation_usage.days} days"
            if inventory.operation_usage is not None
            else ""
        )
        + "".join(f"; {note}" for note in inventory.usage_notes)
        + "\n"
    )
    return ExitCode.OK


# -- checking -----------------------------------------------------------------------------------


def as_of_day(flag: date | None, source: SourceInfo, now: datetime) -> tuple[date, AsOfBasis]:
    """The day time-based checks judge as of: ``--as-of``, else a snapshot's ``fetchedAt`` (so the
    same snapshot gives the same answer on any day), else now (a live org, proposals alone)."""
    if flag is not None:
        return flag, "as-of"
    if source.kind == "snapshot" and source.fetched_at is not None:
        return source.fetched_at.astimezone(timezone.utc).date(), "snapshot"
    return now.astimezone(timezone.utc).date(), "now"


def run_info(
    policies: PolicySet,
    source: SourceInfo,
    opts: CheckOptions,
    now: datetime,
    *,
    color: bool,
    warnings: tuple[str, ...] = (),
    as_of: tuple[date, AsOfBasis] | None = None,
    least_privilege: OrgLeastPrivilege | None = None,
) -> RunInfo:
    """What every reporter states besides the findings: tool, policies, rules, source, options,
    and the least-privilege view of ``least_privilege`` (the run's analysis), built here once."""
    from genesys_oauth_audit.report.base import PolicyRef, RuleInfo, RunInfo
    from genesys_oauth_audit.report.leastpriv import build_view

    judged, basis = as_of or as_of_day(opts.as_of, source, now)
    return RunInfo(
        tool_version=__version__,
        generated_at=now,
        policies=tuple(
            PolicyRef(path=f.path, sha256=f.sha256, name=f.name) for f in policies.files
        ),
        rules=tuple(
            RuleInfo(
                id=r.id,
                title=r.title,
                severity=r.severity,
                check_type=r.check_type.name,
                description=r.description,
                remediation=r.remediation,
                help_uri=r.help_uri,
                tags=r.tags,
                source=str(r.source),
                controls=r.controls,
            )
            for r in policies.rules
        ),
        source=source,
        fail_on=opts.fail_on,
        min_severity=opts.min_severity,
        color=color,
        group_by=opts.group_by,
        sarif_include_waived=opts.sarif_include_waived,
        sarif_category=opts.sarif_category,
        baseline=str(opts.baseline) if opts.baseline is not None else None,
        frameworks=opts.frameworks,
        warnings=warnings,
        as_of=judged,
        as_of_basis=basis,
        width=opts.width,
        riskiest=opts.riskiest,
        least_privilege=build_view(least_privilege) if least_privilege is not None else None,
    )


def source_info(inventory: Inventory, kind: SourceKind, path: str | None = None) -> SourceInfo:
    """Where an inventory came from, with the usage it holds and which service answered."""
    from genesys_oauth_audit.report.base import SourceInfo

    return SourceInfo(
        kind=kind,
        org_id=inventory.org.id,
        org_name=inventory.org.name,
        region=inventory.region,
        fetched_at=inventory.fetched_at,
        path=path,
        usage=inventory.usage,
        operation_usage=inventory.operation_usage,
        usage_notes=inventory.usage_notes,
    )


def check(
    opts: CheckOptions,
    *,
    environ: Mapping[str, str],
    streams: Streams,
    transport: httpx.BaseTransport | None = None,
    color: bool = False,
) -> ExitCode:
    """``check``: evaluate policies over a snapshot or a live org and report."""
    from genesys_oauth_audit.inventory import cyclic_gc_paused

    # A check builds and drops hundreds of thousands of acyclic records on a large org.
    with cyclic_gc_paused():
        return _check(opts, environ=environ, streams=streams, transport=transport, color=color)


def _check(
    opts: CheckOptions,
    *,
    environ: Mapping[str, str],
    streams: Streams,
    transport: httpx.BaseTransport | None,
    color: bool,
) -> ExitCode:
    from genesys_oauth_audit.engine.baseline import load_baseline

    now = _now(opts.now)
    # Every output path is checked before any work: a bad second path must not cost an audit,
    # and nothing is written unless the whole set can be.
    planned = plan_outputs(opts, streams)
    policies = policies_to_check(opts.policies, opts.frameworks, streams)
    known = load_baseline(opts.baseline) if opts.baseline is not None else None
    evaluation, info = audit(
        policies,
        known,
        opts,
        now,
        environ=environ,
        streams=streams,
        transport=transport,
        color=color,
    )
    write_reports(evaluation, info, opts, streams, planned=planned)
    return ExitCode.FINDINGS if info.verdict(evaluation) else ExitCode.OK


def audit(
    policies: PolicySet,
    known: Sequence[BaselineEntry] | None,
    opts: CheckOptions,
    now: datetime,
    *,
    environ: Mapping[str, str],
    streams: Streams,
    transport: httpx.BaseTransport | None,
    color: bool,
    on_request: Callable[[str], None] | None = None,
    place: Place | None = None,
    judge_while_waiting: bool = True,
) -> tuple[Evaluation, RunInfo]:
    """``check`` without its outputs: the inventory (a snapshot, the live org, proposals),
    evaluated and compared with the baseline; what every report of the run states. A run of
    many orgs calls this once per org (orgs.py), with the org's own environment.
    ``judge_while_waiting``: judge the rules that read no usage while a live org's usage query
    runs (``engine.evaluate.evaluate_early``); a run of many orgs leaves that wait to the other
    orgs instead."""
    from genesys_oauth_audit.engine.evaluate import EarlyEvaluation, evaluate, evaluate_early
    from genesys_oauth_audit.findings import Location, Subject, apply_baseline
    from genesys_oauth_audit.inventory import read_snapshot
    from genesys_oauth_audit.leastpriv.org import analyse_inventory
    from genesys_oauth_audit.report.base import SourceInfo
    from genesys_oauth_audit.settings import has_credentials

    # Rules an override switches off (as of the day judged) need no data: a disabled usage rule
    # costs no query. A snapshot's own day is known only once it is read, but then nothing is
    # fetched.
    fetch_day = opts.as_of or now.date()
    needs = policies.needs(fetch_day)

    # Proposal files are read and checked once, now, before the network: a bad one fails in
    # milliseconds. Their roles are resolved against the org's below. (Imported only for them:
    # checking a plan's shape loads jsonschema, some 30 ms of every other check's start.)
    proposed = None
    if opts.proposed:
        from genesys_oauth_audit.proposals import parse_proposals

        proposed = parse_proposals(opts.proposed)

    subjects: list[Subject] | None = None
    inventory: Inventory | None = None
    early: list[EarlyEvaluation] = []
    source = SourceInfo(kind="proposal")
    if opts.inventory is not None:
        inventory, lines = read_snapshot(opts.inventory)
        shown = str(opts.inventory)
        subjects = [
            Subject(c, Location(shown, lines[c.id]) if c.id in lines else None)
            for c in inventory.clients
        ]
        source = source_info(inventory, "snapshot", shown)
    elif proposed is None or has_credentials(opts.connection.client_id, environ):
        usage_days = None
        if "usage" in needs:
            usage_days = max(opts.usage_days or 0, policies.usage_days(fetch_day) or 0) or None
        judge_early = None
        if proposed is None and judge_while_waiting:
            # The rules that read no usage are judged while the usage query runs, not after it
            # (a 5,000-client audit: 2.8 s -> 2.5 s).
            day = as_of_day(opts.as_of, SourceInfo(kind="live"), now)[0]

            def judge_early(without_usage: Inventory) -> None:
                early.append(evaluate_early(policies, without_usage, today=day))

        inventory = fetch_live(
            opts.connection,
            roles="roles" in needs or proposed is not None,
            usage_days=usage_days,
            now=now,
            environ=environ,
            streams=streams,
            transport=transport,
            # The operations window is as long as one usage job allows, unless --usage-days
            # says otherwise: the longer it is, the fewer rare jobs look unused.
            operation_days=(opts.usage_days or OPERATION_DAYS) if "operations" in needs else None,
            on_request=on_request,
            place=place,
            meanwhile=judge_early,
        )
        source = source_info(inventory, "live")

    # What the fetch doubted (an org with no clients) stays said when proposals are judged too.
    warnings = inventory.warnings if inventory is not None else ()
    if proposed is not None:
        from genesys_oauth_audit.proposals import proposal_inventory, resolve_proposals

        # Judge the proposals (as they will be after the change) against the org's catalogs.
        resolved = resolve_proposals(proposed, inventory)
        subjects = [p.subject() for p in resolved.proposals]
        inventory = proposal_inventory(resolved, inventory)
        source = replace(source, proposals=resolved.files, notes=(*source.notes, *resolved.notes))
    assert inventory is not None

    judged = as_of_day(opts.as_of, source, now)
    # Least privilege over the operations clients called, once: the unused-* rules judge it and
    # every report shows it.
    least = analyse_inventory(inventory)
    evaluation = evaluate(
        policies,
        inventory,
        today=judged[0],
        subjects=subjects,
        least_privilege=least,
        early=early[0] if early else None,
    )
    if policies.rules and len(evaluation.disabled) == len(policies.rules):
        # As a policy set without rules: a run that checks nothing must not pass a gate.
        raise BadInputError(
            f"every rule of {', '.join(f.path for f in policies.files)} is switched off by an "
            f"override in force on {judged[0].isoformat()}: a check would pass without checking "
            "anything (leave a rule on, or include a pack such as builtin:baseline)"
        )
    if known is not None:
        evaluation = apply_baseline(evaluation, known)
    info = run_info(
        policies,
        source,
        opts,
        now,
        color=color,
        warnings=warnings,
        as_of=judged,
        least_privilege=least,
    )
    return evaluation, info


@dataclass(frozen=True)
class PlannedOutputs:
    """The outputs of a ``check`` run, every path checked: reports by format, the --format report
    on standard output (unless an output given as ``-`` took it), and the baseline."""

    outputs: OutputSet
    reports: Mapping[str, Output]
    stdout: Output | None
    baseline: Output | None


def plan_outputs(opts: CheckOptions, streams: Streams) -> PlannedOutputs:
    """Check every output path of a ``check`` run now (exit 2 when one cannot be written)."""
    from genesys_oauth_audit.files.output import OutputSet

    outputs = OutputSet(stdout=streams.stdout, stderr=streams.stderr)
    reports = {fmt: outputs.add(path, f"--{fmt}-output") for fmt, path in opts.outputs.items()}
    baseline = (
        outputs.add(opts.write_baseline, "--write-baseline")
        if opts.write_baseline is not None
        else None
    )
    claimed = any(o.kind == "stdout" for o in outputs.outputs)
    stdout = None
    if opts.format_explicit or not claimed:
        stdout = outputs.add("-", f"--format {opts.format}")
    _no_output_over_input(outputs.outputs, opts)
    return PlannedOutputs(outputs, reports, stdout, baseline)


def _no_output_over_input(outputs: Sequence[Output], opts: CheckOptions) -> None:
    """An output that would replace the snapshot, a proposal or a policy file the run reads is a
    mistake, never a wish (``--json-output`` naming the ``--inventory`` file replaced the
    snapshot with a report). ``--write-baseline`` over ``--baseline`` is allowed: that is how a
    baseline is refreshed."""
    import os

    inputs: list[tuple[str, str]] = []
    if opts.inventory is not None:
        inputs.append(("--inventory", str(opts.inventory)))
    inputs += [("--proposed", str(p)) for p in opts.proposed]
    inputs += [("-p", p) for p in opts.policies if not p.startswith("builtin:")]
    read = {os.path.realpath(path): (flag, path) for flag, path in inputs}
    for output in outputs:
        if output.kind == "atomic" and output.target is not None:
            hit = read.get(os.path.realpath(output.target))
            if hit is not None:
                raise BadInputError(
                    f"{output.label} {output.shown} would replace {hit[0]} {hit[1]}, which this "
                    "run reads; give the output its own path"
                )


def write_reports(
    evaluation: Evaluation,
    info: RunInfo,
    opts: CheckOptions,
    streams: Streams,
    *,
    planned: PlannedOutputs | None = None,
) -> None:
    """Render and stage every output, then commit them together: a failing renderer, an error
    or a signal leaves no partial set (files.output.OutputSet).

    Every text is redacted: a secret of this run that reached the data (a server echoing a
    token into a client's description) is not written.
    """
    from genesys_oauth_audit.engine.baseline import baseline_text
    from genesys_oauth_audit.report import renderer

    # Markdown escapes a secret's punctuation (a token's "-" becomes "\-"): that form too.
    encoders = (markdown,)

    def text(fmt: str, run: RunInfo) -> str:
        return redact(renderer(fmt)(evaluation, run), encoders)

    planned = planned or plan_outputs(opts, streams)
    # The files written beside each report (a shortened job summary points at them).
    files = tuple((fmt, o.shown) for fmt, o in planned.reports.items() if o.kind == "atomic")
    info = replace(info, outputs=files)
    # Colour and the terminal's width are for a terminal, never for a file.
    plain = replace(info, color=False, width=TEXT_FILE_WIDTH)
    with planned.outputs.writing() as writer:
        for fmt, output in planned.reports.items():
            writer.write(output, text(fmt, plain if output.kind != "stdout" else info))
        if planned.stdout is not None:
            writer.write(planned.stdout, text(opts.format, info))
        if planned.baseline is not None:
            writer.write(
                planned.baseline, baseline_text(evaluation, info.generated_at, __version__)
            )


# -- policies -----------------------------------------------------------------------------------


def warn(warnings: Sequence[Diagnostic], streams: Streams) -> None:
    """Problems worth a second look that do not make a policy invalid, as ``path:line:col:
    warning: message`` on standard error."""
    if streams.quiet:
        return
    for d in warnings:
        streams.stderr.write(d.shown("warning") + "\n")


def policies_to_check(
    refs: Sequence[str], frameworks: tuple[str, ...], streams: Streams
) -> PolicySet:
    """The policies a ``check`` runs: loaded and validated (warnings said on stderr), limited to
    ``--framework``, and holding at least one rule: a run that checks nothing must not pass a
    gate (exit 2)."""
    from genesys_oauth_audit.policy.loader import load_policies

    policies = load_policies(refs)
    warn(policies.warnings, streams)
    if frameworks:
        policies = only_frameworks(policies, frameworks)
    if not policies.rules:
        raise InputFileError(
            [
                Diagnostic(
                    ", ".join(f.path for f in policies.files) or ", ".join(refs),
                    None,
                    None,
                    "the policies define no rule: a check would pass without checking anything "
                    "(add rules, or include a pack such as builtin:baseline)",
                )
            ]
        )
    return policies


def only_frameworks(policies: PolicySet, frameworks: tuple[str, ...]) -> PolicySet:
    """``check --framework``: only the rules mapped to one of ``frameworks``; a framework no rule
    maps to is bad input (exit 2), with a suggestion among those the policies do map."""
    from genesys_oauth_audit.files.yamldoc import did_you_mean

    known = policies.frameworks()
    for framework in frameworks:
        if framework not in known:
            files = ", ".join(f.path for f in policies.files)
            if not known:
                raise BadInputError(
                    f"--framework {framework}: no rule of {files} maps to a framework "
                    "(rules name the controls they support under controls:)"
                )
            prefixed = next((k for k in known if k.startswith(framework)), None)
            hint = did_you_mean(framework, known) or (
                f"; did you mean {prefixed!r}?" if prefixed else ""
            )
            raise BadInputError(
                f"--framework {framework}: no rule of {files} maps to it{hint} "
                f"(the policies map: {', '.join(known)})"
            )
    return policies.for_frameworks(frameworks)


def validate(paths: tuple[str, ...], *, streams: Streams) -> ExitCode:
    """``validate``: check each policy file (schema and semantics); every error of every file at once."""
    from genesys_oauth_audit.policy.loader import load_policies

    if not paths:
        raise BadInputError("validate needs at least one policy file")
    problems = []
    for path in policy_files(paths):
        try:
            policies = load_policies((path,))
        except InputFileError as exc:
            problems.extend(exc.diagnostics)
            continue
        warnings = list(policies.warnings)
        if not policies.rules:
            # Valid (`rules: []`, an include of files without rules), but it checks nothing.
            warnings.append(
                Diagnostic(
                    path,
                    None,
                    None,
                    "defines no rule, itself or through include: a check of it alone would check "
                    "nothing, and `check -p` refuses it (exit 2); add rules, or include a pack "
                    "such as builtin:baseline",
                )
            )
        warn(warnings, streams)
        overridden = sum(1 for r in policies.rules if r.override is not None)
        streams.stdout.write(
            f"{path}: ok ({len(policies.rules)} rules, {len(policies.exceptions)} exceptions"
            + (f", {overridden} overridden" if overridden else "")
            + ")\n"
        )
    if problems:
        raise InputFileError(problems)
    return ExitCode.OK


POLICY_SUFFIXES = (".yaml", ".yml")
TEST_SUFFIXES = (".test.yaml", ".test.yml")


def policy_files(paths: tuple[str, ...]) -> list[str]:
    """Files as given; for a directory, every ``*.yaml`` and ``*.yml`` below it but the policy
    tests (``*.test.yaml``, which ``test`` runs) and hidden directories, in a stable order."""
    found: list[str] = []
    for ref in paths:
        path = Path(ref)
        if not path.is_dir():
            found.append(ref)
            continue
        below = sorted(
            p
            for p in path.rglob("*")
            if p.name.endswith(POLICY_SUFFIXES)
            and not p.name.endswith(TEST_SUFFIXES)
            and not any(part.startswith(".") for part in p.relative_to(path).parts)
            and p.is_file()
        )
        if not below:
            raise BadInputError(
                f"no policy files (*.yaml, *.yml; policy tests skipped) in the directory {ref}"
            )
        found.extend(str(p) for p in below)
    return found


# ``rules`` and ``explain`` without -p read every shipped pack, so any rule id the tool ships
# can be listed and explained.
def default_policies() -> tuple[str, ...]:
    from genesys_oauth_audit.data import pack_names

    return tuple(f"builtin:{n}" for n in pack_names())


def list_rules(paths: tuple[str, ...], *, streams: Streams, as_of: date | None = None) -> ExitCode:
    """``rules``: one line per rule: id, severity (effective), title, where it is defined; below an
    overridden rule, each replaced setting with where it was replaced, and whether it is off."""
    from genesys_oauth_audit.policy.explain import origin_lines
    from genesys_oauth_audit.policy.loader import load_policies
    from genesys_oauth_audit.report.escape import terminal

    policies = load_policies(paths or default_policies())
    width = max((len(r.id) for r in policies.rules), default=2)
    for r in policies.rules:
        # A title is text from a policy file, perhaps a shared one: neutralised like any other.
        title, source = terminal(r.title), terminal(str(r.source))
        streams.stdout.write(f"{r.id:<{width}}  {r.severity.value:<8}  {title}  ({source})\n")
        for line in origin_lines(r, " " * (width + 2), as_of or _now(None).date()):
            streams.stdout.write(terminal(line) + "\n")
    return ExitCode.OK


def run_policy_tests(
    paths: tuple[str, ...], *, streams: Streams, as_of: date | None = None
) -> ExitCode:
    """``test``: run policy test files (files, or directories searched for ``*.test.yaml``).
    ``as_of`` (``--as-of``) overrides each file's ``today:``, as it overrides a snapshot's date
    in ``check``."""
    from genesys_oauth_audit.engine.policytests import (
        find_test_files,
        render_results,
        run_test_file,
    )

    files = find_test_files(paths)
    if not files:
        raise BadInputError(f"no policy test files (*.test.yaml) in {', '.join(paths)}")
    results = []
    problems = []
    for path in files:
        try:
            results.append(run_test_file(path, as_of=as_of))
        except InputFileError as exc:
            problems.extend(exc.diagnostics)
    if results or not problems:
        streams.stdout.write(render_results(results))
    if problems:
        raise InputFileError(problems)
    return ExitCode.FINDINGS if any(r.failed for r in results) else ExitCode.OK


def explain(
    rule_id: str,
    paths: tuple[str, ...],
    *,
    streams: Streams,
    width: int = 80,
    as_of: date | None = None,
) -> ExitCode:
    """``explain``: one rule in full: metadata, selectors, the check in words, its examples."""
    from genesys_oauth_audit.policy.explain import explain_rule
    from genesys_oauth_audit.policy.loader import load_policies

    policies = load_policies(paths or default_policies())
    rule = policies.rule(rule_id)
    if rule is None:
        import difflib

        close = difflib.get_close_matches(rule_id, [r.id for r in policies.rules], n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise BadInputError(
            f"no rule {rule_id!r} in {', '.join(f.path for f in policies.files)}{hint}"
        )
    from genesys_oauth_audit.report.escape import terminal_lines

    streams.stdout.write(
        terminal_lines(explain_rule(rule, policies, width=width, today=as_of or _now(None).date()))
    )
    return ExitCode.OK


def drift(
    old: Path,
    new: Path,
    fmt: str,
    *,
    streams: Streams,
    fail_on: tuple[str, ...] = ("any",),
) -> ExitCode:
    """``diff``: what changed between two snapshots of one org; exit 1 when a change of a class
    in ``fail_on`` did (``any``, the default: any change; ``never``: report only)."""
    from genesys_oauth_audit.engine.drift import compare
    from genesys_oauth_audit.engine.drift_classes import FAIL_ON_NEVER
    from genesys_oauth_audit.inventory import load_snapshot
    from genesys_oauth_audit.report import drift_renderer

    if FAIL_ON_NEVER in fail_on and len(set(fail_on)) > 1:
        raise BadInputError("--fail-on never cannot be combined with other classes")
    result = compare(load_snapshot(old), load_snapshot(new), fail_on=fail_on or ("any",))
    streams.stdout.write(drift_renderer(fmt)(result))
    return ExitCode.FINDINGS if result.failed else ExitCode.OK


# -- recommend ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecommendOptions:
    inventory: Path | None = None
    connection: ConnectionOptions = field(default_factory=ConnectionOptions)
    clients: tuple[str, ...] = ()  # ids or names; none: every client with operation data
    format: str = "terraform"
    output: str = "-"
    usage_days: int | None = None  # days of operations to read from a live org (at most 90)
    now: datetime | None = None


def recommend(
    opts: RecommendOptions,
    *,
    environ: Mapping[str, str],
    streams: Streams,
    transport: httpx.BaseTransport | None = None,
) -> ExitCode:
    """``recommend``: the least-privilege role (or scopes) of each client, from the operations it
    called. Reads a snapshot or the org (GETs and the usage jobs only): it never writes to it."""
    from genesys_oauth_audit.errors import FetchError
    from genesys_oauth_audit.files.output import OutputSet
    from genesys_oauth_audit.inventory import load_snapshot
    from genesys_oauth_audit.leastpriv.analysis import CLIENT_CREDENTIALS
    from genesys_oauth_audit.leastpriv.org import analyse_inventory, select_clients
    from genesys_oauth_audit.leastpriv.recommend import recommend as recommend_for
    from genesys_oauth_audit.report import recommender

    outputs = OutputSet(stdout=streams.stdout, stderr=streams.stderr)
    target = outputs.add(opts.output, "-o")
    if opts.inventory is not None:
        inventory = load_snapshot(opts.inventory)
    else:
        inventory = fetch_live(
            opts.connection,
            roles=True,
            usage_days=None,
            now=_now(opts.now),
            environ=environ,
            streams=streams,
            transport=transport,
            operation_days=opts.usage_days or OPERATION_DAYS,
        )
    why = "; ".join(inventory.usage_notes)
    if inventory.operation_usage is None:
        if opts.inventory is not None:
            raise BadInputError(
                f"{opts.inventory}: the snapshot holds no operation data (the operations each "
                "client called)"
                + (f": {why}" if why else ", as snapshots before 0.2 do")
                + "; write one with `genesys-oauth-audit fetch -o FILE`"
            )
        raise FetchError(
            "the org's usage gave no operation data, and recommend needs the operations each "
            f"client called: {why or 'none were read'}"
        )
    chosen = select_clients(inventory.clients, opts.clients) if opts.clients else inventory.clients
    if inventory.roles is None and any(c.grant_type == CLIENT_CREDENTIALS for c in chosen):
        raise BadInputError(
            f"{opts.inventory}: the snapshot holds no roles, so what client-credentials clients "
            "are granted is unknown; write one with roles (`genesys-oauth-audit fetch` without "
            "--no-roles)"
        )
    org = analyse_inventory(inventory)
    assert org is not None
    recommendations = []
    for client in chosen:
        analysis = org.get(client.id)
        if analysis is None:
            if opts.clients:
                raise BadInputError(
                    f"--client {client.name!r}: grant type {client.grant_type!r} is neither client "
                    "credentials nor user-facing; there is no role or scope to recommend"
                )
            continue
        recommendations.append(recommend_for(analysis, client))
    text = redact(recommender(opts.format)(recommendations))
    with outputs.writing() as writer:
        writer.write(target, text)
    where = "standard output" if target.kind == "stdout" else target.shown
    streams.stderr.write(
        f"recommended least privilege for {len(recommendations)} "
        f"client{'' if len(recommendations) == 1 else 's'} from "
        f"{inventory.operation_usage.days} days of operations to {where}\n"
    )
    return ExitCode.OK
