"""Prometheus Alertmanager webhook → incidents.

A firing group declares an incident (detection source: monitoring), new alerts
in the group are noted on its timeline, and a resolved group moves it to
**recover**. Alertmanager repeats notifications (``repeat_interval``) and retries
failed ones: a notification that brings nothing new changes nothing.
"""

from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from common.validators import one_line, printable
from incidents import lifecycle, services
from incidents.lifecycle import Stage
from incidents.models import TITLE_MAX, AlertGroup, Service, Severity, TimelineEvent

ALERT = TimelineEvent.Source.ALERT
DEFAULT_SEVERITY = "SEV3"


def _severity(labels: dict) -> Severity:
    """``keel_severity`` names a severity outright; else Alertmanager's ``severity``
    label goes through ``KEEL_ALERT_SEVERITY_MAP``."""
    wanted = labels.get("keel_severity", "").upper()
    if not wanted:
        wanted = settings.KEEL_ALERT_SEVERITY_MAP.get(labels.get("severity", "").lower(), "")
    return (
        Severity.objects.filter(code=wanted).first()
        or Severity.objects.filter(code=DEFAULT_SEVERITY).first()
        or Severity.objects.order_by("-rank").first()
    )


def _title(payload: dict) -> str:
    annotations, labels = payload["commonAnnotations"], payload["commonLabels"]
    title = annotations.get("summary") or labels.get("alertname") or "Alert firing"
    if labels.get("alertname") and labels["alertname"] not in title:
        title = f"{labels['alertname']}: {title}"
    # Alertmanager cannot fix a multi-line summary annotation, and losing the alert
    # is worse than its line breaks: a title is one line.
    return one_line(title)[:TITLE_MAX] or "Alert firing"


def _describe(alerts: list[dict]) -> str:
    lines = []
    for alert in alerts:
        labels = ", ".join(f"{k}={v}" for k, v in sorted(alert["labels"].items()))
        text = alert["annotations"].get("description") or alert["annotations"].get("summary", "")
        line = f"- [{alert['status']}] {labels}"
        if text:
            line += f" — {text}"
        if alert.get("generatorURL"):
            line += f" ({alert['generatorURL']})"
        lines.append(line)
    return printable("\n".join(lines))[:9000]


def _started_at(alerts: list[dict], now: datetime) -> datetime:
    starts = [a["startsAt"] for a in alerts if a.get("startsAt")]
    return min([*starts, now]) if starts else now


def _serialise_group(group_key: str) -> None:
    """Two notifications for a new group must not both declare: on PostgreSQL an
    advisory lock per group key, held to the end of the transaction (SQLite's
    write transactions are serial already)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [group_key])


@transaction.atomic
def alertmanager_receive(*, payload: dict, actor) -> dict:
    """Apply one Alertmanager notification; returns what it did and the incident id."""
    now = timezone.now()
    group_key = payload["groupKey"]
    _serialise_group(group_key)
    firing = [a for a in payload["alerts"] if a["status"] == "firing"]
    group = AlertGroup.objects.select_for_update().filter(group_key=group_key).first()
    incident = group.incident if group and group.incident.closed_at is None else None

    if payload["status"] == "firing" and incident is None:
        labels = payload["commonLabels"]
        slugs = {a["labels"].get("service") for a in firing} | {labels.get("service")}
        incident = services.incident_declare(
            title=_title(payload),
            summary=printable(payload["commonAnnotations"].get("description", ""))[:9000],
            severity=_severity(labels),
            services=list(Service.objects.filter(slug__in=[s for s in slugs if s])),
            started_at=_started_at(firing, now),
            detected_at=now,
            detection_source="monitoring",
            actor=actor,
            source=ALERT,
        )
        services.note_add(
            incident=incident, text="Alertmanager:\n" + _describe(firing), actor=actor, source=ALERT
        )
        fingerprints = sorted({a["fingerprint"] for a in firing if a.get("fingerprint")})
        AlertGroup.objects.update_or_create(
            group_key=group_key,
            defaults={
                "incident": incident,
                "fingerprints": fingerprints,
                "last_status": "firing",
                "last_received_at": now,
            },
        )
        return {"action": "declared", "incident": incident.pk}

    if incident is None:
        return {"action": "ignored", "incident": None}

    seen = set(group.fingerprints)
    action = "unchanged"
    if payload["status"] == "firing" and group.last_status == "resolved":
        note = "Alerts firing again after they resolved:\n" + _describe(firing)
        if incident.stage == lifecycle.REOPEN_FROM:
            services.incident_move(
                incident=incident, to=lifecycle.REOPEN_TO, actor=actor, note=note, source=ALERT
            )
            action = "reopened"
        else:
            services.note_add(incident=incident, text=note, actor=actor, source=ALERT)
            action = "noted"
        seen |= {a["fingerprint"] for a in firing if a.get("fingerprint")}
    elif payload["status"] == "firing":
        new = [a for a in firing if a.get("fingerprint") not in seen]
        if new:
            services.note_add(
                incident=incident,
                text="More alerts firing:\n" + _describe(new),
                actor=actor,
                source=ALERT,
            )
            seen |= {a["fingerprint"] for a in new if a.get("fingerprint")}
            action = "noted"
    elif group.last_status != "resolved":
        note = "Alertmanager: all alerts of the group resolved.\n" + _describe(payload["alerts"])
        if lifecycle.index(incident.stage) < lifecycle.index(Stage.RECOVER):
            services.incident_move(
                incident=incident, to=Stage.RECOVER, actor=actor, note=note, source=ALERT
            )
            action = "recovered"
        else:
            services.note_add(incident=incident, text=note, actor=actor, source=ALERT)
            action = "noted"
    group.fingerprints = sorted(seen)
    group.last_status = payload["status"]
    group.last_received_at = now
    group.save(update_fields=["fingerprints", "last_status", "last_received_at"])
    return {"action": action, "incident": incident.pk}
