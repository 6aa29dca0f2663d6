"""The orgs file (``kind: Orgs``): validated like a policy file, every problem at once with
file:line:column and what was expected; no secret in it, and none repeated when one was pasted
in; ``orgs list`` for people and for a CI matrix. Also the published schemas of the orgs file
and of the report of many orgs."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource

from genesys_oauth_audit.errors import BadInputError, ExitCode, InputFileError
from genesys_oauth_audit.policy.orgsfile import load_orgs_file, org_environment
from genesys_oauth_audit.policy.schema import orgs_schema
from tests.helpers import ROOT, Run

SCHEMAS = ROOT / "schemas"
HEADER = "apiVersion: genesys-oauth-audit/v1\nkind: Orgs\n"
A_SECRET = "Zk3_q9XvA7bLm2NpR8sT4uWy6zC1dE5fG0hJ-kMnOpQ"  # the shape of a Genesys client secret
# One valid org, lines 3-7 of the file (HEADER is lines 1-2): what a test adds starts at line 8.
ONE_ORG = (
    "orgs:\n"
    "  - name: emea-prod\n"
    "    region: eu-west-1\n"
    "    clientIdEnv: EMEA_ID\n"
    "    clientSecretEnv: EMEA_SECRET\n"
)


@lru_cache(maxsize=1)
def orgs_report_validator() -> Draft202012Validator:
    """The report of ``check --orgs``, validated with the published schemas (it refers to the
    report of one org for each org's part)."""
    registry: Registry = Registry()
    for name in ("report.schema.json", "orgs-report.schema.json"):
        schema = json.loads((SCHEMAS / name).read_text())
        registry = registry.with_resource(schema["$id"], Resource.from_contents(schema))
    schema = json.loads((SCHEMAS / "orgs-report.schema.json").read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, registry=registry, format_checker=FormatChecker())


def problems(tmp_path: Path, body: str) -> list[str]:
    path = tmp_path / "orgs.yaml"
    path.write_text(HEADER + body)
    with pytest.raises(InputFileError) as info:
        load_orgs_file(path)
    return [str(d).removeprefix(f"{path}:") for d in info.value.diagnostics]


def test_a_valid_file_and_its_policies_relative_to_it(tmp_path: Path) -> None:
    folder = tmp_path / "config"
    folder.mkdir()
    path = folder / "orgs.yaml"
    path.write_text(
        HEADER
        + "metadata: {name: partner}\n"
        + "orgs:\n"
        + "  - name: emea-prod\n"
        + "    region: eu-west-1\n"
        + "    clientIdEnv: EMEA_PROD_CLIENT_ID\n"
        + "    clientSecretEnv: EMEA_PROD_CLIENT_SECRET\n"
        + "    policies: [builtin:baseline, policies/prod.yaml]\n"
        + "    orgId: 8f3a\n"
        + "  - {name: apac_test, region: mypurecloud.com.au, clientIdEnv: A, clientSecretEnv: B}\n"
    )
    orgs = load_orgs_file(path)
    assert orgs.names == ("emea-prod", "apac_test")
    emea, apac = orgs.orgs
    assert emea.policies == ("builtin:baseline", str(folder / "policies" / "prod.yaml"))
    assert (emea.org_id, emea.index, apac.policies, apac.index) == ("8f3a", 0, None, 1)
    assert len(orgs.sha256) == 64
    assert orgs.pick(("apac_test",)) == (apac,)
    assert orgs.pick(()) == orgs.orgs
    with pytest.raises(BadInputError, match="did you mean 'emea-prod'"):
        orgs.pick(("emea-prd",))


def test_every_problem_at_once_with_where_and_what_was_expected(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        "orgs:\n"
        "  - name: emea-prod\n"  # 4
        "    region: eu-west-1\n"
        "    clientIdEnv: EMEA_ID\n"
        "    clientSecretEnv: EMEA_SECRET\n"
        "    regoin: x\n"  # 8
        "  - name: Emea-Prod\n"  # 9
        "    region: nowhere-9\n"  # 10
        "    clientIdEnv: emea id\n"  # 11
        "    clientSecretEnv: EMEA_SECRET\n"
        "  - name: emea-prod\n"  # 13
        "    region: eu-west-1\n"
        "    clientSecretEnv: X\n",
    )
    assert found == [
        "8:5: unknown key 'regoin' in orgs[0]; did you mean 'region'? (expected one of: name, "
        "region, clientIdEnv, clientSecretEnv, policies, orgId)",
        "9:11: orgs[1].name: 'Emea-Prod' does not match the expected form "
        "^[a-z0-9][a-z0-9_-]{0,62}$",
        "10:13: orgs[1].region: unknown region 'nowhere-9': give a region name (ap-northeast-1, "
        "ap-northeast-2, ap-northeast-3, ap-south-1, ap-southeast-1, ap-southeast-2, "
        "ca-central-1, eu-central-1, eu-central-2, eu-west-1, eu-west-2, eusc-de-east-1, "
        "me-central-1, mx-central-1, sa-east-1, us-east-1, us-east-2, us-west-2), a host suffix "
        "such as mypurecloud.ie, or a full https://api.… URL",
        "11:18: orgs[1].clientIdEnv: the value is not the name of an environment variable "
        "(capital letters, digits and underscores, for example EMEA_PROD_CLIENT_ID)",
        "13:5: orgs[2]: missing required key 'clientIdEnv'",
        "13:11: orgs[2].name: duplicate org name 'emea-prod' (first at line 4); names must be "
        "unique",
    ]


def test_a_secret_in_the_file_is_refused_and_never_repeated(run_cli: Run, tmp_path: Path) -> None:
    path = tmp_path / "orgs.yaml"
    path.write_text(
        HEADER
        + "orgs:\n"
        + "  - name: emea-prod\n"
        + "    region: eu-west-1\n"
        + "    clientIdEnv: 0f8a1e2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b\n"
        + f"    clientSecretEnv: {A_SECRET}\n"
        + "  - name: apac-test\n"
        + "    region: eu-west-1\n"
        + "    clientIdEnv: APAC_ID\n"
        + "    clientSecretEnv: APAC_SECRET\n"
        + "    clientSecret: hunter2-but-longer\n"
    )
    ran = run_cli("orgs", "list", str(path))
    assert ran.code == ExitCode.BAD_INPUT
    assert ran.stdout == ""
    # One line per problem, then the count every diagnostic list ends with.
    *lines, count = ran.stderr.splitlines()
    assert len(lines) == 3, ran.stderr
    assert count == "3 errors in 1 file"
    assert (
        ":6:18: error: orgs[0].clientIdEnv: the value looks like a client id (a GUID)" in lines[0]
    )
    assert (
        ":7:22: error: orgs[0].clientSecretEnv: the value looks like a secret (43 characters, not "
        "repeated here)" in lines[1]
    )
    assert "rotate the secret" in lines[1]
    assert (
        ":12:5: error: orgs[1].clientSecret: a credential never goes in the orgs file: write the "
        "name of the environment variable that holds it as clientSecretEnv" in lines[2]
    )
    for secret in (A_SECRET, "hunter2-but-longer", "0f8a1e2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b"):
        assert secret not in ran.stderr


def test_a_secret_key_beside_an_unknown_key_gets_only_its_own_error(tmp_path: Path) -> None:
    """A pasted secret is reported once, with the pointed error, not also as an unknown key; the
    unknown key beside it is, and neither message repeats the secret."""
    found = problems(tmp_path, ONE_ORG + f"    token: {A_SECRET}\n" + "    regoin: x\n")
    assert len(found) == 2, found
    assert found[0].startswith("8:5: orgs[0].token: a credential never goes in the orgs file")
    assert found[1].startswith("9:5: unknown key 'regoin' in orgs[0]; did you mean 'region'?")
    assert all(A_SECRET not in p for p in found)


def test_a_secret_under_a_key_ending_in_a_newline_is_not_let_through(tmp_path: Path) -> None:
    """``$`` matches before a final newline: a quoted key "clientSecret\\n" must not pass as the
    tolerated secret key without its error (the file is refused; the secret is not repeated)."""
    found = problems(tmp_path, ONE_ORG + f'    "clientSecret\\n": {A_SECRET}\n')
    assert len(found) == 1 and found[0].startswith("8:5: unknown key 'clientSecret\\n'"), found
    assert A_SECRET not in found[0]


def test_a_name_or_variable_with_a_final_newline_is_refused(tmp_path: Path) -> None:
    """A YAML block scalar (``name: |``) keeps a final newline: "emea-prod\\n" is no org name
    (it would name files, SARIF categories and matrix jobs), nor "EMEA_ID\\n" a variable's."""
    found = problems(
        tmp_path,
        "orgs:\n"
        "  - name: |\n"  # 4
        "      emea-prod\n"
        "    region: eu-west-1\n"
        '    clientIdEnv: "EMEA_ID\\n"\n'  # 7
        "    clientSecretEnv: EMEA_SECRET\n",
    )
    assert found == [
        "4:11: orgs[0].name: 'emea-prod\\n' does not match the expected form "
        "^[a-z0-9][a-z0-9_-]{0,62}$",
        "7:18: orgs[0].clientIdEnv: the value is not the name of an environment variable "
        "(capital letters, digits and underscores, for example EMEA_PROD_CLIENT_ID)",
    ]


def test_policies_that_are_not_strings_are_schema_errors(run_cli: Run, tmp_path: Path) -> None:
    """Not an internal error (exit 3): each item that is not a non-empty string is reported
    where it is, and the file is refused (exit 2)."""
    path = tmp_path / "orgs.yaml"
    path.write_text(
        HEADER
        + "orgs:\n"
        + "  - {name: emea-prod, region: eu-west-1, clientIdEnv: EMEA_ID, "
        + "clientSecretEnv: EMEA_S, policies: [1, '']}\n"
    )
    ran = run_cli("orgs", "list", str(path))
    assert ran.code == ExitCode.BAD_INPUT, ran.stderr
    assert "internal error" not in ran.stderr
    assert (
        f"{path}:4:100: error: orgs[0].policies[0]: expected a string, got a number" in ran.stderr
    ), ran.stderr
    assert f"{path}:4:103: error: orgs[0].policies[1]: must not be empty" in ran.stderr, ran.stderr


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("", "missing required key 'orgs'"),
        ("orgs: []\n", "orgs: must not be empty"),
        ("orgs: [emea]\n", "orgs[0]: expected a mapping, got a string"),
        ("kind: Policy\norgs: []\n", "duplicate key 'kind'"),
    ],
)
def test_shapes_that_are_not_an_orgs_file(tmp_path: Path, body: str, expected: str) -> None:
    assert any(expected in p for p in problems(tmp_path, body)), problems(tmp_path, body)


