"""Connection settings: flag > environment > default, and every accepted form of a region."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from genesys_oauth_audit import redact
from genesys_oauth_audit.errors import BadInputError

if TYPE_CHECKING:
    # Imported where a secret is wrapped: every command registers the environment's secrets
    # (``register_environment_secrets``), and one that never connects need not load pydantic.
    from pydantic import SecretStr

# Region name (the SDK's enum, AWS style) -> host suffix. Source: Python SDK 269
# `purecloud_region_hosts.py` (the Genesys region list).
REGIONS: dict[str, str] = {
    "us_east_1": "mypurecloud.com",
    "eu_west_1": "mypurecloud.ie",
    "ap_southeast_2": "mypurecloud.com.au",
    "ap_northeast_1": "mypurecloud.jp",
    "eu_central_1": "mypurecloud.de",
    "us_west_2": "usw2.pure.cloud",
    "ca_central_1": "cac1.pure.cloud",
    "ap_northeast_2": "apne2.pure.cloud",
    "eu_west_2": "euw2.pure.cloud",
    "ap_south_1": "aps1.pure.cloud",
    "us_east_2": "use2.us-gov-pure.cloud",
    "sa_east_1": "sae1.pure.cloud",
    "me_central_1": "mec1.pure.cloud",
    "ap_northeast_3": "apne3.pure.cloud",
    "eu_central_2": "euc2.pure.cloud",
    "mx_central_1": "mxc1.pure.cloud",
    "ap_southeast_1": "apse1.pure.cloud",
    "eusc_de_east_1": "edee1.eusc-pure.cloud",
}

DEFAULT_REGION = "us-east-1"

ENV_REGION = "GENESYSCLOUD_REGION"
ENV_API_REGION = "GENESYSCLOUD_API_REGION"
ENV_CLIENT_ID = "GENESYSCLOUD_OAUTHCLIENT_ID"
ENV_CLIENT_SECRET = "GENESYSCLOUD_OAUTHCLIENT_SECRET"  # noqa: S105 - a variable name, not a secret
ENV_ACCESS_TOKEN = "GENESYSCLOUD_ACCESS_TOKEN"  # noqa: S105
ENV_LOGIN_URL = "GENESYSCLOUD_LOGIN_URL"

# What a bearer token may hold to travel in a header: visible ASCII, no space (RFC 6750 is
# stricter still). Checked before sending, so h11 never prints it in "Illegal header value".
_HEADER_SAFE = re.compile("[!-~]+")


def header_safe(token: str) -> bool:
    """Whether ``token`` can be sent as ``Authorization: Bearer <token>`` as it is."""
    return _HEADER_SAFE.fullmatch(token) is not None


@dataclass(frozen=True)
class Endpoint:
    """Where the API and the login host are, and what we call the region in reports."""

    api_base: str
    login_base: str
    region: str


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _check_url(url: str, what: str) -> str:
    """Accept https, or http only for loopback (tests, local emulators); strip a trailing /."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadInputError(f"{what} {url!r} is not an http(s) URL")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise BadInputError(
            f"{what} {url!r} uses plain http; only https is allowed except for loopback addresses"
        )
    if parts.query or parts.fragment:
        raise BadInputError(f"{what} {url!r} must not have a query or fragment")
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in url):
        raise BadInputError(f"{what} {url!r} holds a space or a control character")
    try:
        port = parts.port
        host = parts.hostname
        if not host.isascii() or "xn--" in host:
            import idna  # httpx's own check of an international host name (IDNA 2008)

            idna.encode(host, uts46=True)
    except (ValueError, UnicodeError):  # idna.IDNAError is a UnicodeError
        raise BadInputError(
            f"{what} {url!r} is not a URL a request can be sent to (its host or port)"
        ) from None
    if port == 0:
        raise BadInputError(f"{what} {url!r} names port 0")
    return url.rstrip("/")


def login_url_for(api_base: str) -> str:
    """The SDKs' rule: the login host is the API host with ``api.`` replaced by ``login.``."""
    parts = urlsplit(api_base)
    host = parts.netloc
    if host.startswith("api."):
        host = "login." + host[len("api.") :]
    return f"{parts.scheme}://{host}"


