"""Run every rule over every client it selects, apply exceptions, and collect an ``Evaluation``."""

from __future__ import annotations

import operator
from array import array
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from hashlib import sha256
from typing import Any

from genesys_oauth_audit.checks import (
    NEED_REASONS,
    NEEDS_OPERATIONS,
    NEEDS_ROLES,
    NEEDS_SCOPES,
    NEEDS_USAGE,
    Context,
    Problem,
)
from genesys_oauth_audit.checks.risk import RiskCatalog, risk_catalog
from genesys_oauth_audit.findings import (
    FINGERPRINT_VERSION,
    NO_SUBJECT,
    ClientRef,
    DisabledRule,
    Evaluation,
    ExceptionStatus,
    Finding,
    NotEvaluated,
    Subject,
    Waiver,
)
from genesys_oauth_audit.inventory import (
    CLIENT_STATES,
    GRANT_TYPES,
    Client,
    Inventory,
    Role,
    cyclic_gc_paused,
)
from genesys_oauth_audit.leastpriv.org import OrgLeastPrivilege, analyse_inventory
from genesys_oauth_audit.policy.model import PolicyException, PolicySet, Rule, Where

EXPIRY_WARNING_DAYS = 14


def _client_ref(target: Subject, ctx: Context, catalog: RiskCatalog) -> ClientRef:
    """What a client can do, for the client views: roles by name, counts, highest risk and why."""
    client = target.client
    names: dict[str, None] = {}
    for g in client.roles:
        role = ctx.roles.get(g.role_id) if ctx.roles is not None else None
        names[role.name if role is not None else g.name or g.role_id] = None
    roles = tuple(names)
    top = catalog.highest(client.permissions, client.scopes)
    # Positional, in ClientRef's field order: a NamedTuple built from keywords costs about twice
    # as much, and one is built per client of the org.
    return ClientRef(
        client.id or None,
        client.name,
        target.location,
        client.grant_type,
        client.state,
        roles,
        len(client.permissions) if client.permissions is not None else None,
        len(client.scopes),
        top[0].risk if top is not None else None,
        f"{top[1]}: {top[0].reason}" if top is not None else None,
    )


# The client fields whose values the API enumerates: (inventory field, Client attribute, the
# ``where`` selector that names them, the API's values, what the values are called). A client
# whose value is missing or not one of the API's (a value a newer API added, or a hand-edited
# snapshot's "client_credentials") can be told neither to match such a selector nor not to.
ENUMERATED: tuple[tuple[str, str, str, tuple[str, ...], str], ...] = (
    ("state", "state", "states", CLIENT_STATES, "states"),
    ("grantType", "grant_type", "grant_types", GRANT_TYPES, "grant types"),
)


def _doubts(client: Client) -> dict[str, str]:
    """Each enumerated field of ``client`` that is missing or not one of the API's values, and
    why (field -> reason); empty for a client the API describes in its own terms."""
    out: dict[str, str] = {}
    for name, attr, _, known, called in ENUMERATED:
        value = getattr(client, attr)
        if value in known:
            continue
        out[name] = (
            f"{name} is missing"
            if not value
            else f"{name} {value!r} is not one of the API's {called} ({', '.join(known)})"
        )
    return out


class _Index:
    """Clients by grant type and by state, built once: most selectors name only those; the
    clients for which a selector may not be answerable (``uncertain``), and the enumerated fields
    each client has outside the API's values (``doubts``)."""

    def __init__(self, targets: list[Subject]) -> None:
        self.count = len(targets)
        self.by_grant: dict[str, list[int]] = defaultdict(list)
        self.by_state: dict[str, list[int]] = defaultdict(list)
        self.uncertain: list[int] = []
        self.doubts: dict[int, dict[str, str]] = {}
        for i, t in enumerate(targets):
            self.by_grant[t.client.grant_type].append(i)
            self.by_state[t.client.state or ""].append(i)
            doubts = _doubts(t.client)
            if doubts:
                self.doubts[i] = doubts
            if t.unknown or doubts:
                self.uncertain.append(i)