def test_orgs_list_for_people_and_for_a_ci_matrix(run_cli: Run, tmp_path: Path) -> None:
    path = tmp_path / "orgs.yaml"
    path.write_text(
        HEADER
        + "orgs:\n"
        + "  - {name: emea-prod, region: eu-west-1, clientIdEnv: EMEA_ID, clientSecretEnv: EMEA_S,"
        + " policies: [builtin:baseline]}\n"
        + "  - {name: apac-test, region: ap-southeast-2, clientIdEnv: APAC_ID, clientSecretEnv: APAC_S}\n"
    )
    ran = run_cli("orgs", "list", str(path), env={"EMEA_S": "the-emea-secret-value"})
    assert ran.code == 0
    assert ran.stdout.splitlines() == [
        "org        region          client id variable  secret variable  policies",
        "emea-prod  eu-west-1       EMEA_ID             EMEA_S           builtin:baseline",
        "apac-test  ap-southeast-2  APAC_ID             APAC_S           (the run's -p)",
    ]
    ran = run_cli("orgs", "list", "--json", str(path))
    assert ran.code == 0
    assert ran.stdout.count("\n") == 1  # one line, for $GITHUB_OUTPUT
    assert json.loads(ran.stdout) == {
        "include": [
            {
                "org": "emea-prod",
                "region": "eu-west-1",
                "clientIdEnv": "EMEA_ID",
                "clientSecretEnv": "EMEA_S",
            },
            {
                "org": "apac-test",
                "region": "ap-southeast-2",
                "clientIdEnv": "APAC_ID",
                "clientSecretEnv": "APAC_S",
            },
        ]
    }


