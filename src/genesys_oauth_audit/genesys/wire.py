"""The API's own shapes (the Platform API's Swagger definition), parsed tolerantly.

Extra fields are ignored and most fields may be missing (the API adds fields
over time and older regions lag), but a field of the wrong type is an error:
a body we cannot trust must never shrink the inventory silently. So is a
missing field the API requires (``OAuthClient.name``, ``authorizedGrantType``)
or one without which an entity would read as harmless (a role's
``permissionPolicies``). Enums are plain strings so an unknown grant type or
state does not crash the tool (the engine reports such a client as not
evaluated by the rules that select by it).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

# Times and days within the range the checks can count with (a year-1 date is no answer).
from genesys_oauth_audit.inventory import CalendarDay, Moment


class Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


# A count or a number of seconds: a JSON integer, never negative. Strict: pydantic's lax mode would
# read `true` as 1 and "172800" as a number, and an answer that says either is not understood.
Count = Annotated[int, Field(strict=True, ge=0)]
# A value the API requires and enumerates, or an id: an empty string is no value (as null is not).
# An id of "" would name nothing: a role held by that id would read as a deleted role.
Named = Annotated[str, Field(min_length=1)]


class WireEntityRef(Wire):
    """``DomainEntityRef`` (``createdBy``, ``modifiedBy``): a user, or no one (null). An id of ""
    would be a creator on record that names no one."""

    id: Named | None = None
    name: str | None = None


class WireRoleDivision(Wire):
    """``RoleDivision``: both fields are required by the API."""

    roleId: Named
    divisionId: Named


class WireClient(Wire):
    """``OAuthClient``. There is deliberately no ``secret`` field: parsing drops it. ``name`` and
    ``authorizedGrantType`` are required by the API's model: a client without its grant type would
    drop out of every rule that selects by grant type."""

    id: Named
    name: str
    description: str | None = None
    accessTokenValiditySeconds: Count | None = None
    registeredRedirectUri: list[str] | None = None
    roleIds: list[Named] | None = None
    dateCreated: Moment | None = None
    dateModified: Moment | None = None
    createdBy: WireEntityRef | None = None
    modifiedBy: WireEntityRef | None = None
    authorizedGrantType: Named
    scope: list[Named] | None = None
    roleDivisions: list[WireRoleDivision] | None = None
    state: str | None = None
    dateToDelete: Moment | None = None


class WireListing(Wire):
    """The paging envelope shared by ``OAuthClientEntityListing`` and ``OrganizationRoleEntityListing``."""

    entities: list[dict[str, Any]] | None = None
    pageSize: Count | None = None
    pageNumber: Count | None = None
    total: Count | None = None
    pageCount: Count | None = None
    nextUri: str | None = None
    selfUri: str | None = None


class WireScope(Wire):
    id: Named
    description: str | None = None


class WireScopeListing(Wire):
    """``OAuthScopeListing``: not paged."""

    entities: list[WireScope]
    total: Count | None = None


class WireOrganization(Wire):
    id: str | None = None
    name: str | None = None


class WirePermissionPolicy(Wire):
    """``DomainPermissionPolicy``: what a role grants. A policy without its domain, entity or
    actions would read as granting nothing, and a ``*:*:*`` role as harmless: not understood."""

    domain: Named
    entityName: Named
    actionSet: list[Named]


class WireRole(Wire):
    """``DomainOrganizationRole``; ``permissionPolicies`` is authoritative (API-NOTES §5). It is
    required here although the API's model marks nothing required: a role read without it would
    pass as a role that grants nothing, and every client holding it as harmless. An empty list is
    a real role with no permissions."""

    id: Named
    name: str | None = None
    description: str | None = None
    permissionPolicies: list[WirePermissionPolicy]


class WireUsageExecution(Wire):
    executionId: str
    resultsUri: str | None = None


class WireUsageRow(Wire):
    clientId: str | None = None
    requests: Count | None = None
    date: Moment | None = None


class WireUsageResult(Wire):
    results: list[WireUsageRow] | None = None
    queryStatus: str | None = None


class WireUsageJob(Wire):
    """``OrganizationUsageQueryResponse``: the answer to submitting an aggregates query job
    (the usage service's Swagger definition); ``id`` is the job id."""

    id: str
    name: str | None = None
    resultsUri: str | None = None
    selfUri: str | None = None


class WireApiUsage(Wire):
    """``OrganizationPublicApiUsage``: one row of a job's results. A dimension the query did not
    group by is absent; counts are non-negative (a negative one is a body we cannot trust)."""

    date: CalendarDay | None = None
    platform: str | None = None
    httpMethod: str | None = None
    templateUri: str | None = None
    requestCount: Count | None = None
    status200: Count | None = None
    status300: Count | None = None
    status400: Count | None = None
    status429: Count | None = None
    status500: Count | None = None
    oauthClient: WireEntityRef | None = None


class WireUsageJobResults(Wire):
    """``OrganizationPublicApiUsageResultsResponse``: a job's status and one page of its rows."""

    queryStatus: str
    errorBody: WireError | None = None
    entities: list[WireApiUsage] | None = None
    nextUri: str | None = None
    selfUri: str | None = None


class WireToken(Wire):
    """The login host's answer to a client-credentials grant."""

    access_token: str
    expires_in: float | None = None
    token_type: str | None = None


class WireError(Wire):
    """``ErrorBody`` of the API, and the login host's ``{error, description}``."""

    message: str | None = None
    code: str | None = None
    status: int | None = None
    contextId: str | None = None
    messageParams: dict[str, Any] | None = None
    error: str | None = None
    description: str | None = None
    error_description: str | None = None


WireUsageJobResults.model_rebuild()
