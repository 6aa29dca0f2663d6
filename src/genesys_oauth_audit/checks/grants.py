"""Check types about how a client obtains tokens: grant types, token lifetimes, redirect URIs."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from pydantic import Field

from genesys_oauth_audit.checks.params import GrantTypeName
from genesys_oauth_audit.checks.registry import (
    Context,
    Example,
    Params,
    Problem,
    check,
    nonempty_strings,
)
from genesys_oauth_audit.data.enums import GRANT_TYPE_NAMES
from genesys_oauth_audit.evidence import ValueEvidence

if TYPE_CHECKING:
    from genesys_oauth_audit.inventory import Client


class GrantTypes(Params):
    grant_types: tuple[GrantTypeName, ...] = nonempty_strings(
        "Allowed authorizedGrantType values: CODE, TOKEN, SAML2-BEARER, PASSWORD, CLIENT-CREDENTIALS."
    )


@check(
    "allowed-grant-types",
    reads=frozenset({"grantType"}),
    params=GrantTypes,
    summary="The client's grant type must be one of the listed ones.",
    subject="the grant type",
    example=Example(
        params={"grantTypes": ["CODE", "CLIENT-CREDENTIALS"]},
        passing={"grantType": "CODE"},
        failing={"grantType": "TOKEN"},
        subjects=("TOKEN",),
    ),
)
def allowed_grant_types(client: Client, ctx: Context, p: GrantTypes) -> Iterator[Problem]:
    """A finding for a client whose grant type is not listed (an unknown grant type too)."""
    if client.grant_type not in p.grant_types:
        yield Problem(
            client.grant_type or None,
            f"grant type is {grant_type_text(client.grant_type)}, which is not among the allowed "
            f"{', '.join(p.grant_types)}",
            ValueEvidence("grantType", client.grant_type, "grantTypes", p.grant_types),
        )


def grant_type_text(grant_type: str) -> str:
    """``TOKEN (implicit)``: the API's value and what OAuth calls it."""
    if not grant_type:
        return "(none)"
    name = GRANT_TYPE_NAMES.get(grant_type)
    return f"{grant_type} ({name})" if name else grant_type


class ForbiddenGrantTypes(Params):
    grant_types: tuple[GrantTypeName, ...] = nonempty_strings(
        "Forbidden authorizedGrantType values: CODE, TOKEN, SAML2-BEARER, PASSWORD, CLIENT-CREDENTIALS."
    )


@check(
    "forbidden-grant-types",
    reads=frozenset({"grantType"}),
    params=ForbiddenGrantTypes,
    summary="The client's grant type must not be one of the listed ones.",
    subject="the grant type",
    example=Example(
        params={"grantTypes": ["TOKEN", "PASSWORD"]},
        passing={"grantType": "CODE"},
        failing={"grantType": "TOKEN"},
        subjects=("TOKEN",),
    ),
)
def forbidden_grant_types(
    client: Client, ctx: Context, p: ForbiddenGrantTypes
) -> Iterator[Problem]:
    """A finding for a client whose grant type is listed (the implicit grant, the password
    grant, ...)."""
    if client.grant_type in p.grant_types:
        yield Problem(
            client.grant_type,
            f"grant type is {grant_type_text(client.grant_type)}, which this rule forbids",
            ValueEvidence("grantType", client.grant_type, "grantTypes", p.grant_types),
        )


class MaxTokenValidity(Params):
    seconds: int = Field(ge=1, description="The longest access-token lifetime allowed, in seconds.")


@check(
    "max-token-validity",
    reads=frozenset({"tokenValiditySeconds"}),
    params=MaxTokenValidity,
    summary="The client's access-token lifetime must not exceed `seconds`.",
    subject="none (one finding per client)",
    example=Example(
        params={"seconds": 43200},
        passing={"tokenValiditySeconds": 3600},
        failing={"tokenValiditySeconds": 86400},
        subjects=(None,),
    ),
)
def max_token_validity(client: Client, ctx: Context, p: MaxTokenValidity) -> Iterator[Problem]:
    """A finding for a client whose ``accessTokenValiditySeconds`` is greater than ``seconds``.

    A client whose lifetime the API did not state is not judged (the API always states it).
    """
    value = client.token_validity_seconds
    if value is not None and value > p.seconds:
        yield Problem(
            None,
            f"access tokens live {_duration(value)} ({value} s), longer than the "
            f"{_duration(p.seconds)} ({p.seconds} s) this rule allows",
            ValueEvidence("tokenValiditySeconds", value, "seconds", p.seconds),
        )