def test_an_org_reads_only_its_own_variables(tmp_path: Path) -> None:
    path = tmp_path / "orgs.yaml"
    path.write_text(
        HEADER
        + "orgs:\n  - {name: a, region: eu-west-1, clientIdEnv: A_ID, clientSecretEnv: A_S}\n"
    )
    (org,) = load_orgs_file(path).orgs
    process = {
        "A_ID": "id-a",
        "A_S": "secret-a",
        "GENESYSCLOUD_ACCESS_TOKEN": "token-of-the-process",
        "GENESYSCLOUD_LOGIN_URL": "https://login.example.com",
        "GENESYSCLOUD_OAUTHCLIENT_ID": "someone-else",
        "GENESYSCLOUD_OAUTHCLIENT_SECRET": "someone-elses-secret",
    }
    env, missing = org_environment(org, process, alone=False)
    assert (env, missing) == (
        {
            "GENESYSCLOUD_REGION": "eu-west-1",
            "GENESYSCLOUD_OAUTHCLIENT_ID": "id-a",
            "GENESYSCLOUD_OAUTHCLIENT_SECRET": "secret-a",
        },
        [],
    )
    del process["A_ID"], process["A_S"]
    assert org_environment(org, process, alone=False)[1] == ["A_ID", "A_S"]
    # One org alone (a matrix job): the standard variables stand in for its own.
    env, missing = org_environment(org, process, alone=True)
    assert (env["GENESYSCLOUD_OAUTHCLIENT_ID"], missing) == ("someone-else", [])


def test_the_published_schemas_are_the_code_s_and_valid() -> None:
    published = json.loads((SCHEMAS / "orgs.schema.json").read_text())
    assert published == orgs_schema()
    Draft202012Validator.check_schema(published)
    example = ROOT / "examples" / "orgs.yaml"
    import yaml

    assert not list(
        Draft202012Validator(published).iter_errors(yaml.safe_load(example.read_text()))
    )
    load_orgs_file(example)
    orgs_report_validator()
