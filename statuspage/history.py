"""The public incident history as light rows, for the snapshot renderer.

The history pages, the index's past days and the fingerprints of the per-incident
pages need a few columns of every published incident, not model instances with
their prefetched updates: three ``values_list`` queries, whatever the history's size.
Only the incidents whose page changed are then loaded whole and rendered.
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Q

from notifications.models import PublicImpact, PublicStatus
from statuspage.models import PublicIncident, PublicIncidentUpdate
from statuspage.selectors import UNRESOLVED

STATUS_LABELS = dict(PublicStatus.choices)
IMPACT_LABELS = dict(PublicImpact.choices)


@dataclass(frozen=True)
class UpdateRow:
    id: int
    status: str
    display_at: datetime
    body: str

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)


@dataclass
class HistoryRow:
    """One public incident as its page, its history entry and its fingerprint see it."""

    pk: int
    public_id: str
    name: str
    status: str
    impact: str
    started_at: datetime
    resolved_at: datetime | None
    component_names: list[str] = field(default_factory=list)
    updates: list[UpdateRow] = field(default_factory=list)  # newest first, as on the page

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)

    @property
    def impact_label(self) -> str:
        return IMPACT_LABELS.get(self.impact, self.impact)

    @property
    def latest_body(self) -> str:
        return self.updates[0].body if self.updates else ""


def history_rows(*, limit: int) -> list[HistoryRow]:
    """The latest ``limit`` public incidents and every unresolved one however old (the
    front page lists and links those), newest first, with their component names and
    updates in the order their pages show them. Three queries."""
    ordered = PublicIncident.objects.order_by("-started_at", "-id")
    # A subquery rather than the ids as parameters: SQLite caps their number.
    latest = ordered.filter(Q(pk__in=ordered.values("pk")[:limit]) | Q(status__in=UNRESOLVED))
    rows = {
        pk: HistoryRow(
            pk=pk,
            public_id=public_id,
            name=name,
            status=status,
            impact=impact,
            started_at=started_at,
            resolved_at=resolved_at,
        )
        for pk, public_id, name, status, impact, started_at, resolved_at in latest.values_list(
            "pk", "public_id", "name", "status", "impact", "started_at", "resolved_at"
        )
    }
    shown = latest.values("pk")
    through = PublicIncident.components.through
    for incident_id, name in (
        through.objects.filter(publicincident__in=shown)
        .order_by("component__position", "component__name")
        .values_list("publicincident_id", "component__name")
    ):
        if incident_id in rows:  # not when one was published between these queries
            rows[incident_id].component_names.append(name)
    for incident_id, *update in (
        PublicIncidentUpdate.objects.filter(public_incident__in=shown)
        .order_by("-display_at", "-id")
        .values_list("public_incident_id", "id", "status", "display_at", "body")
    ):
        if incident_id in rows:
            rows[incident_id].updates.append(UpdateRow(*update))
    return list(rows.values())
