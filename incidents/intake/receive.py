"""Apply an alert group to its incident: declare, attach (correlation), note, hold a
resolve (flap damping), reopen. One transaction per notification.

A group is keyed by (source, sender instance, group key): a second Alertmanager
(another cluster, staging) with the same routing is a different group, and its
resolve never touches the first one's incident. A *new* firing group whose service
already has an open incident opened by the same source and instance, active within
the source's correlation window, attaches to it instead of declaring another.

A resolve does not move the incident: it starts the hold (``settle``); a re-fire
within the hold is a flap, counted on the group, and neither moves nor announces.
"""

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from common.validators import one_line, printable
from incidents import lifecycle, services, visibility
from incidents.intake import settle
from incidents.intake.locks import group_lock
from incidents.intake.models import AlertGroup
from incidents.intake.normalize import Alert, Group, Notification
from incidents.intake.rules import Rules
from incidents.lifecycle import Stage
from incidents.models import TITLE_MAX, Incident, Service, Severity, TimelineEvent

ALERT = TimelineEvent.Source.ALERT
NOTE_MAX = 9_000
LISTED_MAX = 60  # alerts listed by name in one note; the rest are counted
# The most telling action names a notification that touched several groups.
ACTIONS = (
    "declared",
    "reopened",
    "recovered",
    "attached",
    "noted",
    "resolving",
    "flapping",
    "unchanged",
    "ignored",
)
BEFORE_RECOVER = [s for s in lifecycle.ORDER if lifecycle.index(s) < lifecycle.index(Stage.RECOVER)]


@dataclass
class GroupResult:
    key: str
    action: str
    incident: int | None
    ignored: int = 0


def group_key_hash(source_id, instance: str, key: str) -> str:
    # Frozen in incidents/migrations/0011_alert_sources.py: change both or neither.
    text = f"{source_id}\x1f{instance}\x1f{key}"
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def describe(alerts: list[Alert], *, left_out: int = 0) -> str:
    """The alerts as note lines: at most ``LISTED_MAX``, then how many were left out
    (those not listed plus ``left_out``, the ones the sender or the cap dropped)."""
    lines = []
    for alert in alerts[:LISTED_MAX]:
        labels = ", ".join(f"{k}={v}" for k, v in sorted(alert.labels.items()))
        text = alert.annotations.get("description") or alert.annotations.get("summary", "")
        line = f"- [{alert.status}] {labels}"
        if text:
            line += f" — {text}"
        if alert.generator_url:
            line += f" ({alert.generator_url})"
        lines.append(line[:1_000])
    more = max(len(alerts) - LISTED_MAX, 0) + left_out
    text = printable("\n".join(lines))
    tail = f"\n… and {more} more alerts not listed." if more else ""
    if len(text) + len(tail) > NOTE_MAX:
        kept = text[: NOTE_MAX - 200].rsplit("\n", 1)[0]
        hidden = text.count("\n") - kept.count("\n") + more
        text, tail = kept, f"\n… and {hidden} more alerts not listed."
    return text + tail


def _title(group: Group, alerts: list[Alert]) -> str:
    labels = {**(alerts[0].labels if alerts else {}), **group.labels}
    title = group.annotations.get("summary") or group.title or labels.get("alertname", "")
    name = labels.get("alertname", "")
    if name and name not in title:
        title = f"{name}: {title}" if title else name
    # The sender cannot fix a multi-line summary; losing the alert is worse: one line.
    return one_line(title)[:TITLE_MAX] or "Alert firing"


def _locked_group(key_hash: str) -> AlertGroup | None:
    group_lock(key_hash)
    return (
        AlertGroup.objects.select_for_update(of=("self",))
        .select_related("incident")
        .filter(key_hash=key_hash)
        .first()
    )