def _duration(seconds: int) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            n = seconds // size
            return f"{n} {unit}{'' if n == 1 else 's'}"
    return f"{seconds} seconds"


class RedirectUris(Params):
    require_https: bool = Field(default=False, description="Every redirect URI must use https.")
    forbid_localhost: bool = Field(
        default=False,
        description="No redirect URI may point at localhost, *.localhost, 127.0.0.0/8 or ::1.",
    )
    forbid_wildcards: bool = Field(default=False, description="No redirect URI may contain '*'.")


def _is_local(host: str) -> bool:
    host = host.lower().strip("[]")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    if host[-1:].isalpha() and ":" not in host:
        # A name (an IPv4 address ends with a digit, an IPv6 one holds ':'): no exception to
        # raise and catch for each of an org's redirect URIs.
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_PLAIN_HOST = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-")


def _scheme_and_host(uri: str) -> tuple[str, str]:
    """The URI's scheme (lower case) and host name, as ``urlsplit`` reads them. The common shape
    (``https://`` and a plain name) is read directly: ``urlsplit`` costs microseconds per URI,
    and every redirect URI of an org meets every redirect rule."""
    for prefix in ("https://", "http://"):
        if uri.startswith(prefix):
            end = len(uri)
            for stop in "/?#":
                at = uri.find(stop, len(prefix))
                if at >= 0:
                    end = min(end, at)
            netloc = uri[len(prefix) : end]
            host = netloc.split(":", 1)[0].lower()
            if (
                host
                and _PLAIN_HOST.issuperset(host)
                and (":" not in netloc or netloc.count(":") == 1)
            ):
                return prefix[:-3], host
            break
    try:
        parts = urlsplit(uri)
        return parts.scheme.lower(), parts.hostname or ""
    except ValueError:
        return "", ""


@check(
    "redirect-uris",
    reads=frozenset({"redirectUris"}),
    params=RedirectUris,
    summary="Redirect URIs must satisfy every enabled option.",
    subject="the redirect URI",
    example=Example(
        params={"requireHttps": True, "forbidLocalhost": True, "forbidWildcards": True},
        passing={"redirectUris": ["https://app.example.com/callback"]},
        failing={
            "redirectUris": [
                "https://app.example.com/callback",
                "http://app.example.com/cb",
                "https://127.0.0.1:8080/cb",
                "https://*.example.com/cb",
            ]
        },
        subjects=(
            "http://app.example.com/cb",
            "https://127.0.0.1:8080/cb",
            "https://*.example.com/cb",
        ),
    ),
)
def redirect_uris(client: Client, ctx: Context, p: RedirectUris) -> Iterator[Problem]:
    """A finding for each redirect URI that breaks an enabled option (all broken options named)."""
    for uri in client.redirect_uris:
        broken: list[str] = []
        options: list[str] = []
        scheme, host = _scheme_and_host(uri)
        if p.require_https and scheme != "https":
            broken.append(f"uses {scheme or 'no scheme'}, not https")
            options.append("requireHttps")
        if p.forbid_localhost and host and _is_local(host):
            broken.append(f"points at the local host {host}")
            options.append("forbidLocalhost")
        if p.forbid_wildcards and "*" in uri:
            broken.append("contains a wildcard '*'")
            options.append("forbidWildcards")
        if broken:
            said = broken[0] if len(broken) == 1 else ", ".join(broken[:-1]) + " and " + broken[-1]
            yield Problem(
                uri,
                f"redirect URI {uri!r} {said}",
                ValueEvidence("redirectUris", uri, ", ".join(options), True),
            )
