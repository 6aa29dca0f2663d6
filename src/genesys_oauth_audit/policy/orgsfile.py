"""The orgs file (``kind: Orgs``): the orgs one run or one CI matrix audits, each with its region,
the *names* of the environment variables holding its credentials, and optionally its own policies.

Validated like a policy file: YAML with positions, the published schema
(schemas/orgs.schema.json), then semantics, every problem of the file at once as
file:line:column. The file holds no secret, and refuses to: a value where an
environment variable's name belongs that looks like a client id or a secret is
an error that never repeats the value, and a ``clientSecret`` key gets an
error of its own.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genesys_oauth_audit import redact
from genesys_oauth_audit.errors import BadInputError, Diagnostic, InputFileError
from genesys_oauth_audit.files.schemacheck import SchemaValidator
from genesys_oauth_audit.files.yamldoc import did_you_mean, read_document, where_text
from genesys_oauth_audit.policy.schema import ENV_NAME_PATTERN, orgs_schema
from genesys_oauth_audit.settings import (
    ENV_CLIENT_ID,
    ENV_CLIENT_SECRET,
    ENV_REGION,
    resolve_region,
)

_ENV_NAME = re.compile(ENV_NAME_PATTERN)
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# Keys that would hold a credential itself: each gets a pointed error, never "unknown key".
_SECRET_KEYS = {
    "clientSecret": "clientSecretEnv",
    "secret": "clientSecretEnv",
    "client_secret": "clientSecretEnv",
    "password": "clientSecretEnv",
    "accessToken": None,
    "token": None,
    "clientId": "clientIdEnv",
    "client_id": "clientIdEnv",
}
_ENV_KEYS = ("clientIdEnv", "clientSecretEnv")
ROTATE = "; if this file was shared or committed, rotate the secret"


def _loader_schema() -> dict[str, Any]:
    """The published schema as the loader applies it: without the environment-variable-name
    pattern (a schema error would quote the value, and the value may be a secret pasted in by
    mistake; semantics checks it without repeating it), and tolerating the secret-holding keys
    (each gets a pointed error below instead of "unknown key")."""
    schema = copy.deepcopy(orgs_schema())
    item = schema["properties"]["orgs"]["items"]
    for key in _ENV_KEYS:
        item["properties"][key].pop("pattern")
    # As patternProperties, so that "unknown key" messages do not offer them as choices.
    item["patternProperties"] = {f"^({'|'.join(_SECRET_KEYS)})$": {}}
    return schema


@dataclass(frozen=True)
class OrgEntry:
    """One org of an orgs file."""

    name: str
    region: str
    client_id_env: str
    client_secret_env: str
    policies: tuple[str, ...] | None  # resolved against the orgs file's folder; None: the run's -p
    org_id: str | None = None
    index: int = 0  # its place in the file: reports list orgs in this order


@dataclass(frozen=True)
class OrgsFile:
    """A validated orgs file: its path as given, its sha256 and its orgs in order."""

    path: str
    sha256: str
    orgs: tuple[OrgEntry, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(o.name for o in self.orgs)

    def pick(self, names: Sequence[str]) -> tuple[OrgEntry, ...]:
        """The orgs ``--org`` names (all of them when none), in the file's order; an unknown name
        is bad input with a suggestion."""
        if not names:
            return self.orgs
        known = {o.name: o for o in self.orgs}
        unknown = [n for n in names if n not in known]
        if unknown:
            problems = [
                f"--org {n}: no org of that name in {self.path}{did_you_mean(n, known)}"
                for n in unknown
            ]
            raise BadInputError("\n".join(problems) + f" (the file lists: {', '.join(self.names)})")
        wanted = set(names)
        return tuple(o for o in self.orgs if o.name in wanted)


def _env_name_problem(value: str) -> str:
    """Why ``value`` is not an environment variable's name, without repeating it: it may be the
    secret itself, pasted where its variable's name belongs."""
    if _GUID.match(value.strip()):
        return (
            "the value looks like a client id (a GUID), not the name of an environment variable: put the "
            "id in a variable and write the variable's name here (for example EMEA_PROD_CLIENT_ID)"
        )
    if len(value) >= 16 and not any(c.isspace() for c in value):
        return (
            f"the value looks like a secret ({len(value)} characters, not repeated here), not the "
            "name of an environment variable: put the secret in a CI secret or an environment "
            "variable and write that variable's name here (for example EMEA_PROD_CLIENT_SECRET); "
            "if this file was shared or committed, rotate the secret"
        )
    return (
        "the value is not the name of an environment variable (capital letters, digits and underscores, "
        "for example EMEA_PROD_CLIENT_ID)"
    )


