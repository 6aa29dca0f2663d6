"""The many-orgs pipelines: ``check --orgs`` and ``fetch --orgs`` over the orgs of an orgs file,
``merge`` of the JSON reports of separate runs, and ``orgs list``.

Each org is audited by exactly the single-org pipeline (``app.audit``, ``app.fetch_live``)
on threads of its own, at most ``--jobs`` at work at a time (an org whose threads all wait
gives its place to another meanwhile: ``Slots``), with its own environment (its own
credentials, never the process's), its own ``GenesysClient`` (token, pacing, retries,
``--deadline`` counted from when the org starts) and its own policies and baseline: a
slow, throttled or failing org neither slows nor fails the others' reads. Everything
that can be checked without the network is checked first, for every org at once (the
orgs file, every policy set, baselines, output paths, credentials), so a typo fails in
milliseconds. The run exits with the worst of its orgs (3 when one could not be
audited, then 1, then 0) and its reports say per org what happened; an org that
failed has its one-line error there and no finding.

Scaling out beyond one machine is the CI system's matrix (``--org NAME`` per job,
then ``merge``), never a scheduler of this tool's own.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, TypeVar, cast

from genesys_oauth_audit import __version__, app
from genesys_oauth_audit.errors import (
    AuditError,
    BadInputError,
    Diagnostic,
    ExitCode,
    InputFileError,
)
from genesys_oauth_audit.redact import redact
from genesys_oauth_audit.report.escape import markdown, terminal

if TYPE_CHECKING:
    import httpx

    from genesys_oauth_audit.files.output import Output
    from genesys_oauth_audit.findings import BaselineEntry
    from genesys_oauth_audit.policy.model import PolicySet
    from genesys_oauth_audit.policy.orgsfile import OrgEntry, OrgsFile
    from genesys_oauth_audit.report.base import GroupBy
    from genesys_oauth_audit.report.orgs import OrgReport, OrgsRun

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_JOBS = 8
ORG_PLACEHOLDER = "{org}"


@dataclass(frozen=True)
class OrgsOptions:
    """``--orgs FILE``, ``--org NAME`` (repeatable; none: every org) and ``--jobs N``."""

    file: Path
    names: tuple[str, ...] = ()
    jobs: int | None = None


@dataclass(frozen=True)
class MergeOptions:
    """What ``merge`` writes, and how the formats for people are drawn: the reports do not carry
    these (a matrix job that writes only JSON draws nothing), so the merge says them, with
    ``check``'s flags and defaults."""

    format: str = "text"
    outputs: Mapping[str, Path] = field(default_factory=dict)
    format_explicit: bool = True
    group_by: GroupBy = "rule"
    riskiest: int = 10  # --riskiest
    sarif_include_waived: bool = False
    color: bool = False  # the text report on standard output, on a terminal
    width: int = 80  # columns of the text report on standard output (files: always 80)
    now: datetime | None = None


def _now(given: datetime | None) -> datetime:
    now = given or datetime.now(timezone.utc)
    return now if now.tzinfo is not None else now.replace(tzinfo=timezone.utc)


# -- running orgs side by side -------------------------------------------------------------------


class Slots:
    """At most ``jobs`` orgs at work at a time (requests in flight, answers being parsed and
    evaluated). Each org has a place (``OrgPlace``) that every thread of the org works in; while
    all of them wait (a ``Retry-After``, a backoff, its usage query, pacing), the place is given
    to another org, and taken again when one of them goes on: a throttled org does not hold the
    others up, however few the places."""

    def __init__(self, jobs: int) -> None:
        self._places = threading.Semaphore(max(1, jobs))

    def place(self) -> OrgPlace:
        """A place for one more org, not taken yet (``OrgPlace.enter``)."""
        return OrgPlace(self._places)


class OrgPlace:
    """The place of one org (``genesys.client.Place``): held while at least one of the org's
    threads works, one of ``Slots``'s places whoever holds it."""

    def __init__(self, places: threading.Semaphore) -> None:
        self._places = places
        self._changed = threading.Condition()
        self._working = 0  # threads of the org at work
        self._held = False
        self._taking = False  # a thread of the org is waiting for one of the places

    def add(self) -> None:
        with self._changed:
            if not self._held:
                raise RuntimeError("a thread was started by an org without its place")
            self._working += 1

    def enter(self) -> None:
        with self._changed:
            while not self._held and self._taking:
                self._changed.wait()  # another thread of the org is taking the place for both
            if self._held:
                self._working += 1
                return
            self._taking = True
        try:
            self._places.acquire()
        except BaseException:
            with self._changed:
                self._taking = False
                self._changed.notify_all()
            raise
        with self._changed:
            self._taking, self._held = False, True
            self._working += 1
            self._changed.notify_all()

    def leave(self) -> None:
        with self._changed:
            self._working -= 1
            if self._working == 0 and self._held:
                self._held = False
                self._places.release()


