"""Each sender's payload → one ``Notification``: its groups of alerts, and what was
dropped or malformed (recorded, never a reason to refuse the rest).

Alertmanager (webhook version 4) and Grafana Alerting send the same shape; Grafana
with "group by: none" (``groupLabels`` empty) would put every rule under one
``{}:{}`` group, so its alerts are grouped by rule instead. The generic webhook is
one event (``docs/alerts.md``, ``GenericAlertInput`` in the schema).
"""

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.conf import settings
from django.utils.dateparse import parse_datetime

from common.exceptions import InvalidInput
from common.validators import one_line, printable

STATUSES = ("firing", "resolved")
MAX_LABELS = 100
LABEL_KEY_MAX = 200
LABEL_VALUE_MAX = 2_000
GROUP_KEY_MAX = 1_000
URL_MAX = 2_000
FINGERPRINT_MAX = 64
# Go's zero time (0001-01-01T00:00:00Z) means "unknown"; no alert began before 1971.
_EARLIEST = datetime(1971, 1, 1, tzinfo=UTC)
_GRAFANA_TITLE_PREFIX = re.compile(r"^\[(FIRING|RESOLVED)(:\d+)?\]\s*")


@dataclass
class Alert:
    fingerprint: str
    status: str
    labels: dict
    annotations: dict
    starts_at: datetime | None = None
    generator_url: str = ""


@dataclass
class Group:
    key: str
    status: str
    labels: dict
    annotations: dict
    alerts: list[Alert]
    title: str = ""


@dataclass
class Notification:
    instance: str  # the sender instance (Alertmanager's externalURL)
    groups: list[Group]
    received: int = 0
    dropped: int = 0
    malformed: int = 0
    problems: list[str] = field(default_factory=list)


def _text(value, limit: int) -> str:
    if value is None:
        return ""
    return (value if isinstance(value, str) else str(value))[:limit]


def _labels(value, problems: list[str], what: str) -> dict:
    """Labels or annotations, bounded: long values are cut and extra keys dropped
    (noted in ``problems``), since the sender cannot shorten them."""
    if not isinstance(value, dict):
        if value not in (None, ""):
            problems.append(f"{what} is not an object")
        return {}
    items = sorted(value.items())
    if len(items) > MAX_LABELS:
        problems.append(f"{what}: {len(items) - MAX_LABELS} entries over {MAX_LABELS} dropped")
        items = items[:MAX_LABELS]
    labels = {}
    for key, item in items:
        text = _text(item, LABEL_VALUE_MAX + 1)
        if len(text) > LABEL_VALUE_MAX or len(key) > LABEL_KEY_MAX:
            problems.append(f"{what}: {key[:LABEL_KEY_MAX]} cut to {LABEL_VALUE_MAX} characters")
        labels[key[:LABEL_KEY_MAX]] = text[:LABEL_VALUE_MAX]
    return labels


def started_at(value) -> datetime | None:
    """An alert's start, or None for a missing, unreadable or zero time."""
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = parse_datetime(value) if isinstance(value, str) else None
        except ValueError:
            moment = None
    if moment is None or moment.tzinfo is None or moment < _EARLIEST:
        return None
    return moment


def fingerprint_of(labels: dict) -> str:
    text = "\x1f".join(f"{k}={v}" for k, v in sorted(labels.items()))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _alert(raw, problems: list[str]) -> Alert | None:
    if not isinstance(raw, dict) or raw.get("status") not in STATUSES:
        return None
    if not isinstance(raw.get("labels"), dict):
        return None
    labels = _labels(raw["labels"], problems, "labels")
    fingerprint = _text(raw.get("fingerprint"), FINGERPRINT_MAX + 1)
    if not fingerprint or len(fingerprint) > FINGERPRINT_MAX:
        fingerprint = fingerprint_of(labels)
    return Alert(
        fingerprint=fingerprint,
        status=raw["status"],
        labels=labels,
        annotations=_labels(raw.get("annotations"), problems, "annotations"),
        starts_at=started_at(raw.get("startsAt")),
        generator_url=_text(raw.get("generatorURL"), URL_MAX),
    )


def _group_key(payload: dict, group_labels: dict) -> str:
    key = _text(payload.get("groupKey"), GROUP_KEY_MAX * 4)
    if not key:
        key = "{}:{" + ",".join(f'{k}="{v}"' for k, v in sorted(group_labels.items())) + "}"
    if len(key) > GROUP_KEY_MAX:
        digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
        key = f"{key[: GROUP_KEY_MAX - 80]}…sha256:{digest}"
    return one_line(key)


