"""A policy test means what it says: an inline client states a grant type and state the API has
(else the rules that select on them report it not evaluated and the case asserts nothing it
means), no two inline clients share an id, and a case names exactly one client (two clients with
the name it gives would be judged as whichever came first). Each is exit 2 at file:line:column."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import SAMPLE_SNAPSHOT, Run

HEADER = "apiVersion: genesys-oauth-audit/v1\nkind: PolicyTest\npolicies: [builtin:tutorial]\n"
API_VALUES = "(CODE, TOKEN, SAML2-BEARER, PASSWORD, CLIENT-CREDENTIALS)"
INLINE_HINT = (
    "an inline client states what the API returns (to test a value the API may add later, give "
    "a snapshot as inventoryFile)"
)


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "t.test.yaml"
    path.write_text(HEADER + body)
    return path


def errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ": error: " in line]


def test_an_inline_grant_type_or_state_outside_the_api_is_exit_2(
    run_cli: Run, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        "inventory:\n"
        "  clients:\n"
        "    - {name: Bot, grantType: client_credentials, state: active}\n"
        "    - {name: App, grantType: CODE, state: enabled}\n"
        "cases: [{name: c, client: Bot, expect: []}]\n",
    )
    ran = run_cli("test", str(path))
    assert ran.code == 2 and ran.stdout == ""
    assert errors(ran.stderr) == [
        f"{path}:6:30: error: inventory.clients.0.grantType: 'client_credentials' is not one of "
        f"the API's values {API_VALUES}: {INLINE_HINT}; did you mean 'CLIENT-CREDENTIALS'?",
        f"{path}:7:43: error: inventory.clients.1.state: 'enabled' is not one of the API's "
        f"values (active, disabled, inactive): {INLINE_HINT}",
    ]


def test_an_inline_client_without_a_state_is_still_read(run_cli: Run, tmp_path: Path) -> None:
    # A missing state is what the API may answer: the rules that select on it say so (not
    # evaluated), which a test may expect.
    path = write(
        tmp_path,
        "inventory:\n  clients:\n    - {name: Bot, grantType: CLIENT-CREDENTIALS}\n"
        "cases: [{name: c, client: Bot, expect: []}]\n",
    )
    ran = run_cli("test", str(path))
    assert ran.code == 0, ran.stdout + ran.stderr


def test_two_inline_clients_with_one_name_and_no_ids_are_exit_2(
    run_cli: Run, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        "inventory:\n"
        "  clients:\n"
        '    - {name: Dup, grantType: CODE, state: active, scopes: ["admin:x"]}\n'
        "    - {name: Dup, grantType: CODE, state: active}\n"
        "cases: [{name: c, client: Dup, expect: []}]\n",
    )
    ran = run_cli("test", str(path))
    assert ran.code == 2 and ran.stdout == ""
    assert errors(ran.stderr) == [
        f"{path}:7:14: error: inventory.clients.1: client id 'Dup' is also the id of "
        "inventory.clients.0 (a client without an id takes its name as its id); two clients "
        "with one id are judged as one: give each its own id",
        f"{path}:8:27: error: case 'c' names client 'Dup', which is the id or name of 2 clients "
        "of the inventory (ids 'Dup', 'Dup'): name one by an id only it has",
    ]


def test_a_case_naming_a_shared_name_is_ambiguous(run_cli: Run, tmp_path: Path) -> None:
    clients = (
        "inventory:\n"
        "  clients:\n"
        '    - {id: d-1, name: Dup, grantType: CODE, state: active, scopes: ["admin:x"]}\n'
        "    - {id: d-2, name: Dup, grantType: CODE, state: active}\n"
    )
    # Before, this passed: the case judged whichever client came first (d-1), silently.
    admin = '[{rule: GOA-TUT-001, subject: "admin:x"}]'
    path = write(tmp_path, clients + f"cases: [{{name: twin, client: Dup, expect: {admin}}}]\n")
    ran = run_cli("test", str(path))
    assert ran.code == 2 and ran.stdout == ""
    assert errors(ran.stderr) == [
        f"{path}:8:30: error: case 'twin' names client 'Dup', which is the id or name of 2 "
        "clients of the inventory (ids 'd-1', 'd-2'): name one by an id only it has"
    ]
    # By id, each is one client, and the expectations tell them apart.
    path = write(
        tmp_path,
        clients + "cases:\n"
        "  - {name: clean twin, client: d-2, expect: []}\n"
        f"  - {{name: admin twin, client: d-1, rules: [GOA-TUT-001], expect: {admin}}}\n",
    )
    ran = run_cli("test", str(path))
    assert ran.code == 0, ran.stdout + ran.stderr
    assert ran.stdout.splitlines()[-1] == "2 passed, 0 failed"


def test_a_case_naming_a_shared_name_in_a_snapshot_is_ambiguous(
    run_cli: Run, tmp_path: Path
) -> None:
    # Genesys allows two clients with one name; a snapshot keeps both.
    data = json.loads(SAMPLE_SNAPSHOT.read_text())
    first, second = data["clients"][0], data["clients"][1]
    second["name"] = first["name"]
    (tmp_path / "s.json").write_text(json.dumps(data, indent=2))
    path = write(
        tmp_path,
        f"inventoryFile: s.json\ncases: [{{name: c, client: {json.dumps(first['name'])}, "
        "expect: []}]\n",
    )
    ran = run_cli("test", str(path))
    assert ran.code == 2 and ran.stdout == ""
    assert errors(ran.stderr) == [
        f"{path}:5:27: error: case 'c' names client {first['name']!r}, which is the id or name "
        f"of 2 clients of the inventory (ids {first['id']!r}, {second['id']!r}): name one by an "
        "id only it has"
    ]