def _undecided(where: Where, targets: list[Subject], index: _Index) -> dict[int, str]:
    """Clients for which it cannot be told whether the rule applies, and why: a selector names a
    field the client lacks or has outside the API's values (a state or grant type missing, or not
    one of the API's), or one a proposal knows only after apply. Each is reported as not
    evaluated for the rule, never silently skipped; one that the rule's other, known selectors
    exclude is left out as usual."""
    if where.everyone or not index.uncertain:
        return {}
    out: dict[int, str] = {}
    for i in index.uncertain:
        target = targets[i]
        unknown = target.unknown
        doubts = index.doubts.get(i, {})
        why: list[str] = []
        relax: dict[str, Any] = {}
        for name, _, selector, _, _ in ENUMERATED:
            if getattr(where, selector) is None:
                continue
            if name in unknown:
                why.append(f"{name} {unknown[name]}")
            elif name in doubts:
                why.append(doubts[name])
            else:
                continue
            relax[selector] = None
        if "name" in unknown and (where.names is not None or bool(where.exclude_names)):
            why.append(f"name {unknown['name']}")
            relax.update(names=None, exclude_names=())
        if why and replace(where, **relax).matches(target.client):
            out[i] = "whether the rule applies cannot be told: " + "; ".join(why)
    return out


def _untrusted_pass(reads: frozenset[str], doubts: dict[str, str]) -> str:
    """Why a pass of a check that reads an enumerated field the client has outside the API's
    values cannot be trusted (``forbidden-grant-types`` would pass a grant type spelt
    ``client_credentials``). A finding on such a client stands: it names the value."""
    return "a pass cannot be trusted: " + "; ".join(
        doubts[name] for name in sorted(reads & doubts.keys())
    )


def _select(where: Where, targets: list[Subject], index: _Index) -> array:  # type: ignore[type-arg]
    """Indices of the clients a rule selects, in inventory order."""
    if where.everyone:
        return array("I", range(index.count))
    if (
        where.names is None
        and where.ids is None
        and not where.exclude_names
        and not where.exclude_ids
    ):
        chosen: set[int] | None = None
        if where.grant_types is not None:
            chosen = {i for g in where.grant_types for i in index.by_grant.get(g, ())}
        if where.states is not None:
            by_state = {i for s in where.states for i in index.by_state.get(s, ())}
            chosen = by_state if chosen is None else chosen & by_state
        return array("I", sorted(chosen or ()))
    return array("I", (i for i, t in enumerate(targets) if where.matches(t.client)))


def context_for(
    inventory: Inventory, today: date, least_privilege: OrgLeastPrivilege | None = None
) -> Context:
    return Context(
        today=today,
        scopes=frozenset(s.id for s in inventory.scopes) if inventory.scopes is not None else None,
        roles={r.id: r for r in inventory.roles} if inventory.roles is not None else None,
        usage=inventory.usage,
        operations=inventory.operation_usage,
        least_privilege=least_privilege,
    )


def _available(ctx: Context) -> set[str]:
    have: set[str] = set()
    if ctx.scopes is not None:
        have.add(NEEDS_SCOPES)
    if ctx.roles is not None:
        have.add(NEEDS_ROLES)
    if ctx.usage is not None:
        have.add(NEEDS_USAGE)
    if ctx.operations is not None:
        have.add(NEEDS_OPERATIONS)
    return have


def _missing(missing: list[str], inventory: Inventory) -> str:
    """Why a rule that needs ``missing`` was not evaluated; for usage data, with what the fetch
    recorded about its source (the newer usage service answered 403, say)."""
    reason = "; ".join(NEED_REASONS[m] for m in missing)
    if inventory.usage_notes and {NEEDS_USAGE, NEEDS_OPERATIONS} & set(missing):
        reason += " (" + "; ".join(inventory.usage_notes) + ")"
    return reason


def _status(exc: PolicyException) -> ExceptionStatus:
    return ExceptionStatus(
        rule_id=exc.rule_id,
        clients=exc.clients,
        reason=exc.reason,
        expires=exc.expires,
        ticket=exc.ticket,
        owner=exc.owner,
        source=str(exc.source),
    )


def _disabled(rule: Rule, today: date) -> DisabledRule | None:
    """The record reports show for a rule an override switches off (or switched off until a day
    that has passed); None for a rule no override switches off."""
    override = rule.override
    if override is None or override.enabled:
        return None
    return DisabledRule(
        rule_id=rule.id,
        title=rule.title,
        severity=rule.severity,
        reason=override.reason or "",
        owner=override.owner,
        ticket=override.ticket,
        expires=override.expires,
        source=str(override.source),
        expired=override.expired(today),
    )


