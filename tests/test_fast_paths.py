"""The fast paths taken for speed give the answers of the slow ones they stand in for."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest

from genesys_oauth_audit.checks.grants import _is_local, _scheme_and_host
from genesys_oauth_audit.files.output import compact_json_text, json_text

URIS = [
    "https://app.example.com/cb",
    "http://localhost:3000/cb",
    "https://a.b?x#y",
    "https://A.B/x",
    "https://u@h/x",
    "https://[::1]:8/x",
    "https://h:1:2/",
    "https://h:/",
    "https:///x",
    "https://h\t/x",
    " https://h/x",
    "https://h%41/",
    "https://h#f",
    "https://h?q",
    "https://127.0.0.1:8080/cb",
    "https://*.example.com/cb",
    "HTTPS://x/",
    "https://h:abc/",
    "https://[::1/x",
    "myapp://callback",
    "",
]


@pytest.mark.parametrize("uri", URIS)
def test_scheme_and_host_read_as_urlsplit_reads_them(uri: str) -> None:
    try:
        parts = urlsplit(uri)
        expected = (parts.scheme.lower(), parts.hostname or "")
    except ValueError:
        expected = ("", "")
    assert _scheme_and_host(uri) == expected


@pytest.mark.parametrize(
    ("host", "local"),
    [
        ("localhost", True),
        ("a.localhost", True),
        ("127.0.0.9", True),
        ("[::1]", True),
        ("example.com", False),
        ("10.0.0.1", False),
        ("localhost.example", False),
        ("::2", False),
    ],
)
def test_is_local(host: str, local: bool) -> None:
    assert _is_local(host) is local


DATA = {
    "a": [1, True, None, 'é\u2028\x7f\x1f"\\/'],
    "b": {},
    "c": [],
    "d": {"e": [{"f": "g"}], "h": -(2**70)},
}


def test_json_text_is_json_dumps_indented() -> None:
    assert json_text(DATA) == json.dumps(DATA, indent=2, ensure_ascii=False)
    assert json_text(DATA, indent=None) == json.dumps(DATA, ensure_ascii=False)


def test_compact_json_text_has_no_spaces_and_the_same_data() -> None:
    assert compact_json_text(DATA) == json.dumps(DATA, ensure_ascii=False, separators=(",", ":"))


def test_a_lone_surrogate_is_written_as_its_escape_by_both() -> None:
    data = {"name": "x\ud800y"}
    assert json_text(data) == '{\n  "name": "x\\ud800y"\n}'
    assert compact_json_text(data) == '{"name":"x\\ud800y"}'


def test_a_snapshot_read_directly_equals_one_read_through_the_checks() -> None:
    from pathlib import Path

    from genesys_oauth_audit.inventory import _parse_checked, _parse_current

    text = (Path(__file__).resolve().parent.parent / "examples/sample-snapshot.json").read_text()
    fast = _parse_current(text)
    assert fast is not None and fast == _parse_checked(text, "sample.json")
    # not a snapshot of this version, or without its clients: the checked path decides
    for changed in ('"schemaVersion": 2.0', '"schemaVersion": 1'):
        assert _parse_current(text.replace('"schemaVersion": 2', changed, 1)) is None
    data = json.loads(text)
    del data["clients"]
    assert _parse_current(json.dumps(data)) is None
