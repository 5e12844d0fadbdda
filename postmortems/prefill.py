"""What a new postmortem starts with, read from its incident: the summary, impact and
detection text, the timeline from the stage timestamps and events, and the judge
stage's decisions as remediation options. Pure reads; ``services.postmortem_start``
writes the result."""

from datetime import UTC, timedelta

from django.utils import timezone

from incidents import lifecycle
from incidents import selectors as incident_selectors
from incidents.lifecycle import Stage
from incidents.models import Decision, Incident, TimelineEvent
from postmortems import writes
from postmortems.models import NAME_MAX
from postmortems.sections import values as kinds


def _minutes(delta: timedelta | None) -> str:
    if delta is None:
        return "unknown"
    total = int(delta.total_seconds() // 60)
    hours, minutes = divmod(total, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


def _when(value) -> str:
    # UTC, whoever's request pre-fills: the text is stored in the shared document.
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S %Z")


def _prefill_summary(incident: Incident) -> str:
    return (incident.summary or incident.title)[: kinds.MARKDOWN_MAX]


def _prefill_impact(incident: Incident) -> str:
    lines = []
    if incident.affected_users_count is not None or incident.affected_users_percent is not None:
        parts = []
        if incident.affected_users_count is not None:
            parts.append(f"{incident.affected_users_count:,} users")
        if incident.affected_users_percent is not None:
            parts.append(f"{incident.affected_users_percent}% of users")
        lines.append(f"- **Users affected:** {', '.join(parts)}")
    services = ", ".join(s.name for s in incident.services.all())
    if services:
        lines.append(f"- **Services:** {services}")
    if incident.affected_features:
        lines.append(f"- **Features:** {incident.affected_features}")
    if incident.estimated_loss is not None:
        lines.append(f"- **Estimated loss:** {incident.estimated_loss}")
    if incident.compensation is not None:
        lines.append(f"- **Compensation:** {incident.compensation}")
    if incident.sla_minutes_breached is not None:
        lines.append(f"- **SLA minutes breached:** {incident.sla_minutes_breached}")
    lines.append(f"- **Severity:** {incident.severity.code} — {incident.severity.name}")
    return "\n".join(lines)


def _prefill_detection(incident: Incident) -> str:
    d = incident_selectors.incident_durations(incident, now=timezone.now())
    before = {True: "yes", False: "no — customers told us first", None: "unknown"}[
        incident.detected_before_customers
    ]
    return "\n".join(
        [
            f"- **Source:** {incident.get_detection_source_display()}",
            f"- **Impact began:** {_when(incident.started_at)}",
            f"- **Detected:** {_when(incident.detected_at)}",
            f"- **Time to detect:** {_minutes(d.time_to_detect)}",
            f"- **Detected before customers:** {before}",
            f"- **Time to recover (from detection):** {_minutes(d.time_to_recover)}",
        ]
    )


GENERATED_EVENT_SKIP = {
    TimelineEvent.Kind.DECLARED,
    TimelineEvent.Kind.STAGE_MOVED,
    TimelineEvent.Kind.STAGE_SKIPPED,
}


def generate_timeline(incident: Incident) -> list[dict]:
    """Stage timestamps (each reached stage once) and the incident's other events, oldest first."""
    rows = []
    if incident.started_at < incident.detected_at:
        rows.append(
            {"at": kinds.iso(incident.started_at), "text": "Impact began.", "kind": "impact"}
        )
    for stage in Stage:
        at_field, by_field = lifecycle.STAGE_FIELDS[stage]
        at = getattr(incident, at_field)
        if at is None:
            continue
        who = getattr(incident, by_field)
        text = f"{stage.label}: {lifecycle.STAGE_HELP[stage]}"
        if who is not None:
            text += f" ({writes.display_name(who)})"
        rows.append({"at": kinds.iso(at), "text": text[: kinds.LINE_MAX], "kind": "stage"})
    events = (
        TimelineEvent.objects.filter(incident=incident)
        .exclude(kind__in=GENERATED_EVENT_SKIP)
        .filter(struck_at__isnull=True)  # struck through: it was wrong
        .select_related("actor")
        .order_by("occurred_at", "id")[: kinds.MAX_TIMELINE_ENTRIES]
    )
    for event in events:
        text = event.text or event.get_kind_display()
        if event.actor is not None:
            text = f"{text} ({writes.display_name(event.actor)})"
        rows.append(
            {"at": kinds.iso(event.occurred_at), "text": text[: kinds.LINE_MAX], "kind": event.kind}
        )
    rows.sort(key=lambda row: row["at"])
    return rows[: kinds.MAX_TIMELINE_ENTRIES]


def remediation_rows(incident: Incident) -> list[dict]:
    """Judge-stage decisions as options; the latest decision's choice is the chosen one."""
    decisions = list(Decision.objects.filter(incident=incident).order_by("decided_at", "id"))
    rows: dict[str, dict] = {}
    for decision in decisions:
        for option in decision.options:
            title = str(option)[:NAME_MAX]
            rows.setdefault(
                title,
                {
                    "title": title,
                    "description": f"Considered on {decision.decided_at:%Y-%m-%d %H:%M} UTC.",
                    "decision": decision,
                    "chosen": False,
                    "reason": "",
                },
            )
    if decisions:
        last = decisions[-1]
        title = last.chosen[:NAME_MAX]
        for row in rows.values():
            row["chosen"] = False
        if title in rows:
            rows[title].update(chosen=True, reason=last.rationale[:2_000], decision=last)
    return list(rows.values())[: kinds.MAX_REMEDIATIONS]


# The Markdown sections a new postmortem starts with written, by template key.
MARKDOWN_FILLERS = {
    "summary": _prefill_summary,
    "impact": _prefill_impact,
    "detection": _prefill_detection,
}