# The client fields a usage query fills (``Client.last_used``, ``Client.operations``): a rule that
# reads one (a ``field`` rule on ``lastUsed``) waits for the usage answer, as a rule that needs
# usage or operations data does.
USAGE_FIELDS = frozenset({"lastUsed", "operations"})
_USAGE_NEEDS = frozenset({NEEDS_USAGE, NEEDS_OPERATIONS})


def reads_no_usage(rule: Rule) -> bool:
    """Whether ``rule`` reads nothing a usage query answers, so that it can be judged before the
    answer comes (``evaluate_early``)."""
    return not (rule.check_type.needs & _USAGE_NEEDS) and not (
        rule.check_type.reads(rule.params) & USAGE_FIELDS
    )


@dataclass(frozen=True)
class _Outcome:
    """What judging one rule gave, in the order ``Evaluation`` lists it: the clients it selected,
    the override that switched it off, why it was not evaluated, or its findings, the pairs it
    could not judge, the pairs it judged, and the exceptions (by ``id``) that waived a finding."""

    selected: array  # type: ignore[type-arg]
    disabled: DisabledRule | None = None
    not_evaluated: NotEvaluated | None = None
    ran: bool = False
    findings: tuple[Finding, ...] = ()
    pairs_not_evaluated: tuple[NotEvaluated, ...] = ()
    pairs: int = 0
    used: frozenset[int] = frozenset()


@dataclass(frozen=True)
class EarlyEvaluation:
    """The rules of ``policies`` that read nothing a usage query answers, judged over an org's
    clients while its usage query was still running (``evaluate_early``). ``evaluate`` takes
    their outcomes instead of judging them again only when it judges the same policy set on the
    same day, with the same scope catalog, the very same roles, and clients whose every field but
    last use and operations is the very value judged early (``fetch_inventory`` adds the usage to
    the clients it assembled early as copies sharing those values); otherwise it judges
    everything, so an early judgement of anything else can make a run slower, never different.
    """

    policies: PolicySet
    today: date
    clients: tuple[tuple[Any, ...], ...]  # _as_judged of each client, in order
    scopes: frozenset[str] | None
    roles: tuple[Role, ...] | None
    outcomes: tuple[_Outcome | None, ...]  # by position in policies.rules; None: not judged

    def fits(self, policies: PolicySet, judge: _Judge) -> bool:
        roles = _roles(judge.ctx)
        return (
            self.policies is policies
            and self.today == judge.ctx.today
            and self.scopes == judge.ctx.scopes
            and _all_same(self.roles, roles)
            and len(self.clients) == len(judge.targets)
            and all(map(_all_same, self.clients, (_as_judged(t.client) for t in judge.targets)))
        )


# Every Client field but those a usage query fills (USAGE_FIELDS, by their camelCase names), in
# field order.
_JUDGED_FIELDS = operator.itemgetter(
    *(name for name, f in Client.model_fields.items() if (f.alias or name) not in USAGE_FIELDS)
)


def _as_judged(client: Client) -> tuple[Any, ...]:
    """Every field value of ``client`` but its last use and operations: what a rule that reads
    no usage can see."""
    values: tuple[Any, ...] = _JUDGED_FIELDS(client.__dict__)
    return values


def _all_same(a: tuple[Any, ...] | None, b: tuple[Any, ...] | None) -> bool:
    """The same values, each the very same object (an identity test costs nothing, and values
    equal but read afresh are judged again rather than trusted)."""
    if a is None or b is None:
        return a is b
    return len(a) == len(b) and all(map(operator.is_, a, b))


def _roles(ctx: Context) -> tuple[Role, ...] | None:
    return tuple(ctx.roles.values()) if ctx.roles is not None else None


def evaluate(
    policies: PolicySet,
    inventory: Inventory,
    *,
    today: date,
    subjects: Iterable[Subject] | None = None,
    least_privilege: OrgLeastPrivilege | None = None,
    early: EarlyEvaluation | None = None,
) -> Evaluation:
    """Evaluate ``policies`` over the clients of ``inventory`` (or over ``subjects`` if given).
    ``least_privilege`` is the inventory's analysis when the caller has it already (it is shown
    in reports too); otherwise it is computed here if a rule needs it. ``early``: the rules
    already judged while the org's usage query ran (``evaluate_early``), taken as they are when
    they were judged over these very clients; the result is the same as judging them here."""
    with cyclic_gc_paused():
        return _evaluate(policies, inventory, today, subjects, least_privilege, early)