def run_bounded(items: Sequence[T], work: Callable[[T, OrgPlace], R], jobs: int) -> list[R]:
    """``work(item, place)`` on every item, each on a thread of its own but at most ``jobs`` at
    work at a time (``Slots``), results in the items' order.

    Daemon threads, not an executor: a Ctrl-C or a SIGTERM (a cancelled CI job) ends the run
    at once instead of waiting for every org in flight to finish its reads. An exception that
    is not an expected failure (a bug) is raised once every item is done.
    """
    results: list[R | None] = [None] * len(items)
    failures: list[BaseException] = []
    slots = Slots(jobs)

    def worker(i: int) -> None:
        place = slots.place()
        try:
            place.enter()
            try:
                results[i] = work(items[i], place)
            finally:
                place.leave()
        except BaseException as exc:  # re-raised below, in the calling thread
            failures.append(exc)

    threads = [
        threading.Thread(target=worker, args=(i,), name=f"genesys-oauth-audit-org-{i}", daemon=True)
        for i in range(len(items))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    return cast("list[R]", results)


# The org a thread (and the reads it starts, which copy its context) works for.
_current: ContextVar[str | None] = ContextVar("genesys_oauth_audit_org", default=None)


class _OrgPrefix(logging.Filter):
    """``-v`` lines of a run over many orgs say which org they are about."""

    def filter(self, record: logging.LogRecord) -> bool:
        name = _current.get()
        if name is not None and not getattr(record, "goa_org", None):
            record.goa_org = name
            record.msg = f"org {name}: {record.msg}"
        return True


@contextmanager
def _org_log_prefix() -> Iterator[None]:
    handlers = logging.getLogger("genesys_oauth_audit").handlers
    prefix = _OrgPrefix()
    for handler in handlers:
        handler.addFilter(prefix)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(prefix)


class OrgsProgress:
    """What a run over many orgs says on stderr: a line per org when it is done (CI logs keep
    them), and on a terminal one self-overwriting line with the requests so far. Every write
    holds one lock, so lines from several orgs never interleave."""

    def __init__(self, stream: TextIO, total: int) -> None:
        self._stream = stream
        self._tty = bool(getattr(stream, "isatty", lambda: False)())
        self._lock = threading.Lock()
        self._total = total
        self._done = 0
        self._requests = 0

    def hook(self, name: str) -> Callable[[str], None]:
        """The ``on_request`` of one org's client."""

        def on_request(what: str) -> None:
            with self._lock:
                self._requests += 1
                if self._tty:
                    self._draw()

        return on_request

    def _draw(self) -> None:
        self._stream.write(
            f"\r\x1b[K{self._done} of {self._total} orgs done, {self._requests} requests"
        )
        self._stream.flush()

    def say(self, line: str) -> None:
        with self._lock:
            if self._tty:
                self._stream.write("\r\x1b[K")
            # Server text can reach an error line: this run's secrets out, controls escaped.
            self._stream.write(redact(terminal(redact(line))) + "\n")
            self._stream.flush()

    def finished(self, line: str) -> None:
        with self._lock:
            self._done += 1
        self.say(line)

    def close(self) -> None:
        with self._lock:
            if self._tty:
                self._stream.write("\r\x1b[K")
                self._stream.flush()


def _one_line(exc: AuditError) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _guard_org_id(org: OrgEntry, org_id: str | None, org_name: str | None) -> str | None:
    """Why an audit must not be reported under ``org``'s name: its credentials reached another
    org than the ``orgId`` the file names (crossed CI secrets, say)."""
    if org.org_id is None or org_id == org.org_id:
        return None
    return (
        f"the credentials for {org.name} reach org {org_id} ({org_name or 'unnamed'}), not the "
        f"orgId {org.org_id} the orgs file names: check the variables {org.client_id_env} and "
        f"{org.client_secret_env}"
    )


# -- what is checked before any network -------------------------------------------------------------


def per_org_path(path: Path, org: str, flag: str) -> Path:
    """One org's file of a flag that takes a file per org: ``{org}`` in the path is the org's
    name (``baselines/{org}.json``); a directory holds ``<org>.json``."""
    text = str(path)
    if ORG_PLACEHOLDER in text:
        return Path(text.replace(ORG_PLACEHOLDER, org))
    if path.is_dir() or text.endswith(("/", "\\")):
        return path / f"{org}.json"
    raise BadInputError(
        f"{flag} {path}: with --orgs, give a directory (holding <org>.json per org) or a path "
        f"with {ORG_PLACEHOLDER} in it (such as baselines/{ORG_PLACEHOLDER}.json): each org has "
        "its own"
    )


def _refuse_single_org_flags(opts: app.CheckOptions) -> None:
    conn = opts.connection
    given = [
        flag
        for flag, value in (
            ("--inventory", opts.inventory),
            ("--proposed", opts.proposed or None),
            ("--region", conn.region),
            ("--client-id", conn.client_id),
            ("--login-url", conn.login_url),
        )
        if value is not None
    ]
    if given:
        raise BadInputError(
            f"--orgs cannot be combined with {', '.join(given)}: each org's region and "
            "credentials come from the orgs file (audit a snapshot or proposals without --orgs)"
        )


def _load_policy_sets(
    picked: Sequence[OrgEntry], opts: app.CheckOptions, streams: app.Streams
) -> dict[str, PolicySet]:
    """Each org's policies, loaded and validated once per distinct set before any network;
    every problem of every set at once."""

    by_refs: dict[tuple[str, ...], PolicySet] = {}
    problems: list[Diagnostic] = []
    out: dict[str, PolicySet] = {}
    failed: set[tuple[str, ...]] = set()
    for org in picked:
        refs = org.policies if org.policies is not None else opts.policies
        if not refs:
            problems.append(
                Diagnostic(
                    "(command line)",
                    None,
                    None,
                    f"org {org.name} has no policies: give -p POLICY, or policies: for it in "
                    "the orgs file",
                )
            )
            continue
        if refs in failed:
            continue
        if refs not in by_refs:
            try:
                policies = app.policies_to_check(refs, opts.frameworks, streams)
            except InputFileError as exc:
                problems.extend(exc.diagnostics)
                failed.add(refs)
                continue
            by_refs[refs] = policies
        out[org.name] = by_refs[refs]
    if problems:
        raise InputFileError(problems)
    return out


def _load_baselines(
    picked: Sequence[OrgEntry], path: Path | None
) -> dict[str, tuple[BaselineEntry, ...] | None]:
    from genesys_oauth_audit.engine.baseline import load_baseline

    out: dict[str, tuple[BaselineEntry, ...] | None] = {}
    problems: list[Diagnostic] = []
    for org in picked:
        if path is None:
            out[org.name] = None
            continue
        try:
            out[org.name] = load_baseline(per_org_path(path, org.name, "--baseline"))
        except InputFileError as exc:
            problems.extend(exc.diagnostics)
    if problems:
        raise InputFileError(problems)
    return out


def _environments(
    orgs: OrgsFile, picked: Sequence[OrgEntry], environ: Mapping[str, str], *, alone: bool
) -> dict[str, dict[str, str]]:
    """Each org's environment; every org whose credentials are not set is named at once."""
    from genesys_oauth_audit.policy.orgsfile import org_environment

    out: dict[str, dict[str, str]] = {}
    missing: list[str] = []
    for org in picked:
        env, unset = org_environment(org, environ, alone=alone)
        if unset:
            missing.append(
                f"org {org.name}: {' and '.join(unset)} {'is' if len(unset) == 1 else 'are'} not set"
            )
        out[org.name] = env
    if missing:
        raise BadInputError(
            "no credentials for "
            + "; ".join(missing)
            + f" (the variables {orgs.path} names for each org; a secret is never taken from a "
            "file or the command line)"
        )
    return out


def _prepare(
    many: OrgsOptions, environ: Mapping[str, str]
) -> tuple[OrgsFile, tuple[OrgEntry, ...], dict[str, dict[str, str]]]:
    from genesys_oauth_audit.policy.orgsfile import load_orgs_file, register_org_secrets

    orgs = load_orgs_file(many.file)
    register_org_secrets(orgs, environ)
    picked = orgs.pick(many.names)
    envs = _environments(orgs, picked, environ, alone=len(many.names) == 1)
    return orgs, picked, envs


def _jobs(many: OrgsOptions, count: int) -> int:
    return many.jobs if many.jobs is not None else max(1, min(DEFAULT_JOBS, count))


# -- check --orgs -------------------------------------------------------------------------------------


def check_orgs(
    opts: app.CheckOptions,
    many: OrgsOptions,
    *,
    environ: Mapping[str, str],
    streams: app.Streams,
    transports: Mapping[str, httpx.BaseTransport] | None = None,
    color: bool = False,
) -> ExitCode:
    """``check --orgs FILE``: audit the orgs side by side and report them as one run."""
    from genesys_oauth_audit.inventory import cyclic_gc_paused

    with cyclic_gc_paused():
        return _check_orgs(
            opts, many, environ=environ, streams=streams, transports=transports, color=color
        )


def _check_orgs(
    opts: app.CheckOptions,
    many: OrgsOptions,
    *,
    environ: Mapping[str, str],
    streams: app.Streams,
    transports: Mapping[str, httpx.BaseTransport] | None,
    color: bool,
) -> ExitCode:
    from genesys_oauth_audit.report.orgs import OrgReport, OrgsRun

    _refuse_single_org_flags(opts)
    now = _now(opts.now)
    orgs, picked, envs = _prepare(many, environ)
    # Every output path is checked now (the baselines of every org too), before any work.
    baseline_paths = {
        org.name: per_org_path(opts.write_baseline, org.name, "--write-baseline")
        for org in picked
        if opts.write_baseline is not None
    }
    _plan(opts, streams, baseline_paths)
    policy_sets = _load_policy_sets(picked, opts, streams)
    baselines = _load_baselines(picked, opts.baseline)
    progress = OrgsProgress(streams.stderr, len(picked))

    def audit_one(org: OrgEntry, place: OrgPlace) -> OrgReport:
        _current.set(org.name)
        org_opts = replace(
            opts,
            policies=org.policies if org.policies is not None else opts.policies,
            baseline=per_org_path(opts.baseline, org.name, "--baseline")
            if opts.baseline is not None
            else None,
            write_baseline=None,
            outputs={},
        )
        try:
            evaluation, info = app.audit(
                policy_sets[org.name],
                baselines[org.name],
                org_opts,
                now,
                environ=envs[org.name],
                streams=streams,
                transport=(transports or {}).get(org.name),
                color=color,
                on_request=progress.hook(org.name),
                place=place,
                # An org's wait for its usage query is when the others work (measured: judging
                # in it held the place from them, 20 orgs under --jobs 8 took longer); alone
                # (a matrix job's --org), the wait is idle.
                judge_while_waiting=len(picked) == 1,
            )
        except AuditError as exc:
            report = OrgReport(
                name=org.name, region=org.region, error=_one_line(exc), error_code=exc.exit_code
            )
        else:
            crossed = _guard_org_id(org, info.source.org_id, info.source.org_name)
            report = (
                OrgReport(name=org.name, region=org.region, error=crossed)
                if crossed is not None
                else OrgReport(name=org.name, region=org.region, evaluation=evaluation, run=info)
            )
        finally:
            _current.set(None)
        progress.finished(_status_line(report))
        return report

    try:
        with _org_log_prefix():
            reports = run_bounded(picked, audit_one, _jobs(many, len(picked)))
    finally:
        progress.close()
    run = OrgsRun(
        tool_name="genesys-oauth-audit",
        tool_version=__version__,
        generated_at=now,
        orgs_file=orgs.path,
        orgs_sha256=orgs.sha256,
        listed=tuple((o.name, o.region) for o in orgs.orgs),
        orgs=tuple(reports),
        min_severity=opts.min_severity,
        fail_on=opts.fail_on,
        color=color,
    )
    written = {
        r.name: baseline_paths[r.name] for r in reports if r.audited and r.name in baseline_paths
    }
    _write(run, opts.format, opts, streams, written)
    return run.exit_code


def _status_line(report: OrgReport) -> str:
    if report.evaluation is None or report.run is None:
        return f"org {report.name}: not audited: {report.error}"
    counts = report.run.counts(report.evaluation)
    verdict = "FAIL" if report.verdict == "fail" else "PASS"
    return (
        f"org {report.name}: {verdict}, {report.evaluation.clients_evaluated} clients, "
        f"{counts.shown} findings shown, {counts.failing} at or above --fail-on"
    )


def _plan(
    opts: app.CheckOptions, streams: app.Streams, baselines: Mapping[str, Path]
) -> tuple[app.PlannedOutputs, dict[str, Output]]:
    """The run's outputs, every path checked: reports (as ``check`` plans them) and a baseline
    per org (for the orgs named in ``baselines``)."""
    planned = app.plan_outputs(replace(opts, write_baseline=None), streams)
    per_org = {
        name: planned.outputs.add(path, f"--write-baseline ({name})")
        for name, path in baselines.items()
    }
    return planned, per_org


def _drawn(run: OrgsRun, **changes: Any) -> OrgsRun:
    """``run`` with each audited org's ``RunInfo`` changed so (how the reports are drawn)."""
    return replace(
        run,
        orgs=tuple(
            replace(o, run=replace(o.run, **changes)) if o.run is not None else o for o in run.orgs
        ),
    )


def _write(
    run: OrgsRun,
    fmt: str,
    opts: app.CheckOptions,
    streams: app.Streams,
    baselines: Mapping[str, Path],
) -> None:
    """Render and commit every output together (files.output.OutputSet); every text redacted,
    as ``app.write_reports`` does. The set is planned again with the baselines of the orgs that
    were audited: an org that failed keeps its baseline file as it was."""
    from genesys_oauth_audit.engine.baseline import baseline_text
    from genesys_oauth_audit.report.orgs import GITHUB_MAX_RUNS, ORGS_REPORTERS

    planned, per_org = _plan(opts, streams, baselines)
    # As ``app.write_reports`` draws one org's: every org's part names the files this run writes
    # (a shortened job summary points at them), and colour and the terminal's width are for a
    # terminal, never for a file.
    files = tuple(
        (name, out.shown) for name, out in planned.reports.items() if out.kind == "atomic"
    )
    run = _drawn(run, outputs=files)
    plain = replace(_drawn(run, color=False, width=app.TEXT_FILE_WIDTH), color=False)

    def text(name: str, which: OrgsRun) -> str:
        return redact(ORGS_REPORTERS[name](which), (markdown,))

    audited = sum(1 for o in run.orgs if o.audited)
    if audited > GITHUB_MAX_RUNS and ("sarif" in planned.reports or fmt == "sarif"):
        streams.stderr.write(
            f"warning: the SARIF report holds {audited} runs (one per org); GitHub code scanning "
            f"accepts at most {GITHUB_MAX_RUNS} per upload: upload each org's SARIF from its own "
            "matrix job instead (docs/many-orgs.md)\n"
        )
    with planned.outputs.writing() as writer:
        for name, output in planned.reports.items():
            writer.write(output, text(name, plain if output.kind != "stdout" else run))
        if planned.stdout is not None:
            writer.write(planned.stdout, text(fmt, run))
        for o in run.orgs:
            if o.name in per_org and o.evaluation is not None and o.run is not None:
                writer.write(
                    per_org[o.name],
                    baseline_text(o.evaluation, o.run.generated_at, __version__),
                )


# -- fetch --orgs -------------------------------------------------------------------------------------


def fetch_orgs(
    conn: app.ConnectionOptions,
    many: OrgsOptions,
    output: Path,
    *,
    roles: bool = True,
    usage_days: int | None = 90,
    now: datetime | None = None,
    environ: Mapping[str, str],
    streams: app.Streams,
    transports: Mapping[str, httpx.BaseTransport] | None = None,
) -> ExitCode:
    """``fetch --orgs FILE -o DIR``: a snapshot per org, ``DIR/<org>.json``.

    The orgs that could be read are written (a scheduled job wants every snapshot it can
    get), together at the end; an org that could not be read writes nothing, keeps its
    previous snapshot file as it was, and makes the run exit 3."""
    from genesys_oauth_audit.files.output import OutputSet

    if conn.region is not None or conn.client_id is not None or conn.login_url is not None:
        raise BadInputError(
            "--orgs cannot be combined with --region, --client-id or --login-url: each org's "
            "region and credentials come from the orgs file"
        )
    stamp = _now(now)
    _, picked, envs = _prepare(many, environ)
    if str(output) == "-":
        raise BadInputError("fetch --orgs writes a snapshot per org: -o takes a directory")
    if ORG_PLACEHOLDER not in str(output):
        if output.exists() and not output.is_dir():
            raise BadInputError(f"-o {output}: with --orgs, -o is a directory (it is a file)")
        output.mkdir(parents=True, exist_ok=True)
    paths = {org.name: per_org_path(output, org.name, "-o") for org in picked}
    probe = OutputSet(stdout=streams.stdout, stderr=streams.stderr)
    for name, path in paths.items():
        probe.add(path, f"-o ({name})")
    progress = OrgsProgress(streams.stderr, len(picked))

    def fetch_one(
        org: OrgEntry, place: OrgPlace
    ) -> tuple[OrgEntry, str | None, str | None, ExitCode]:
        """The org, its snapshot text or why there is none, and its exit code."""
        _current.set(org.name)
        try:
            inventory = app.fetch_live(
                conn,
                roles=roles,
                usage_days=usage_days,
                now=stamp,
                environ=envs[org.name],
                streams=streams,
                transport=(transports or {}).get(org.name),
                on_request=progress.hook(org.name),
                place=place,
            )
        except AuditError as exc:
            progress.finished(f"org {org.name}: not read: {_one_line(exc)}")
            return org, None, _one_line(exc), exc.exit_code
        finally:
            _current.set(None)
        crossed = _guard_org_id(org, inventory.org.id, inventory.org.name)
        if crossed is not None:
            progress.finished(f"org {org.name}: not read: {crossed}")
            return org, None, crossed, ExitCode.INCOMPLETE
        progress.finished(
            f"org {org.name}: {len(inventory.clients)} clients"
            + (f", {len(inventory.roles)} roles" if inventory.roles is not None else "")
            + (f", usage over {inventory.usage.days} days" if inventory.usage is not None else "")
        )
        return org, inventory.to_json(), None, ExitCode.OK

    try:
        with _org_log_prefix():
            results = run_bounded(picked, fetch_one, _jobs(many, len(picked)))
    finally:
        progress.close()
    outputs = OutputSet(stdout=streams.stdout, stderr=streams.stderr)
    staged = [
        (outputs.add(paths[org.name], f"-o ({org.name})"), text)
        for org, text, _, _ in results
        if text is not None
    ]
    if staged:
        with outputs.writing() as writer:
            for out, text in staged:
                writer.write(out, text)
    failed = [org.name for org, text, _, _ in results if text is None]
    progress.say(
        f"wrote {len(staged)} snapshot{'' if len(staged) == 1 else 's'} to {output}"
        + (f"; not read: {', '.join(failed)} (no snapshot written for them)" if failed else "")
    )
    return max((code for _, _, _, code in results), default=ExitCode.OK)


# -- merge ------------------------------------------------------------------------------------------


def merge(paths: Sequence[Path], opts: MergeOptions, *, streams: app.Streams) -> ExitCode:
    """``merge REPORT.json ...``: the JSON reports of separate ``check --orgs`` runs (one per CI
    matrix job) as one report in any format, the one a single run over the same orgs writes
    (apart from when it was generated). Reports of different tool versions, policy versions
    (a policy file's sha256), orgs files or settings, or two reports of one org, are refused;
    an org of the orgs file that no report covers is reported as not audited (exit 3): a
    matrix job that was lost must not make the merged gate pass."""
    from genesys_oauth_audit.report.load import read_orgs_report
    from genesys_oauth_audit.report.orgs import OrgReport

    if not paths:
        raise BadInputError("merge needs at least one JSON report of check --orgs")
    check_opts = app.CheckOptions(
        policies=(),
        format=opts.format,
        outputs=opts.outputs,
        format_explicit=opts.format_explicit,
    )
    _plan(check_opts, streams, {})
    runs: list[tuple[str, OrgsRun]] = []
    problems: list[Diagnostic] = []
    for path in paths:
        try:
            runs.append(
                (
                    str(path),
                    read_orgs_report(
                        path,
                        color=opts.color,
                        group_by=opts.group_by,
                        sarif_include_waived=opts.sarif_include_waived,
                        riskiest=opts.riskiest,
                        width=opts.width,
                    ),
                )
            )
        except InputFileError as exc:
            problems.extend(exc.diagnostics)
    if problems:
        raise InputFileError(problems)
    _same(runs)
    first = runs[0][1]
    now = _now(opts.now)
    found: dict[str, tuple[str, OrgReport]] = {}
    for shown, run in runs:
        for o in run.orgs:
            if o.name in found:
                raise BadInputError(
                    f"two reports of org {o.name}: {found[o.name][0]} and {shown}; give each "
                    "org's report once"
                )
            found[o.name] = (shown, o)
    unlisted = [name for name in found if name not in dict(first.listed)]
    if unlisted:
        raise BadInputError(
            f"org {unlisted[0]} is not in the orgs file the reports name ({first.orgs_file})"
        )
    merged = []
    for name, region in first.listed:
        if name in found:
            o = found[name][1]
            # One run generates its reports at one time: the merge's.
            merged.append(replace(o, run=replace(o.run, generated_at=now)) if o.run else o)
        else:
            merged.append(
                OrgReport(
                    name=name,
                    region=region,
                    error="no report of this org was given to merge (its CI job failed or was "
                    "cancelled?)",
                )
            )
    run = replace(first, generated_at=now, orgs=tuple(merged))
    _write(run, opts.format, check_opts, streams, {})
    return run.exit_code


def _same(runs: Sequence[tuple[str, OrgsRun]]) -> None:
    """Refuse to merge what one run could not have written: different tool versions, orgs files,
    thresholds, --framework, or two versions of one policy file."""

    def differ(what: str, of: Callable[[OrgsRun], object], hint: str) -> None:
        values: dict[str, str] = {}
        for shown, run in runs:
            values.setdefault(repr(of(run)), shown)
        if len(values) > 1:
            listed = "; ".join(f"{shown}: {value}" for value, shown in values.items())
            raise BadInputError(f"the reports differ in {what} ({listed}): {hint}")

    differ(
        "the tool version",
        lambda r: f"{r.tool_name} {r.tool_version}",
        "merge reports of one release",
    )
    mine = f"genesys-oauth-audit {__version__}"
    theirs = f"{runs[0][1].tool_name} {runs[0][1].tool_version}"
    if theirs != mine:
        raise BadInputError(
            f"the reports were written by {theirs}, this is {mine}: merge them with the release "
            "that wrote them"
        )
    differ("the orgs file", lambda r: r.orgs_sha256, "run every job with the same orgs file")
    differ("--min-severity", lambda r: r.min_severity.value, "run every job with the same flags")
    differ(
        "--fail-on",
        lambda r: r.fail_on.value if r.fail_on else "never",
        "run every job with the same flags",
    )
    differ(
        "--framework",
        lambda r: sorted({f for o in r.orgs if o.run for f in o.run.frameworks}),
        "run every job with the same flags",
    )
    versions: dict[str, tuple[str, str]] = {}
    for shown, run in runs:
        for o in run.orgs:
            for policy in o.run.policies if o.run is not None else ():
                seen = versions.setdefault(policy.path, (policy.sha256, shown))
                if seen[0] != policy.sha256:
                    raise BadInputError(
                        f"policy {policy.path} differs between the reports ({seen[1]}: sha256 "
                        f"{seen[0][:12]}…, {shown}: sha256 {policy.sha256[:12]}…): run every "
                        "job on the same commit"
                    )


# -- orgs list ----------------------------------------------------------------------------------------


def list_orgs(path: Path, *, as_json: bool, streams: app.Streams) -> ExitCode:
    """``orgs list``: the orgs of a file (names, regions, the names of their variables), or with
    ``--json`` a GitHub Actions matrix on one line (for ``$GITHUB_OUTPUT``)."""
    from genesys_oauth_audit.files.output import json_text
    from genesys_oauth_audit.policy.orgsfile import load_orgs_file, matrix

    orgs = load_orgs_file(path)
    if as_json:
        streams.stdout.write(json_text(matrix(orgs.orgs), indent=None) + "\n")
        return ExitCode.OK
    header = ("org", "region", "client id variable", "secret variable", "policies")
    rows = [
        (
            o.name,
            o.region,
            o.client_id_env,
            o.client_secret_env,
            ", ".join(o.policies) if o.policies is not None else "(the run's -p)",
        )
        for o in orgs.orgs
    ]
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]
    for row in (header, *rows):
        cells = [terminal(c).ljust(w) for c, w in zip(row, widths, strict=True)]
        streams.stdout.write("  ".join(cells).rstrip() + "\n")
    return ExitCode.OK
