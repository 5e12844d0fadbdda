"""Writes for alert sources (``alert_source_<verb>``) and their payload log.

A source's key is ``keelsrc_`` + 43 URL-safe characters (256 random bits); only its
SHA-256 is stored (``common.tokens.hash_key``), the key is returned once by the
call that made it. The source acts as its ``user``: a service user created with
it (``alerts-<kind>-<name>``, a responder, no password) unless one is given.
"""

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.utils import timezone
from django.utils.text import slugify

from common.exceptions import InvalidInput
from common.roles import RESPONDERS, role_groups_known, role_groups_read_with
from common.tokens import hash_key
from incidents.intake.models import SOURCE_NAME_MAX, AlertPayload, AlertSource
from incidents.intake.rules import SEVERITY_CODES, parse_matchers

KEY_PREFIX = "keelsrc_"
PREFIX_LENGTH = 14


def _new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def source_for_key(key: str) -> AlertSource | None:
    """The source whose key is ``key`` (one indexed query, its user joined with the
    role groups the services check before they write: a notification that adds a
    note or declares asks no more about its user)."""
    if not key.startswith(KEY_PREFIX):
        return None
    quote = connection.ops.quote_name
    meta = AlertSource._meta
    user_id = f"{quote(meta.db_table)}.{quote(meta.get_field('user').column)}"
    source = (
        AlertSource.objects.select_related("user")
        .annotate(**role_groups_read_with(user_id))
        .filter(key_hash=hash_key(key))
        .first()
    )
    if source is not None and source.user is not None:
        role_groups_known(source.user, source)
    return source


def default_source(kind: str) -> AlertSource:
    """The default source of ``kind``: where API tokens (not source keys) post."""
    source = AlertSource.objects.filter(kind=kind, is_default=True).first()
    if source is None:
        with transaction.atomic():
            source, _ = AlertSource.objects.get_or_create(
                kind=kind, is_default=True, defaults={"name": "default"}
            )
    return source


def _service_user(kind: str, name: str):
    User = get_user_model()
    username = f"alerts-{kind}-{slugify(name)}"[:150]
    user, created = User.objects.get_or_create(username=username)
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    user.groups.add(Group.objects.get_or_create(name=RESPONDERS)[0])
    return user


@transaction.atomic
def alert_source_create(*, kind: str, name: str, actor) -> tuple[AlertSource, str]:
    """Create a source of ``kind`` named ``name`` with its service user and key;
    returns the source and the key (shown once)."""
    name = (name or "").strip()
    if kind not in AlertSource.Kind.values:
        raise InvalidInput(f"Kind is one of {', '.join(AlertSource.Kind.values)}.", field="kind")
    if not name:
        raise InvalidInput("Name the source (e.g. prod-eu).", field="name")
    if len(name) > SOURCE_NAME_MAX:
        raise InvalidInput(f"At most {SOURCE_NAME_MAX} characters.", field="name")
    if AlertSource.objects.filter(kind=kind, name=name).exists():
        raise InvalidInput(f"There is already a {kind} source named {name}.", field="name")
    key = _new_key()
    source = AlertSource.objects.create(
        kind=kind,
        name=name,
        user=_service_user(kind, name),
        key_prefix=key[:PREFIX_LENGTH],
        key_hash=hash_key(key),
        key_rotated_at=timezone.now(),
    )
    return source, key


@transaction.atomic
def alert_source_rotate_key(*, source: AlertSource, actor) -> str:
    """Replace the source's key (the old one stops working now); returns the new key."""
    key = _new_key()
    source.key_prefix, source.key_hash = key[:PREFIX_LENGTH], hash_key(key)
    source.key_rotated_at = timezone.now()
    source.save(update_fields=["key_prefix", "key_hash", "key_rotated_at", "updated_at"])
    return key


