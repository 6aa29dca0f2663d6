"""Request bodies as proposals: one ``OAuthClientRequest`` (JSON or YAML), or a list of them, as
you would POST or PUT (an ``id`` when it updates an existing client)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from genesys_oauth_audit.errors import Diagnostic, ProposalError
from genesys_oauth_audit.files.yamldoc import Document, compose, did_you_mean
from genesys_oauth_audit.findings import Location
from genesys_oauth_audit.inventory import CLIENT_STATES, GRANT_TYPES, Client
from genesys_oauth_audit.proposals.model import DEFAULT_VALIDITY, Draft


class _RoleDivision(BaseModel):
    model_config = ConfigDict(extra="forbid")
    roleId: str
    divisionId: str


class _ClientRequest(BaseModel):
    """``OAuthClientRequest`` (plus ``id`` for an update). Unknown keys are errors: a body that
    says ``scopes`` instead of ``scope`` must not pass as a client with no scopes."""

    model_config = ConfigDict(extra="forbid")
    name: str
    authorizedGrantType: str
    id: str | None = None
    description: str | None = None
    accessTokenValiditySeconds: int | None = None
    registeredRedirectUri: list[str] | None = None
    roleIds: list[str] | None = None
    scope: list[str] | None = None
    roleDivisions: list[_RoleDivision] | None = None
    state: str | None = None
    dateToDelete: str | None = None


_BODY_KEYS = list(_ClientRequest.model_fields)


def positioned(text: str, shown: str) -> Document:
    """A positioned document, through the YAML composer (JSON is YAML here)."""
    doc = Document(shown)
    problems: list[Diagnostic] = []
    compose(text, doc, problems, what="an OAuth client request body or a Terraform plan")
    if problems:
        raise ProposalError(problems)
    return doc


def _refused_values(doc: Document, path: tuple[Any, ...], body: _ClientRequest) -> list[Diagnostic]:
    """Values the API would refuse: a grant type or state outside its enumerations (a grant type
    spelt ``CLIENT_CREDENTIALS`` would otherwise skip every client-credentials rule), and a new
    client that is not active (the API answers ``bad.client.state``)."""
    problems: list[Diagnostic] = []
    grant = body.authorizedGrantType
    if grant not in GRANT_TYPES:
        problems.append(
            doc.at(
                (*path, "authorizedGrantType"),
                f"authorizedGrantType {grant!r} is not a grant type of the API"
                f"{did_you_mean(grant.upper(), GRANT_TYPES)} (expected one of: {', '.join(GRANT_TYPES)})",
            )
        )
    state = body.state
    if state is not None and state not in CLIENT_STATES:
        problems.append(
            doc.at(
                (*path, "state"),
                f"state {state!r} is not a state of the API{did_you_mean(state.lower(), CLIENT_STATES)} "
                f"(expected one of: {', '.join(CLIENT_STATES)})",
            )
        )
    elif state not in (None, "active") and body.id is None:
        problems.append(
            doc.at(
                (*path, "state"),
                f"state {state!r} for a new client: the API creates clients only as active "
                "(it answers bad.client.state); create it active, then change its state",
            )
        )
    return problems


def body_drafts(doc: Document) -> list[Draft]:
    """Every request body of a document; all of its problems at once (exit 2)."""
    data = doc.data
    shown = doc.shown
    items = data if isinstance(data, list) else [data]
    problems: list[Diagnostic] = []
    out: list[Draft] = []
    for i, item in enumerate(items):
        path: tuple[Any, ...] = (i,) if isinstance(data, list) else ()
        if not isinstance(item, dict):
            problems.append(
                doc.at(path, "expected an OAuthClientRequest object (name, authorizedGrantType, …)")
            )
            continue
        try:
            body = _ClientRequest.model_validate(item)
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                loc = (*path, *err["loc"])
                key = str(err["loc"][0]) if err["loc"] else ""
                if err["type"] == "extra_forbidden":
                    message = f"unknown key {key!r}{did_you_mean(key, _BODY_KEYS)} (an OAuthClientRequest has: {', '.join(_BODY_KEYS)})"
                    problems.append(doc.at(loc, message, key=True))
                elif err["type"] == "missing":
                    problems.append(
                        doc.at(path, f"missing required key {key!r} of an OAuthClientRequest")
                    )
                else:
                    problems.append(
                        doc.at(loc, f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}")
                    )
            continue
        refused = _refused_values(doc, path, body)
        if refused:
            problems.extend(refused)
            continue
        line, column = doc.pos.get(path, (1, 1))
        client = Client(
            id=body.id or "",
            name=body.name,
            description=body.description,
            grant_type=body.authorizedGrantType,
            state=body.state or "active",
            scopes=tuple(sorted(set(body.scope or ()))),
            token_validity_seconds=body.accessTokenValiditySeconds or DEFAULT_VALIDITY,
            redirect_uris=tuple(body.registeredRedirectUri or ()),
        )
        out.append(
            Draft(
                client=client,
                location=Location(shown, line, column),
                action="update" if body.id else "create",
                client_id=body.id,
                role_pairs=tuple(
                    [(rd.roleId, rd.divisionId) for rd in body.roleDivisions or ()]
                    + [(r, None) for r in body.roleIds or ()]
                ),
            )
        )
    if problems:
        raise ProposalError(problems)
    return out
