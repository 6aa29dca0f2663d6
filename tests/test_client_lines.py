"""The line of each client in a snapshot (SARIF and per-pair reports point at it): ids written as
they are and ids JSON has to escape are both found, on the line of their ``"id"`` member."""

from __future__ import annotations

import json

from genesys_oauth_audit.files.output import json_text
from genesys_oauth_audit.inventory import Client, client_lines

IDS = [
    "0039b2b0-e27e-d3b3-2f61-d870f703534f",  # a uuid: spelt as it is
    'quote"in',  # the rest JSON escapes; json.dumps spells them
    "back\\slash",
    "tab\there",
    "line\u2028sep",  # not printable, yet JSON writes it as it is
    "caf\u00e9 \U0001f600",  # printable beyond ASCII: as it is
    "del\x7f",
]


def test_each_client_is_found_on_its_id_line_whatever_its_id_needs() -> None:
    clients = tuple(Client(id=i, name=f"n{n}", grant_type="CODE") for n, i in enumerate(IDS))
    text = json_text({"kind": "x", "clients": [{"id": i, "name": "n"} for i in IDS]})
    lines = client_lines(text, clients)
    by_line = {
        json.loads("{" + line.strip().rstrip(",") + "}")["id"]: n
        for n, line in enumerate(text.split("\n"), start=1)
        if line.strip().startswith('"id": ')
    }
    assert lines == by_line and len(lines) == len(IDS)
