"""The classes of drift ``diff --fail-on`` gates on: a plain table, cheap to import, so ``--help``
can list them without loading the inventory models."""

from __future__ import annotations

from typing import Literal

DriftClass = Literal[
    "privilege-gain",
    "privilege-loss",
    "client-added",
    "client-removed",
    "state",
    "usage",
    "config",
    "role",
]
# Each class of change, and what it covers (``diff --help`` and the docs read this).
DRIFT_CLASSES: dict[str, str] = {
    "privilege-gain": "a client gained scopes, roles or effective permissions (a role assigned, "
    "edited, or granted in another division); a role gained permissions",
    "privilege-loss": "the same, lost",
    "client-added": "a client was created",
    "client-removed": "a client was deleted",
    "state": "a client's state or deletion date (dateToDelete) changed",
    "usage": "a client was newly used, or newly idle, in the usage window",
    "config": "a client was renamed, or its grant type, token lifetime or redirect URIs changed",
    "role": "a role of the org was created, deleted or renamed",
}
# --fail-on: a class, "any" (every class: exit 1 on any drift, the default) or "never".
FAIL_ON_ANY = "any"
FAIL_ON_NEVER = "never"
FAIL_ON_CHOICES: tuple[str, ...] = (FAIL_ON_ANY, *DRIFT_CLASSES, FAIL_ON_NEVER)
