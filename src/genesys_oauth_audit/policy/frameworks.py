"""The compliance frameworks a rule's ``controls`` may name: their ids, how their control ids are
written, and the titles of the controls the shipped packs map to (for reports and ``explain``).

A framework id is a lowercase slug (``nist-800-53``). Ids this module does not know are accepted,
with a warning at ``validate`` (an organisation may keep its own control catalogue); a control id
that does not look like one of a known framework's is a warning too, never an error: catalogues
are revised (NIST withdraws and adds enhancements) faster than this tool is released.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from genesys_oauth_audit.files.yamldoc import did_you_mean


@dataclass(frozen=True)
class Framework:
    """A framework this tool knows: its name, the form of its control ids, and control titles."""

    id: str
    name: str
    control_form: re.Pattern[str]
    example: str
    titles: Mapping[str, str] = field(default_factory=dict)

    def title(self, control: str) -> str | None:
        return self.titles.get(control)


# Titles are the frameworks' own (NIST SP 800-53 Rev. 5; ISO/IEC 27001:2022 Annex A; AICPA Trust
# Services Criteria 2017, shortened to their subject; CIS Controls v8 safeguards).
FRAMEWORKS: dict[str, Framework] = {
    f.id: f
    for f in (
        Framework(
            "nist-800-53",
            "NIST SP 800-53 Rev. 5",
            re.compile(
                r"^(AC|AT|AU|CA|CM|CP|IA|IR|MA|MP|PE|PL|PM|PS|PT|RA|SA|SC|SI|SR)-\d{1,2}"
                r"(\(\d{1,2}\))?$"
            ),
            "AC-6(5)",
            {
                "AC-2": "Account Management",
                "AC-2(3)": "Account Management | Disable Accounts",
                "AC-5": "Separation of Duties",
                "AC-6": "Least Privilege",
                "AC-6(1)": "Least Privilege | Authorize Access to Security Functions",
                "AC-6(5)": "Least Privilege | Privileged Accounts",
                "AC-6(7)": "Least Privilege | Review of User Privileges",
                "AC-12": "Session Termination",
                "CM-5": "Access Restrictions for Change",
                "IA-2(1)": "Identification and Authentication | Multi-factor Authentication to "
                "Privileged Accounts",
                "IA-2(2)": "Identification and Authentication | Multi-factor Authentication to "
                "Non-privileged Accounts",
                "IA-5": "Authenticator Management",
                "SC-8": "Transmission Confidentiality and Integrity",
                "SC-23": "Session Authenticity",
            },
        ),
        Framework(
            "iso-27001-2022",
            "ISO/IEC 27001:2022 Annex A",
            re.compile(
                r"^A\.(5\.([1-9]|[12]\d|3[0-7])|6\.[1-8]|7\.([1-9]|1[0-4])|8\.([1-9]|[12]\d|3[0-4]))$"
            ),
            "A.8.2",
            {
                "A.5.3": "Segregation of duties",
                "A.5.9": "Inventory of information and other associated assets",
                "A.5.15": "Access control",
                "A.5.16": "Identity management",
                "A.5.17": "Authentication information",
                "A.5.18": "Access rights",
                "A.8.2": "Privileged access rights",
                "A.8.3": "Information access restriction",
                "A.8.5": "Secure authentication",
                "A.8.26": "Application security requirements",
                "A.8.32": "Change management",
            },
        ),
        Framework(
            "soc2",
            "SOC 2 (AICPA Trust Services Criteria 2017)",
            re.compile(r"^(CC[1-9]\.[1-8]|A1\.[1-3]|C1\.[12]|PI1\.[1-5]|P[1-8]\.[1-7])$"),
            "CC6.1",
            {
                "CC6.1": "Logical access security software, infrastructure and architectures",
                "CC6.2": "User registration and authorization; credentials removed when no longer "
                "authorized",
                "CC6.3": "Access authorized, modified or removed by role, with least privilege and "
                "segregation of duties",
                "CC6.6": "Logical access security against threats from outside the system "
                "boundaries",
                "CC6.7": "Transmission, movement and removal of information restricted and "
                "protected",
                "CC8.1": "Changes authorized, designed, tested, approved and implemented",
            },
        ),
        Framework(
            "cis-controls-v8",
            "CIS Critical Security Controls v8",
            re.compile(r"^([1-9]|1[0-8])\.([1-9]|1[0-9])$"),
            "6.8",
            {
                "3.3": "Configure Data Access Control Lists",
                "3.10": "Encrypt Sensitive Data in Transit",
                "5.1": "Establish and Maintain an Inventory of Accounts",
                "5.3": "Disable Dormant Accounts",
                "5.4": "Restrict Administrator Privileges to Dedicated Administrator Accounts",
                "5.5": "Establish and Maintain an Inventory of Service Accounts",
                "6.2": "Establish an Access Revoking Process",
                "6.3": "Require MFA for Externally-Exposed Applications",
                "6.8": "Define and Maintain Role-Based Access Control",
            },
        ),
    )
}


def framework_name(framework_id: str) -> str:
    """A framework's name for people, or its id when this tool does not know it."""
    known = FRAMEWORKS.get(framework_id)
    return known.name if known is not None else framework_id


def control_title(framework_id: str, control: str) -> str | None:
    known = FRAMEWORKS.get(framework_id)
    return known.title(control) if known is not None else None


def framework_warning(framework_id: str) -> str | None:
    """Why a framework id deserves a second look (it is not one this tool knows), or None."""
    if framework_id in FRAMEWORKS:
        return None
    return (
        f"framework {framework_id!r} is not one this tool knows"
        f"{did_you_mean(framework_id, FRAMEWORKS)} (known: {', '.join(FRAMEWORKS)}); "
        "reports show it as written"
    )


def control_warning(framework_id: str, control: str) -> str | None:
    """Why a control id does not look like one of a known framework's, or None."""
    known = FRAMEWORKS.get(framework_id)
    if known is None or known.control_form.fullmatch(control):
        return None
    return (
        f"control {control!r} does not look like a control id of {known.name} "
        f"(such as {known.example})"
    )


def control_sort_key(control: str) -> tuple[tuple[int, int | str], ...]:
    """Order control ids as people do: AC-2 before AC-2(3) before AC-12, 5.9 before 5.15."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part)
        for part in re.findall(r"\d+|[^\d]+", control)
    )