def load_orgs_file(path: str | Path) -> OrgsFile:
    """Read and validate an orgs file, or raise ``InputFileError`` with every problem found."""
    shown = str(path)
    diagnostics: list[Diagnostic] = []
    # jsonschema only for a file with an error (files/schemacheck.py): every matrix job and every
    # run over many orgs reads this file, and a valid one is proved valid without it.
    validator = SchemaValidator(_loader_schema())
    parsed = read_document(
        Path(path),
        shown,
        validator,
        diagnostics,
        what="orgs",
        expected="a mapping with apiVersion, kind: Orgs and orgs",
    )
    if parsed is None:
        raise InputFileError(diagnostics)
    doc = parsed.doc
    raw = doc.data.get("orgs")
    entries: list[OrgEntry] = []
    first_line: dict[str, int] = {}
    base = Path(path).parent
    for i, item in enumerate(raw if isinstance(raw, list) else []):
        if not isinstance(item, dict):
            continue
        at = ("orgs", i)
        for key, instead in _SECRET_KEYS.items():
            if key in item:
                # The value is never repeated, and it is taken out of anything this run writes.
                if isinstance(item[key], str):
                    redact.register(item[key])
                hint = (
                    f"write the name of the environment variable that holds it as {instead}"
                    if instead
                    else "give the org's client id and secret through the variables named by "
                    "clientIdEnv and clientSecretEnv"
                )
                what = "client id" if instead == "clientIdEnv" else "credential"
                diagnostics.append(
                    doc.at(
                        (*at, key),
                        f"{where_text((*at, key))}: a {what} never goes in the orgs file: {hint}"
                        + (ROTATE if what != "client id" else ""),
                        key=True,
                    )
                )
        for key in _ENV_KEYS:
            value = item.get(key)
            if isinstance(value, str) and not _ENV_NAME.fullmatch(value):
                if len(value) >= 16:
                    redact.register(value)
                diagnostics.append(
                    doc.at((*at, key), f"{where_text((*at, key))}: {_env_name_problem(value)}")
                )
        name = item.get("name")
        if isinstance(name, str) and parsed.clean((*at, "name")):
            if name in first_line:
                diagnostics.append(
                    doc.at(
                        (*at, "name"),
                        f"{where_text((*at, 'name'))}: duplicate org name {name!r} (first at "
                        f"line {first_line[name]}); names must be unique",
                    )
                )
            else:
                first_line[name] = doc.pos.get((*at, "name"), (0, 0))[0]
        region = item.get("region")
        if isinstance(region, str) and region.strip():
            try:
                resolve_region(region)
            except BadInputError as exc:
                diagnostics.append(doc.at((*at, "region"), f"{where_text((*at, 'region'))}: {exc}"))
        policies = item.get("policies")
        if (
            isinstance(name, str)
            and isinstance(region, str)
            and isinstance(item.get("clientIdEnv"), str)
            and isinstance(item.get("clientSecretEnv"), str)
        ):
            entries.append(
                OrgEntry(
                    name=name,
                    region=region,
                    client_id_env=item["clientIdEnv"],
                    client_secret_env=item["clientSecretEnv"],
                    policies=(
                        tuple(_policy_ref(p, base) for p in policies)
                        # Anything else is a schema error already reported (the file is refused).
                        if isinstance(policies, list) and all(isinstance(p, str) for p in policies)
                        else None
                    ),
                    org_id=item.get("orgId") if isinstance(item.get("orgId"), str) else None,
                    index=i,
                )
            )
    if diagnostics:
        raise InputFileError(sorted(diagnostics, key=lambda d: (d.line or 0, d.column or 0)))
    return OrgsFile(path=shown, sha256=parsed.sha256, orgs=tuple(entries))


def _policy_ref(ref: str, base: Path) -> str:
    """A policy named in the orgs file, as the run loads it: ``builtin:NAME`` as it is, a path
    relative to the orgs file's folder (so the file works from any working directory)."""
    if ref.startswith("builtin:") or Path(ref).is_absolute() or str(base) in ("", "."):
        return ref
    return str(base / ref)


# -- credentials --------------------------------------------------------------------------------


def org_environment(
    org: OrgEntry, environ: Mapping[str, str], *, alone: bool
) -> tuple[dict[str, str], list[str]]:
    """The environment one org's audit reads (the standard variables, from the org's own), and
    what is missing from it.

    Nothing else of the process's Genesys settings is passed on: a ``GENESYSCLOUD_ACCESS_TOKEN``
    or ``GENESYSCLOUD_LOGIN_URL`` of the process belongs to no org of the file. With ``alone``
    (``--org NAME``, one org: a CI matrix job), an org whose own variables are not set takes
    its credentials from ``GENESYSCLOUD_OAUTHCLIENT_ID``/``_SECRET`` instead, which is how a
    matrix job gets one org's secrets from that org's own CI environment; ``orgId`` in the file
    then guards against credentials of another org.
    """
    client_id = environ.get(org.client_id_env) or None
    secret = environ.get(org.client_secret_env) or None
    if alone and client_id is None and secret is None:
        client_id = environ.get(ENV_CLIENT_ID) or None
        secret = environ.get(ENV_CLIENT_SECRET) or None
    missing = []
    if client_id is None:
        missing.append(org.client_id_env)
    if secret is None:
        missing.append(org.client_secret_env)
    env = {ENV_REGION: org.region}
    if client_id is not None:
        env[ENV_CLIENT_ID] = client_id
    if secret is not None:
        env[ENV_CLIENT_SECRET] = secret
    return env, missing


def register_org_secrets(orgs: OrgsFile, environ: Mapping[str, str]) -> None:
    """Every org's secret is this run's, whether or not its org is audited now: no report or log
    line of the run may repeat any of them (redact.py)."""
    for org in orgs.orgs:
        redact.register(environ.get(org.client_secret_env))


def matrix(orgs: Sequence[OrgEntry]) -> dict[str, Any]:
    """``orgs list --json``: a GitHub Actions matrix (``strategy.matrix: ${{ fromJSON(...) }}``),
    one job per org, each with the org's name, region and variable names (never values)."""
    return {
        "include": [
            {
                "org": o.name,
                "region": o.region,
                "clientIdEnv": o.client_id_env,
                "clientSecretEnv": o.client_secret_env,
            }
            for o in orgs
        ]
    }
