"""Connection settings: every region form, login host derivation, flag > env > default, credentials."""

from __future__ import annotations

import pytest

from genesys_oauth_audit.errors import BadInputError
from genesys_oauth_audit.settings import connection_settings, resolve_region

CREDS = {"GENESYSCLOUD_OAUTHCLIENT_ID": "id", "GENESYSCLOUD_OAUTHCLIENT_SECRET": "s3cret"}


@pytest.mark.parametrize(
    ("value", "api", "login", "region"),
    [
        ("us-east-1", "https://api.mypurecloud.com", "https://login.mypurecloud.com", "us-east-1"),
        ("us_east_1", "https://api.mypurecloud.com", "https://login.mypurecloud.com", "us-east-1"),
        ("EU-WEST-1", "https://api.mypurecloud.ie", "https://login.mypurecloud.ie", "eu-west-1"),
        (
            "ap_southeast_2",
            "https://api.mypurecloud.com.au",
            "https://login.mypurecloud.com.au",
            "ap-southeast-2",
        ),
        (
            "us-east-2",
            "https://api.use2.us-gov-pure.cloud",
            "https://login.use2.us-gov-pure.cloud",
            "us-east-2",
        ),
        (
            "eusc-de-east-1",
            "https://api.edee1.eusc-pure.cloud",
            "https://login.edee1.eusc-pure.cloud",
            "eusc-de-east-1",
        ),
        (
            "mypurecloud.ie",
            "https://api.mypurecloud.ie",
            "https://login.mypurecloud.ie",
            "mypurecloud.ie",
        ),
        (
            "usw2.pure.cloud",
            "https://api.usw2.pure.cloud",
            "https://login.usw2.pure.cloud",
            "usw2.pure.cloud",
        ),
        (
            "api.mypurecloud.de",
            "https://api.mypurecloud.de",
            "https://login.mypurecloud.de",
            "mypurecloud.de",
        ),
        (
            "https://api.mypurecloud.jp",
            "https://api.mypurecloud.jp",
            "https://login.mypurecloud.jp",
            "mypurecloud.jp",
        ),
        (
            "https://api.mypurecloud.jp/",
            "https://api.mypurecloud.jp",
            "https://login.mypurecloud.jp",
            "mypurecloud.jp",
        ),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080", "http://127.0.0.1:8080", "127.0.0.1"),
        ("http://localhost:9", "http://localhost:9", "http://localhost:9", "localhost"),
        ("http://[::1]:9", "http://[::1]:9", "http://[::1]:9", "::1"),
    ],
)
def test_every_region_form(value: str, api: str, login: str, region: str) -> None:
    endpoint = resolve_region(value)
    assert (endpoint.api_base, endpoint.login_base, endpoint.region) == (api, login, region)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("http://api.mypurecloud.com", "plain http"),
        ("http://10.0.0.5:8080", "plain http"),
        ("ftp://api.mypurecloud.com", "is not an http"),
        ("narnia-1", "unknown region 'narnia-1'"),
        ("", "empty"),
        ("https://api.mypurecloud.com?x=1", "query"),
    ],
)
def test_bad_regions_are_refused(value: str, message: str) -> None:
    with pytest.raises(BadInputError, match=message):
        resolve_region(value)


def test_unknown_region_lists_the_known_ones() -> None:
    with pytest.raises(BadInputError) as err:
        resolve_region("us-east-9")
    assert "us-east-1" in str(err.value) and "eu-west-1" in str(err.value)


def test_default_region_is_us_east_1() -> None:
    s = connection_settings(region=None, client_id=None, login_url=None, environ=CREDS)
    assert s.endpoint.api_base == "https://api.mypurecloud.com"


@pytest.mark.parametrize("blank", [{"GENESYSCLOUD_REGION": ""}, {"GENESYSCLOUD_API_REGION": ""}])
def test_a_region_variable_set_but_empty_is_refused_not_the_default(blank: dict[str, str]) -> None:
    """`GENESYSCLOUD_REGION: ${{ vars.REGION }}` with the CI variable missing gives "", which
    fell back to us-east-1: another org than the job names. A value elsewhere still counts."""
    name = next(iter(blank))
    with pytest.raises(BadInputError, match=f"{name} is set but empty"):
        connection_settings(region=None, client_id=None, login_url=None, environ={**CREDS, **blank})
    # The flag, or the other variable with a value, is the region.
    assert (
        connection_settings(
            region="eu-west-1", client_id=None, login_url=None, environ={**CREDS, **blank}
        ).endpoint.region
        == "eu-west-1"
    )
    other = "GENESYSCLOUD_API_REGION" if name == "GENESYSCLOUD_REGION" else "GENESYSCLOUD_REGION"
    env = {**CREDS, **blank, other: "https://api.mypurecloud.ie"}
    got = connection_settings(region=None, client_id=None, login_url=None, environ=env)
    assert got.endpoint.api_base == "https://api.mypurecloud.ie"


def test_flag_wins_over_environment_and_region_wins_over_api_region() -> None:
    env = {
        **CREDS,
        "GENESYSCLOUD_REGION": "eu-west-1",
        "GENESYSCLOUD_API_REGION": "https://api.mypurecloud.jp",
    }
    assert (
        connection_settings(
            region="ap-south-1", client_id=None, login_url=None, environ=env
        ).endpoint.region
        == "ap-south-1"
    )
    assert (
        connection_settings(
            region=None, client_id=None, login_url=None, environ=env
        ).endpoint.region
        == "eu-west-1"
    )
    del env["GENESYSCLOUD_REGION"]
    assert (
        connection_settings(
            region=None, client_id=None, login_url=None, environ=env
        ).endpoint.api_base
        == "https://api.mypurecloud.jp"
    )


def test_login_url_override() -> None:
    env = {**CREDS, "GENESYSCLOUD_LOGIN_URL": "https://login.example.test"}
    s = connection_settings(region=None, client_id=None, login_url=None, environ=env)
    assert s.endpoint.login_base == "https://login.example.test"
    s = connection_settings(
        region=None, client_id=None, login_url="https://login.other.test/", environ=env
    )
    assert s.endpoint.login_base == "https://login.other.test"
    with pytest.raises(BadInputError, match="plain http"):
        connection_settings(
            region=None, client_id=None, login_url="http://login.example.test", environ=CREDS
        )


def test_client_id_flag_wins() -> None:
    s = connection_settings(region=None, client_id="flag-id", login_url=None, environ=CREDS)
    assert s.credentials.client_id == "flag-id"


def test_missing_credentials_say_what_to_set() -> None:
    with pytest.raises(BadInputError, match="GENESYSCLOUD_OAUTHCLIENT_ID"):
        connection_settings(region=None, client_id=None, login_url=None, environ={})
    with pytest.raises(BadInputError, match="GENESYSCLOUD_OAUTHCLIENT_SECRET is not set"):
        connection_settings(region=None, client_id="x", login_url=None, environ={})


def test_access_token_alternative_needs_no_client() -> None:
    s = connection_settings(
        region=None,
        client_id=None,
        login_url=None,
        environ={"GENESYSCLOUD_ACCESS_TOKEN": "tok-123"},
    )
    assert s.credentials.access_token is not None
    assert s.credentials.access_token.get_secret_value() == "tok-123"


def test_secrets_do_not_show_in_reprs() -> None:
    s = connection_settings(
        region=None,
        client_id=None,
        login_url=None,
        environ={**CREDS, "GENESYSCLOUD_ACCESS_TOKEN": "tok-123"},
    )
    assert "s3cret" not in repr(s) and "tok-123" not in repr(s)
    assert "s3cret" not in str(s.credentials)