def resolve_region(value: str) -> Endpoint:
    """Turn any accepted region form into API and login base URLs.

    Accepted: ``us-east-1`` / ``us_east_1`` (SDK region names), a host suffix
    (``mypurecloud.ie``, also ``api.mypurecloud.ie``), or a full API base URL.
    """
    raw = value.strip()
    if not raw:
        raise BadInputError("the region is empty")
    if "://" in raw:
        api_base = _check_url(raw, "API URL")
        host = urlsplit(api_base).hostname or ""
        region = host[len("api.") :] if host.startswith("api.") else host
        return Endpoint(api_base, login_url_for(api_base), region)
    key = raw.lower().replace("-", "_")
    if key in REGIONS:
        suffix = REGIONS[key]
        return Endpoint(f"https://api.{suffix}", f"https://login.{suffix}", key.replace("_", "-"))
    if "." in raw and "/" not in raw and " " not in raw:
        suffix = raw.lower()
        for prefix in ("api.", "login."):
            if suffix.startswith(prefix):
                suffix = suffix[len(prefix) :]
        return Endpoint(f"https://api.{suffix}", f"https://login.{suffix}", suffix)
    known = ", ".join(sorted(k.replace("_", "-") for k in REGIONS))
    raise BadInputError(
        f"unknown region {value!r}: give a region name ({known}), "
        "a host suffix such as mypurecloud.ie, or a full https://api.… URL"
    )


@dataclass(frozen=True)
class Credentials:
    """Client credentials, or a bearer token issued elsewhere. Secrets stay in SecretStr."""

    client_id: str | None = None
    client_secret: SecretStr | None = field(default=None, repr=False)
    access_token: SecretStr | None = field(default=None, repr=False)


@dataclass(frozen=True)
class ConnectionSettings:
    endpoint: Endpoint
    credentials: Credentials


def connection_settings(
    *,
    region: str | None,
    client_id: str | None,
    login_url: str | None,
    environ: Mapping[str, str],
) -> ConnectionSettings:
    """Combine flags and environment (flags win) into checked connection settings."""
    from pydantic import SecretStr

    region_value = region or environ.get(ENV_REGION) or environ.get(ENV_API_REGION)
    if not region_value:
        # `GENESYSCLOUD_REGION: ${{ vars.REGION }}` with the variable missing is "", not unset:
        # falling back to us-east-1 would audit another org than the job names (as `--region ''`).
        blank = [name for name in (ENV_REGION, ENV_API_REGION) if name in environ]
        if blank:
            raise BadInputError(
                f"{blank[0]} is set but empty: name the region, or unset it to use the default "
                f"({DEFAULT_REGION})"
            )
    endpoint = resolve_region(region_value or DEFAULT_REGION)
    login = login_url or environ.get(ENV_LOGIN_URL)
    if login:
        endpoint = Endpoint(endpoint.api_base, _check_url(login, "login URL"), endpoint.region)

    token = environ.get(ENV_ACCESS_TOKEN) or None
    cid = client_id or environ.get(ENV_CLIENT_ID) or None
    secret = environ.get(ENV_CLIENT_SECRET) or None
    # Secret from the moment it is read: whatever later echoes it is redacted (redact.py).
    redact.register(token)
    redact.register(secret)
    if token is not None and not header_safe(token):
        # A variable that cannot work is bad input, like a flag (exit 2), and the token is never
        # sent: a newline in it would be a header of its own.
        raise BadInputError(
            f"{ENV_ACCESS_TOKEN}: the access token contains characters not allowed in an HTTP "
            "header (a trailing newline or space, or a non-ASCII character?); nothing was sent"
        )
    if token is None:
        if not cid:
            raise BadInputError(
                f"no credentials: set {ENV_CLIENT_ID} (or --client-id) and {ENV_CLIENT_SECRET}, "
                f"or {ENV_ACCESS_TOKEN}; or audit a snapshot with --inventory"
            )
        if not secret:
            raise BadInputError(
                f"{ENV_CLIENT_SECRET} is not set (a secret is never taken on the command line)"
            )
    return ConnectionSettings(
        endpoint=endpoint,
        credentials=Credentials(
            client_id=cid,
            client_secret=SecretStr(secret) if secret else None,
            access_token=SecretStr(token) if token else None,
        ),
    )


def register_environment_secrets(environ: Mapping[str, str]) -> None:
    """The secrets the environment holds are this run's, whether it reads the org or a snapshot:
    a report must not repeat them even if a snapshot (or a server) does."""
    redact.register(environ.get(ENV_CLIENT_SECRET))
    redact.register(environ.get(ENV_ACCESS_TOKEN))


def has_credentials(client_id: str | None, environ: Mapping[str, str]) -> bool:
    """Whether a live org can be read: proposals are checked alone when it cannot."""
    return bool(client_id or environ.get(ENV_CLIENT_ID) or environ.get(ENV_ACCESS_TOKEN))