def evaluate_early(policies: PolicySet, inventory: Inventory, *, today: date) -> EarlyEvaluation:
    """Judge the rules that read nothing a usage query answers (``reads_no_usage``) over an org
    read but for its usage: a live audit does this while the usage query runs on the service's
    side, so that only the usage rules are left when the answer comes."""
    with cyclic_gc_paused():
        judge = _Judge(policies, inventory, today, None, None)
        return EarlyEvaluation(
            policies=policies,
            today=today,
            clients=tuple(_as_judged(t.client) for t in judge.targets),
            scopes=judge.ctx.scopes,
            roles=_roles(judge.ctx),
            outcomes=tuple(judge.rule(r) if reads_no_usage(r) else None for r in policies.rules),
        )


class _Judge:
    """What every rule of one evaluation is judged against: the clients and their index, the
    context, the exceptions by rule, the day."""

    def __init__(
        self,
        policies: PolicySet,
        inventory: Inventory,
        today: date,
        subjects: Iterable[Subject] | None,
        least_privilege: OrgLeastPrivilege | None,
    ) -> None:
        self.inventory = inventory
        self.ctx = context_for(inventory, today, least_privilege)
        self.have = _available(self.ctx)
        self.targets = (
            list(subjects) if subjects is not None else [Subject(c) for c in inventory.clients]
        )
        self.index = _Index(self.targets)
        self.waivers: dict[str, list[PolicyException]] = defaultdict(list)
        for exc in policies.exceptions:
            if not exc.expired(today):
                self.waivers[exc.rule_id].append(exc)

    def rule(self, rule: Rule) -> _Outcome:
        targets, by_field, ctx = self.targets, self.index, self.ctx
        today = ctx.today
        chosen = _select(rule.where, targets, by_field)
        undecided = _undecided(rule.where, targets, by_field)
        if undecided:
            chosen = array("I", sorted({*chosen, *undecided}))
        off = _disabled(rule, today)
        if off is not None and not off.expired:
            return _Outcome(chosen, disabled=off)  # switched off by an override: listed only
        missing = sorted(rule.check_type.needs - self.have)
        reason = _missing(missing, self.inventory) if missing else None
        if reason is None and rule.check_type.precondition is not None:
            reason = rule.check_type.precondition(rule.params, ctx)
        if reason is not None:
            return _Outcome(
                chosen, disabled=off, not_evaluated=NotEvaluated(rule_id=rule.id, reason=reason)
            )
        findings: list[Finding] = []
        pairs_not_evaluated: list[NotEvaluated] = []
        used: set[int] = set()
        pairs = 0
        waivers = self.waivers.get(rule.id, [])
        run = rule.check_type.run
        reads = rule.check_type.reads(rule.params)
        params = rule.params
        rule_id, severity, title = rule.id, rule.severity, rule.title
        # What every fingerprint of this rule starts with (findings.fingerprint, inlined: a large
        # org has hundreds of thousands of findings).
        material = f"{FINGERPRINT_VERSION}\x1f{rule_id}\x1f"
        for index in chosen:
            target = targets[index]
            client = target.client
            if index in undecided:
                pairs_not_evaluated.append(
                    NotEvaluated(rule_id=rule.id, reason=undecided[index], client_index=index)
                )
                continue
            if target.unknown:
                blocked = sorted(reads & target.unknown.keys())
                if blocked:
                    reason = "; ".join(f"{name} {target.unknown[name]}" for name in blocked)
                    pairs_not_evaluated.append(
                        NotEvaluated(
                            rule_id=rule.id,
                            reason=reason,
                            client_index=index,
                            # Only when every field it lacks is one the client cannot have yet.
                            not_applicable=target.inapplicable.issuperset(blocked),
                        )
                    )
                    continue
            problems: Iterable[Problem] = run(client, ctx, params)
            doubts = by_field.doubts.get(index) if by_field.doubts else None
            if doubts is not None and reads & doubts.keys():
                problems = list(problems)
                if not problems:
                    pairs_not_evaluated.append(
                        NotEvaluated(
                            rule_id=rule.id,
                            reason=_untrusted_pass(reads, doubts),
                            client_index=index,
                        )
                    )
                    continue
            pairs += 1
            seen: set[str | None] | None = None  # most pairs pass: allocate only on a problem
            for problem in problems:
                if seen is None:
                    seen = set()
                elif problem.subject in seen:
                    continue
                seen.add(problem.subject)
                # A proposed client may have no id yet; its name is then its identity.
                key = client.id or f"proposed:{client.name}"
                subject = problem.subject
                waiver = None
                for exc in waivers:
                    if exc.matches(client.id or None, client.name):
                        used.add(id(exc))
                        waiver = Waiver(
                            reason=exc.reason,
                            expires=exc.expires,
                            ticket=exc.ticket,
                            owner=exc.owner,
                        )
                        break
                # Positional, in Finding's field order: a NamedTuple built from keywords costs
                # twice as much, hundreds of thousands of times.
                findings.append(
                    Finding(
                        rule_id,
                        severity,
                        title,
                        client.id or None,
                        client.name,
                        subject,
                        problem.message,
                        sha256(
                            f"{material}{key}\x1f{NO_SUBJECT if subject is None else subject}".encode(
                                "utf-8", "surrogatepass"
                            )
                        ).hexdigest()[:32],
                        waiver,
                        None,
                        target.location,
                        index,
                        problem.evidence,
                    )
                )
        return _Outcome(
            chosen,
            disabled=off,
            ran=True,
            findings=tuple(findings),
            pairs_not_evaluated=tuple(pairs_not_evaluated),
            pairs=pairs,
            used=frozenset(used),
        )


