"""Reads for the alert source pages (a fixed number of queries per page)."""

from django.conf import settings
from django.db.models import OuterRef, QuerySet, Subquery

from incidents.intake.models import AlertPayload, AlertSource


def alert_sources_listed() -> QuerySet[AlertSource]:
    """Every source with its user and when it last sent (one query)."""
    latest = AlertPayload.objects.filter(source=OuterRef("pk")).order_by("-id")
    return AlertSource.objects.select_related("user").annotate(
        last_payload_at=Subquery(latest.values("received_at")[:1]),
        last_outcome=Subquery(latest.values("outcome")[:1]),
    )


def alert_source_payloads(*, source: AlertSource) -> list[AlertPayload]:
    return list(source.payloads.order_by("-id")[: settings.KEEL_ALERT_LOG_KEEP])