def _group_for(source, instance: str, key: str, actor) -> tuple[str, AlertGroup | None]:
    """The group row this notification acts on, locked, and its key hash.

    A row from before sources (keyed without an instance) is adopted. If the group's
    incident is one ``actor`` may not see, the notification is treated as a new group
    of that caller's own: it never touches, notes, moves or names the hidden
    incident, so neither its id nor its existence leaks."""
    key_hash = group_key_hash(source.pk, instance, key)
    group = _locked_group(key_hash)
    if group is None and instance:
        group = _locked_group(group_key_hash(source.pk, "", key))
        if group is not None:
            group.external_url, group.key_hash = instance, key_hash
            group.save(update_fields=["external_url", "key_hash"])
    if group is None or visibility.can_see(actor, group.incident):
        return key_hash, group
    scoped = group_key_hash(source.pk, instance, f"keel-scoped:user={actor.pk}:{key}")
    return scoped, _locked_group(scoped)


def _correlated(*, source, instance: str, slugs: set[str], actor, now: datetime):
    """An open incident this source and instance opened for one of ``slugs``, with
    alerts within the correlation window, that ``actor`` may see."""
    if not slugs or not source.correlation_window_minutes:
        return None
    since = now - timedelta(minutes=source.correlation_window_minutes)
    candidates = (
        visibility.incidents_visible_to(actor)
        .filter(
            closed_at__isnull=True,
            alert_groups__source=source,
            alert_groups__external_url=instance,
            alert_groups__last_received_at__gte=since,
            services__slug__in=slugs,
        )
        .order_by("-detected_at")
    )
    return candidates.first()


def _via(source) -> str:
    return f"via {source.label}"


def _declare(*, source, rules: Rules, group: Group, firing: list[Alert], left_out, actor, now):
    declaring = [a for a in firing if rules.declares({**group.labels, **a.labels})]
    labels = {**declaring[0].labels, **group.labels}
    slugs = set().union(*(rules.service_slugs({**group.labels, **a.labels}) for a in firing))
    starts = [a.starts_at for a in firing if a.starts_at is not None]
    code = rules.severity_code(labels)
    incident = services.incident_declare(
        title=_title(group, declaring),
        summary=printable(group.annotations.get("description", ""))[:NOTE_MAX],
        severity=Severity.objects.filter(code=code).first()
        or Severity.objects.order_by("-rank").first(),
        services=list(Service.objects.filter(slug__in=slugs)),
        started_at=min([*starts, now]),
        detected_at=now,
        detection_source="monitoring",
        actor=actor,
        source=ALERT,
    )
    services.note_add(
        incident=incident,
        text=f"{_via(source)} — group {group.key[:200]}:\n" + describe(firing, left_out=left_out),
        actor=actor,
        source=ALERT,
    )
    return incident


def _new_group(*, source, rules, instance, group, firing, left_out, actor, now, key_hash):
    """A firing group Keel has no open incident for: attach to a correlated
    incident, declare one, or (only attach-only alerts) ignore it."""
    slugs = set().union(*(rules.service_slugs({**group.labels, **a.labels}) for a in firing))
    # New groups of one service arrive together (Alertmanager flushes them at once):
    # one at a time per service, so the second sees the first's incident and attaches.
    for slug in sorted(slugs):
        group_lock(group_key_hash(source.pk, instance, f"keel-service:{slug}"))
    incident = _correlated(source=source, instance=instance, slugs=slugs, actor=actor, now=now)
    if incident is not None:
        text = (
            f"{_via(source)} — group {group.key[:200]} attached (same service: "
            f"{', '.join(sorted(slugs))}):\n" + describe(firing, left_out=left_out)
        )
        if incident.stage == lifecycle.REOPEN_FROM:
            services.incident_move(
                incident=incident, to=lifecycle.REOPEN_TO, actor=actor, note=text, source=ALERT
            )
        else:
            services.note_add(incident=incident, text=text, actor=actor, source=ALERT)
        action = "attached"
    elif any(rules.declares({**group.labels, **a.labels}) for a in firing):
        incident = _declare(
            source=source,
            rules=rules,
            group=group,
            firing=firing,
            left_out=left_out,
            actor=actor,
            now=now,
        )
        action = "declared"
    else:
        return None, "ignored"
    AlertGroup.objects.update_or_create(
        key_hash=key_hash,
        defaults={
            "source": source,
            "external_url": instance,
            "group_key": group.key,
            "incident": incident,
            "fingerprints": sorted({a.fingerprint for a in firing}),
            "last_status": "firing",
            "last_received_at": now,
            "resolved_since": None,
            "flaps": 0,
        },
    )
    return incident, action


