"""The routes a fresh install starts with: who hears what without anyone choosing.

Written down in the README (Communications → Default routes) with the reasons; the
data migration ``0011_default_routes_by_audience_need`` installs the same table, and
``load_demo`` makes sure it is there (``services.routes_default_ensure``)."""

from dataclasses import dataclass

from notifications.models import UpdateKind

# What stakeholders wait for, as opposed to the responders' working notes
# (stage moves other than "restored", reminders, internal status updates).
STAKEHOLDER_KINDS = [
    UpdateKind.DECLARED,
    UpdateKind.SEVERITY,
    UpdateKind.RESOLVED,
    UpdateKind.REOPENED,
]


@dataclass(frozen=True)
class DefaultRoute:
    name: str
    audience: str
    severities: tuple[str, ...]
    update_kinds: tuple[str, ...]
    only_public_updates: bool = False


DEFAULT_ROUTES = [
    DefaultRoute("Every update reaches the responders", "responders", (), ()),
    DefaultRoute(
        "CS: SEV1-SEV3 declared, severity changed, restored, reopened",
        "cs",
        ("SEV1", "SEV2", "SEV3"),
        tuple(STAKEHOLDER_KINDS),
    ),
    DefaultRoute("Every public update reaches CS", "cs", (), (), only_public_updates=True),
    DefaultRoute(
        "Business: SEV1-SEV2 declared, severity changed, restored, reopened, postmortem",
        "business",
        ("SEV1", "SEV2"),
        (*STAKEHOLDER_KINDS, UpdateKind.POSTMORTEM),
    ),
    DefaultRoute(
        "Every public update reaches the business team",
        "business",
        (),
        (),
        only_public_updates=True,
    ),
]
