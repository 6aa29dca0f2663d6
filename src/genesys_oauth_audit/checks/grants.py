"""Check types about how a client obtains tokens: grant types, token lifetimes, redirect URIs."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
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
        shown = client.grant_type or "(none)"
        yield Problem(
            client.grant_type or None,
            f"grant type {shown} is not allowed (allowed: {', '.join(p.grant_types)})",
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
            f"access tokens live {_duration(value)} ({value}s); at most {_duration(p.seconds)} ({p.seconds}s) allowed",
        )


def _duration(seconds: int) -> str:
    if seconds % 86400 == 0:
        return f"{seconds // 86400}d"
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"{seconds // 60}min"
    return f"{seconds}s"


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
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
        broken = []
        try:
            parts = urlsplit(uri)
            scheme, host = parts.scheme.lower(), parts.hostname or ""
        except ValueError:
            scheme, host = "", ""
        if p.require_https and scheme != "https":
            broken.append(f"scheme is {scheme or '(none)'}, not https")
        if p.forbid_localhost and host and _is_local(host):
            broken.append(f"host {host} is local")
        if p.forbid_wildcards and "*" in uri:
            broken.append("contains a wildcard '*'")
        if broken:
            yield Problem(uri, f"redirect URI {uri!r}: " + "; ".join(broken))
