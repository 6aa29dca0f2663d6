"""The values the Genesys Cloud API enumerates for an OAuth client that a policy or a
proposal may name, as plain data: loading a policy checks names against them without building the
inventory models (``inventory.py`` re-exports them beside the fields they describe)."""

from __future__ import annotations

# Unknown values from the API are kept, never rejected; these are what a policy or a proposal may
# name.
GRANT_TYPES = ("CODE", "TOKEN", "SAML2-BEARER", "PASSWORD", "CLIENT-CREDENTIALS")
# What each grant type is called in OAuth, for sentences ("grant type is TOKEN (implicit)").
GRANT_TYPE_NAMES = {
    "CODE": "authorization code",
    "TOKEN": "implicit",
    "SAML2-BEARER": "SAML2 bearer",
    "PASSWORD": "resource-owner password",
    "CLIENT-CREDENTIALS": "client credentials",
}
CLIENT_STATES = ("active", "disabled", "inactive")

# The years a time or day of a snapshot, an answer or --as-of may fall in: the checks convert times
# to UTC and count days back, which a year-1 or year-9999 value would overflow.
EARLIEST_YEAR = 1900
LATEST_YEAR = 9000