def _evaluate(
    policies: PolicySet,
    inventory: Inventory,
    today: date,
    subjects: Iterable[Subject] | None,
    least_privilege: OrgLeastPrivilege | None = None,
    early: EarlyEvaluation | None = None,
) -> Evaluation:
    if least_privilege is None and NEEDS_OPERATIONS in policies.needs(today):
        least_privilege = analyse_inventory(inventory)
    judge = _Judge(policies, inventory, today, subjects, least_privilege)
    ctx, targets = judge.ctx, judge.targets
    earlier: tuple[_Outcome | None, ...] = (
        early.outcomes
        if early is not None and subjects is None and early.fits(policies, judge)
        else (None,) * len(policies.rules)
    )

    expired: list[ExceptionStatus] = []
    expiring: list[ExceptionStatus] = []
    for exc in policies.exceptions:
        if exc.expired(today):
            expired.append(_status(exc))
        elif exc.expires is not None and exc.expires - today < timedelta(days=EXPIRY_WARNING_DAYS):
            expiring.append(_status(exc))

    findings: list[Finding] = []
    not_evaluated: list[NotEvaluated] = []
    pairs_not_evaluated: list[NotEvaluated] = []
    selected: dict[str, array] = {}  # type: ignore[type-arg]
    disabled: list[DisabledRule] = []
    used: set[int] = set()
    evaluated: set[str] = set()
    pairs = 0
    rules_run = 0
    for rule, done in zip(policies.rules, earlier, strict=True):
        outcome = done if done is not None else judge.rule(rule)
        selected[rule.id] = outcome.selected
        if outcome.disabled is not None:
            disabled.append(outcome.disabled)
        if outcome.not_evaluated is not None:
            not_evaluated.append(outcome.not_evaluated)
        if not outcome.ran:
            continue
        rules_run += 1
        evaluated.add(rule.id)
        findings += outcome.findings
        pairs_not_evaluated += outcome.pairs_not_evaluated
        pairs += outcome.pairs
        used |= outcome.used
    unused = [
        _status(exc)
        for exc in policies.exceptions
        # An exception of a rule that was not evaluated is neither used nor unused.
        if not exc.expired(today) and id(exc) not in used and exc.rule_id in evaluated
    ]
    findings.sort(
        key=lambda f: (
            -f.severity.rank,
            f.rule_id,
            f.client_name.casefold(),
            f.client_id or "",
            f.subject or "",
        )
    )
    catalog = risk_catalog()
    return Evaluation(
        findings=tuple(findings),
        not_evaluated=tuple(not_evaluated),
        expired_exceptions=tuple(expired),
        expiring_exceptions=tuple(expiring),
        unused_exceptions=tuple(unused),
        rules_evaluated=rules_run,
        clients_evaluated=len(targets),
        pairs_evaluated=pairs,
        clients=tuple(_client_ref(t, ctx, catalog) for t in targets),
        selected=selected,
        pairs_not_evaluated=tuple(pairs_not_evaluated),
        disabled_rules=tuple(disabled),
    )
