"""The weekly digest: last week's incidents, the headline figures against the
previous four weeks, and the overdue action items, sent to the audience named by
``KEEL_WEEKLY_DIGEST_AUDIENCE`` through the outbox (``reports.outbox``).

Idempotent per week: the ``WeeklyDigest`` row for the week's Monday is the key, so
the hourly beat writes it once, and a second run (or worker) sends nothing. Only
public incidents appear (``incidents.visibility``: a shared audience never hears
of a private incident from an automatic producer), and their figures too.
"""

import logging
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from common.enqueue import enqueue_on_commit
from incidents.lifecycle import Outcome
from incidents.models import Incident
from notifications.models import Audience
from postmortems import selectors as postmortem_selectors
from reports import figures, selectors
from reports.models import DIGEST_BODY_MAX, DigestDelivery, WeeklyDigest
from reports.tables import minutes_display
from reports.tasks import digest_delivery_send_task

logger = logging.getLogger(__name__)

WEEKS_COMPARED = 4
MAX_LISTED = 50


def week_reported(today: date) -> date:
    """The Monday of the last full week before ``today``."""
    return today - timedelta(days=today.weekday() + 7)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


def _minutes(value: float | None) -> str:
    return "—" if value is None else minutes_display(value)


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:g}%"


def _headline_lines(last: figures.Headline, before: figures.Headline) -> list[str]:
    weekly = WEEKS_COMPARED
    return [
        "Headline figures (last week · weekly average or median of the previous four weeks)",
        f"  Incidents measured: {last.incidents} · {before.incidents / weekly:g} a week",
        f"  Median time to detect: {_minutes(last.median_time_to_detect)} · "
        f"{_minutes(before.median_time_to_detect)}",
        f"  Median time to recover: {_minutes(last.median_time_to_recover)} · "
        f"{_minutes(before.median_time_to_recover)}",
        f"  Detected before customers: {_percent(last.before_customers_percent)} · "
        f"{_percent(before.before_customers_percent)}",
        f"  SLA minutes breached: {last.sla_minutes} · {before.sla_minutes / weekly:g} a week",
    ]


def _incident_line(incident: Incident) -> str:
    services = ", ".join(service.name for service in incident.services.all())
    state = (
        incident.get_outcome_display()
        if incident.outcome and incident.outcome != Outcome.RESOLVED
        else ("Closed" if incident.closed_at else incident.get_stage_display())
    )
    return f"  #{incident.pk} {incident.severity.code} {incident.title} — {state}" + (
        f" ({services})" if services else ""
    )


def digest_text(*, week_start: date, today: date) -> tuple[str, str]:
    """The digest's subject and body for the week starting ``week_start``."""
    start, end = _midnight(week_start), _midnight(week_start + timedelta(days=7))
    earlier = _midnight(week_start - timedelta(days=7 * WEEKS_COMPARED))
    last = figures.headline(selectors.public_facts(filters={"start": start, "end": end}).incidents)
    before = figures.headline(
        selectors.public_facts(filters={"start": earlier, "end": start}).incidents
    )
    public = Incident.objects.filter(private=False)
    incidents = list(
        public.filter(detected_at__gte=start, detected_at__lt=end)
        .select_related("severity")
        .prefetch_related("services")
        .order_by("severity__rank", "detected_at", "pk")
    )
    overdue = list(postmortem_selectors.overdue_action_items(incidents=public, today=today))
    last_day = week_start + timedelta(days=6)
    subject = f"Keel weekly digest: {week_start:%Y-%m-%d} to {last_day:%Y-%m-%d}"
    lines = [subject, "", f"Incidents detected last week: {len(incidents)}"]
    lines += [_incident_line(incident) for incident in incidents[:MAX_LISTED]]
    if len(incidents) > MAX_LISTED:
        lines.append(f"  … and {len(incidents) - MAX_LISTED} more (see the reports page).")
    lines += ["", *_headline_lines(last, before), "", f"Overdue action items: {len(overdue)}"]
    for item in overdue[:MAX_LISTED]:
        owner = item.owner.get_username() if item.owner else "no owner"
        lines.append(
            f"  “{item.title}” — {owner}, due {item.due_date:%Y-%m-%d} "
            f"(#{item.postmortem.incident_id})"
        )
    if len(overdue) > MAX_LISTED:
        lines.append(f"  … and {len(overdue) - MAX_LISTED} more.")
    reports_url = settings.KEEL_PUBLIC_URL.rstrip("/") + reverse("reports:index")
    lines += [
        "",
        "Private incidents are not included.",
        f"Every figure and its definition: {reports_url}",
    ]
    return subject, "\n".join(lines)[:DIGEST_BODY_MAX]


@transaction.atomic
def weekly_digest_post(*, today: date | None = None) -> WeeklyDigest | None:
    """Write last week's digest and one delivery per enabled destination of the
    digest audience (enqueued on commit). Returns the new digest, or None: the week
    was written already, or no audience is configured (or it does not exist)."""
    slug = settings.KEEL_WEEKLY_DIGEST_AUDIENCE
    if not slug:
        return None
    today = today or timezone.localdate()
    week_start = week_reported(today)
    if WeeklyDigest.objects.filter(week_start=week_start).exists():
        return None
    audience = Audience.objects.filter(slug=slug).first()
    if audience is None:
        logger.warning("weekly digest not sent: no audience %r", slug)
        return None
    subject, body = digest_text(week_start=week_start, today=today)
    digest, created = WeeklyDigest.objects.get_or_create(
        week_start=week_start,
        defaults={"audience_slug": slug, "subject": subject, "body": body},
    )
    if not created:
        return None
    now = timezone.now()
    deliveries = [
        DigestDelivery.objects.create(digest=digest, destination=destination, next_attempt_at=now)
        for destination in audience.destinations.filter(enabled=True, user__isnull=True)
    ]
    enqueue_on_commit(
        [(digest_delivery_send_task, (str(delivery.pk),)) for delivery in deliveries],
        what="weekly digest",
    )
    return digest