def _mapping(value, *, field: str, codes: bool = False) -> dict:
    if not isinstance(value, dict) or len(value) > 200:
        raise InvalidInput("A mapping of at most 200 label values.", field=field)
    mapping = {}
    for key, target in value.items():
        key, target = str(key).strip()[:200], str(target).strip()[:100]
        if not key or not target:
            raise InvalidInput("Every line is value=target.", field=field)
        if codes and target.upper() not in SEVERITY_CODES:
            raise InvalidInput(
                f"{target[:20]} is not a severity ({', '.join(SEVERITY_CODES)}).", field=field
            )
        mapping[key] = target.upper() if codes else target
    return mapping


@transaction.atomic
def alert_source_update_rules(
    *,
    source: AlertSource,
    actor,
    ignore_matchers: str,
    attach_only_matchers: str,
    severity_label: str,
    severity_map: dict,
    service_labels: str,
    service_map: dict,
    correlation_window_minutes: int,
    resolve_hold_seconds: int,
) -> AlertSource:
    """Replace the source's rules (each checked; ``InvalidInput`` names the field)."""
    parse_matchers(ignore_matchers, field="ignore_matchers")
    parse_matchers(attach_only_matchers, field="attach_only_matchers")
    if not 0 <= correlation_window_minutes <= 24 * 60:
        raise InvalidInput("Between 0 (off) and 1440 minutes.", field="correlation_window_minutes")
    if not 0 <= resolve_hold_seconds <= 24 * 3600:
        raise InvalidInput("Between 0 and 86400 seconds.", field="resolve_hold_seconds")
    source.ignore_matchers = ignore_matchers
    source.attach_only_matchers = attach_only_matchers
    source.severity_label = severity_label.strip() or "severity"
    source.severity_map = _mapping(severity_map, field="severity_map", codes=True)
    source.service_labels = service_labels
    source.service_map = _mapping(service_map, field="service_map")
    source.correlation_window_minutes = correlation_window_minutes
    source.resolve_hold_seconds = resolve_hold_seconds
    source.full_clean(exclude=["user", "key_hash", "key_prefix"])
    source.save()
    return source


# A sender's own figures (``truncatedAlerts``) may be any number: the log's columns hold
# what an integer column can.
COUNT_MAX = 2**31 - 1


def _count(value) -> int:
    return max(0, min(int(value), COUNT_MAX))


def payload_logged(
    *,
    source: AlertSource,
    status_code: int,
    outcome: str,
    raw: bytes,
    body_bytes: int,
    incident_ids=(),
    received: int = 0,
    dropped: int = 0,
    malformed: int = 0,
    ignored: int = 0,
    detail: str = "",
) -> None:
    """Keep one received notification in the source's log (its body cut to
    ``KEEL_ALERT_LOG_BODY_BYTES``) and drop the ones past ``KEEL_ALERT_LOG_KEEP``.
    Two queries; not atomic with the notification (a refused one is logged too)."""
    cut = settings.KEEL_ALERT_LOG_BODY_BYTES
    text = raw[:cut].decode("utf-8", errors="replace").replace("\x00", "")
    if body_bytes > cut:
        text += f"\n… ({body_bytes - cut} more bytes not kept)"
    row = AlertPayload.objects.create(
        source=source,
        received_at=timezone.now(),
        status_code=status_code,
        outcome=outcome[:32],
        incident_ids=sorted({pk for pk in incident_ids if pk}),
        body_bytes=_count(body_bytes),
        alerts_received=_count(received),
        alerts_dropped=_count(dropped),
        alerts_malformed=_count(malformed),
        alerts_ignored=_count(ignored),
        detail=detail[:2_000],
        body=text,
    )
    keep = settings.KEEL_ALERT_LOG_KEEP
    AlertPayload.objects.filter(source=source, id__lte=row.pk - keep).filter(
        id__lt=AlertPayload.objects.filter(source=source)
        .order_by("-id")
        .values("id")[keep - 1 : keep]
    ).delete()
