"""One vocabulary for a public incident's status and impact: the words are defined
once (``notifications.models.PublicStatus``, ``PublicImpact``) and the status page
uses them; what a status update may carry is a named subset of them."""

import re
from pathlib import Path

from notifications.models import (
    IMPACT_OVERRIDES,
    UPDATE_PUBLIC_STATUSES,
    PublicImpact,
    PublicStatus,
)

ROOT = Path(__file__).resolve().parents[2]
APPS = ("common", "incidents", "postmortems", "notifications", "statuspage", "reports", "workspace")
# A choices member spelling one of the words: `    INVESTIGATING = "investigating", …`.
MEMBER = re.compile(r'^\s+[A-Z_]+ = "(investigating|identified|critical)"', re.MULTILINE)


def test_the_public_words_are_defined_once():
    definitions = []
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            for match in MEMBER.finditer(path.read_text()):
                definitions.append(f"{path.relative_to(ROOT)}: {match.group(1)}")
    assert sorted(definitions) == [
        "notifications/models.py: critical",
        "notifications/models.py: identified",
        "notifications/models.py: investigating",
    ]


def test_updates_carry_a_named_subset_without_the_page_s_own_words():
    assert set(UPDATE_PUBLIC_STATUSES) == set(PublicStatus) - {PublicStatus.POSTMORTEM}
    assert set(IMPACT_OVERRIDES) == set(PublicImpact) - {PublicImpact.MAINTENANCE}
