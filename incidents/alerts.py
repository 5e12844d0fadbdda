"""Prometheus Alertmanager webhook → incidents.

A firing group declares an incident (detection source: monitoring), new alerts
in the group are noted on its timeline, and a resolved group moves it to
**recover**. Alertmanager repeats notifications (``repeat_interval``) and retries
failed ones: a notification that brings nothing new changes nothing.
"""

import hashlib
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from common.validators import one_line, printable
from incidents import lifecycle, services, visibility
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


def _scoped_key(group_key: str, actor) -> str:
    """The key under which ``actor``'s notifications for ``group_key`` are kept when the
    group's incident is one ``actor`` may not see. Hashed: fits the column whatever
    the length of the original key."""
    digest = hashlib.sha256(group_key.encode("utf-8", "surrogatepass")).hexdigest()
    return f"keel-scoped:user={actor.pk}:{digest}"


def _group_for(group_key: str, actor) -> tuple[str, AlertGroup | None]:
    """The group row ``actor``'s notification acts on, locked, and its key.

    If the group's incident is one ``actor`` may not see (a private incident they
    do not take part in), the notification is treated as a *new group of that
    caller's own*: it never touches, notes, moves or names the hidden incident,
    and the answer is exactly what a group Keel had never seen would get, so
    neither the id nor the existence of the hidden incident leaks. A firing
    notification declares a separate incident the caller can see."""
    _serialise_group(group_key)
    group = (
        AlertGroup.objects.select_for_update()
        .select_related("incident")
        .filter(group_key=group_key)
        .first()
    )
    if group is None or visibility.can_see(actor, group.incident):
        return group_key, group
    scoped = _scoped_key(group_key, actor)
    _serialise_group(scoped)
    return scoped, AlertGroup.objects.select_for_update().filter(group_key=scoped).first()


@transaction.atomic
def alertmanager_receive(*, payload: dict, actor) -> dict:
    """Apply one Alertmanager notification; returns what it did and the incident id.

    Acts only on incidents ``actor`` (the token's user) may see; see ``_group_for``."""
    now = timezone.now()
    firing = [a for a in payload["alerts"] if a["status"] == "firing"]
    group_key, group = _group_for(payload["groupKey"], actor)
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