def alertmanager(payload: dict, *, dropped_by_cap: int = 0, grafana: bool = False) -> Notification:
    """Alertmanager's (or Grafana's) notification: one group, or for Grafana without
    grouping one group per alert rule."""
    problems: list[str] = []
    raw_alerts = payload.get("alerts") if isinstance(payload.get("alerts"), list) else []
    limit = settings.KEEL_ALERT_MAX_ALERTS
    over = max(len(raw_alerts) - limit, 0)
    alerts, malformed = [], 0
    for raw in raw_alerts[:limit]:
        alert = _alert(raw, problems)
        if alert is None:
            malformed += 1
        else:
            alerts.append(alert)
    truncated = payload.get("truncatedAlerts")
    truncated = truncated if isinstance(truncated, int) and truncated > 0 else 0
    group_labels = _labels(payload.get("groupLabels"), problems, "groupLabels")
    common = _labels(payload.get("commonLabels"), problems, "commonLabels")
    annotations = _labels(payload.get("commonAnnotations"), problems, "commonAnnotations")
    status = payload.get("status")
    if status not in STATUSES:
        status = "firing" if any(a.status == "firing" for a in alerts) else "resolved"
    key = _group_key(payload, group_labels)
    title = ""
    if grafana:
        title = _GRAFANA_TITLE_PREFIX.sub("", one_line(_text(payload.get("title"), 1_000)))
    groups = [Group(key, status, common, annotations, alerts, title)]
    if grafana and not group_labels and alerts:
        groups = _by_rule(groups[0])
    if over:
        problems.append(f"{over} alerts over KEEL_ALERT_MAX_ALERTS={limit} not processed")
    return Notification(
        instance=one_line(_text(payload.get("externalURL"), URL_MAX)),
        groups=groups,
        received=len(raw_alerts) + dropped_by_cap,
        dropped=dropped_by_cap + truncated + over,
        malformed=malformed,
        problems=problems,
    )


def _by_rule(group: Group) -> list[Group]:
    rules: dict[str, list[Alert]] = {}
    for alert in group.alerts:
        rule = alert.labels.get("__alert_rule_uid__") or alert.labels.get("alertname", "")
        rules.setdefault(rule, []).append(alert)
    groups = []
    for rule, alerts in sorted(rules.items()):
        status = "firing" if any(a.status == "firing" for a in alerts) else "resolved"
        shared = dict(set.intersection(*(set(a.labels.items()) for a in alerts)))
        annotations = dict(set.intersection(*(set(a.annotations.items()) for a in alerts)))
        groups.append(Group(f"{group.key}:rule={rule}", status, shared, annotations, alerts))
    return groups


def webhook(payload: dict) -> Notification:
    """The generic webhook's one event. Its sender is a script someone can fix, so a
    missing key or an unknown status is a 400 naming the field."""
    key = payload.get("key")
    if not isinstance(key, str) or not key.strip():
        raise InvalidInput("Give the alert's key (what repeats of it share).", field="key")
    if len(key) > GROUP_KEY_MAX:
        raise InvalidInput(f"At most {GROUP_KEY_MAX} characters.", field="key")
    status = payload.get("status", "firing")
    if status not in STATUSES:
        raise InvalidInput("status is firing or resolved.", field="status")
    if "labels" in payload and not isinstance(payload["labels"], dict):
        raise InvalidInput("labels is an object of strings.", field="labels")
    problems: list[str] = []
    labels = _labels(payload.get("labels") or {}, problems, "labels")
    for name in ("severity", "service"):
        if payload.get(name):
            labels[name] = _text(payload[name], LABEL_VALUE_MAX)
    title = one_line(_text(payload.get("title"), 1_000))
    if title:
        labels.setdefault("alertname", title[:LABEL_VALUE_MAX])
    annotations = {"summary": title}
    if payload.get("description"):
        annotations["description"] = printable(_text(payload["description"], 9_000))
    alert = Alert(
        fingerprint=fingerprint_of({"key": key}),
        status=status,
        labels=labels,
        annotations=annotations,
        starts_at=started_at(payload.get("started_at")),
        generator_url=_text(payload.get("url"), URL_MAX),
    )
    group = Group(one_line(key), status, labels, annotations, [alert], title)
    return Notification(
        instance=one_line(_text(payload.get("instance"), URL_MAX)),
        groups=[group],
        received=1,
        problems=problems,
    )