def _known_group(
    *, source, row: AlertGroup, incident: Incident, firing, status, left_out, actor, now
):
    """A notification for a group with an open incident."""
    seen = set(row.fingerprints)
    action = "unchanged"
    if status == "firing" and row.last_status == "resolved":
        if row.resolved_since is not None and incident.stage in BEFORE_RECOVER:
            row.flaps += 1  # within the hold: nothing moved, nothing to announce
            action = "flapping"
        else:
            note = f"{_via(source)} — firing again after it resolved:\n" + describe(
                firing, left_out=left_out
            )
            if incident.stage == lifecycle.REOPEN_FROM:
                services.incident_move(
                    incident=incident, to=lifecycle.REOPEN_TO, actor=actor, note=note, source=ALERT
                )
                action = "reopened"
            else:
                services.note_add(incident=incident, text=note, actor=actor, source=ALERT)
                action = "noted"
        row.resolved_since = None
        seen |= {a.fingerprint for a in firing}
    elif status == "firing":
        new = [a for a in firing if a.fingerprint not in seen]
        if new:
            services.note_add(
                incident=incident,
                text=f"{_via(source)} — more alerts firing:\n" + describe(new, left_out=left_out),
                actor=actor,
                source=ALERT,
            )
            seen |= {a.fingerprint for a in new}
            action = "noted"
    elif row.last_status != "resolved":
        row.resolved_since = now
        action = "resolving"
        if source.resolve_hold_seconds:
            settle.schedule(incident_id=incident.pk, hold_seconds=source.resolve_hold_seconds)
    row.fingerprints = sorted(seen)
    row.last_status = status
    row.last_received_at = now
    row.save(
        update_fields=["fingerprints", "last_status", "last_received_at", "resolved_since", "flaps"]
    )
    return action


def _apply_group(*, source, rules: Rules, instance: str, group: Group, left_out, actor, now):
    alerts = [a for a in group.alerts if not rules.ignored({**group.labels, **a.labels})]
    ignored = len(group.alerts) - len(alerts)
    if not alerts:
        return GroupResult(group.key, "ignored", None, ignored)
    firing = [a for a in alerts if a.status == "firing"]
    status = "firing" if group.status == "firing" and firing else "resolved"
    key_hash, row = _group_for(source, instance, group.key, actor)
    incident = row.incident if row is not None and row.incident.closed_at is None else None
    if incident is None:
        if status != "firing":
            return GroupResult(group.key, "ignored", None, ignored)
        incident, action = _new_group(
            source=source,
            rules=rules,
            instance=instance,
            group=group,
            firing=firing,
            left_out=left_out,
            actor=actor,
            now=now,
            key_hash=key_hash,
        )
        return GroupResult(group.key, action, incident.pk if incident else None, ignored)
    action = _known_group(
        source=source,
        row=row,
        incident=incident,
        firing=firing,
        status=status,
        left_out=left_out,
        actor=actor,
        now=now,
    )
    hold_over = action == "resolving" and not source.resolve_hold_seconds
    if hold_over and settle.incident_settle(incident_id=incident.pk) == "recovered":
        action = "recovered"
    return GroupResult(group.key, action, incident.pk, ignored)


@transaction.atomic
def notification_apply(*, source, notification: Notification, actor) -> list[GroupResult]:
    """Apply each group of ``notification`` from ``source`` acting as ``actor``.

    Writes incidents, notes, stage moves and alert groups; a resolve schedules the
    hold-time check (``settle``) after commit."""
    now = timezone.now()
    rules = Rules.of(source)
    return [
        _apply_group(
            source=source,
            rules=rules,
            instance=notification.instance,
            group=group,
            left_out=notification.dropped,
            actor=actor,
            now=now,
        )
        for group in notification.groups
    ]


def summary_action(results: list[GroupResult]) -> str:
    actions = {result.action for result in results}
    return next((action for action in ACTIONS if action in actions), "ignored")
