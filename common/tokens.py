"""API tokens: minting, checking, revoking and rotating (writes named ``api_token_<verb>``).

A key is ``keel_`` + 43 URL-safe characters (256 random bits). Only its SHA-256
is stored; with that much entropy a plain digest is enough (no salt or slow hash
is needed: there is nothing to guess), and the lookup is one unique-index probe.

Creation and revocation write a simple-history row (actor and reason); the key
is never logged, stored or put in a history row, only its prefix.
"""

import hashlib
import logging
import secrets
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from common.exceptions import InvalidInput
from common.models import ApiToken
from common.roles import role_groups_known, role_groups_read_with

logger = logging.getLogger(__name__)

KEY_PREFIX = "keel_"
PREFIX_LENGTH = 12  # "keel_" + 7 characters: enough to tell tokens apart, useless to guess
# ``last_used_at`` is written at most this often per token: a busy integration
# must not turn every API call into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


# What a token minted without an explicit scope may do: what every token could
# do before scopes existed (the migration gave existing tokens the same).
DEFAULT_SCOPES = (ApiToken.Scope.READ, ApiToken.Scope.WRITE)


def _new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def parse_scopes(value, *, field: str = "scopes") -> list[str]:
    """``"read,write"`` or ``["read", "write"]`` → the scopes in canonical order;
    unknown or no scopes raise ``InvalidInput`` naming ``field``."""
    names = value.split(",") if isinstance(value, str) else list(value or [])
    names = [str(name).strip().lower() for name in names if str(name).strip()]
    unknown = sorted(set(names) - set(ApiToken.Scope.values))
    known = ", ".join(ApiToken.Scope.values)
    if unknown:
        raise InvalidInput(f"Unknown scope {', '.join(unknown)[:100]}; use {known}.", field=field)
    if not names:
        raise InvalidInput(f"Give at least one scope: {known}.", field=field)
    return [scope for scope in ApiToken.Scope.values if scope in names]


@transaction.atomic
def api_token_create(
    *,
    user,
    name: str,
    actor,
    expires_at: datetime | None = None,
    scopes=DEFAULT_SCOPES,
    kind: str = ApiToken.Kind.PERSONAL,
    key: str | None = None,
) -> tuple[ApiToken, str]:
    """Mint a token for ``user``; return the row and the key (never stored, shown once).
    Writes the token and its history row (``actor``, "token created").

    ``key`` is only for migrating an existing credential (its hash is stored)."""
    if not name or not name.strip():
        raise InvalidInput("Name the token: what is it for?", field="name")
    if expires_at is not None and expires_at <= timezone.now():
        raise InvalidInput("The expiry must be in the future.", field="expires_at")
    if kind not in ApiToken.Kind.values:
        raise InvalidInput(f"Kind must be one of {', '.join(ApiToken.Kind.values)}.", field="kind")
    key = key or _new_key()
    token = ApiToken(
        user=user,
        name=name.strip()[: ApiToken._meta.get_field("name").max_length],
        prefix=key[:PREFIX_LENGTH],
        key_hash=hash_key(key),
        kind=kind,
        scopes=",".join(parse_scopes(scopes)),
        created_by=actor,
        expires_at=expires_at,
    )
    try:
        token.full_clean(exclude=["user", "created_by", "revoked_by"])
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise InvalidInput(" ".join(messages), field=field) from exc
    token._history_user = actor
    token._change_reason = "token created"
    token.save()
    logger.info(
        "api token minted id=%s prefix=%s user=%s by=%s kind=%s scopes=%s expires_at=%s",
        token.pk,
        token.prefix,
        user.pk,
        getattr(actor, "pk", None),
        token.kind,
        token.scopes,
        expires_at,
    )
    return token, key


@transaction.atomic
def api_token_revoke(*, token: ApiToken, actor) -> ApiToken:
    """Mark the token revoked (the row stays, for the audit trail). Idempotent."""
    token = ApiToken.objects.select_for_update().get(pk=token.pk)
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.revoked_by = actor
        token._history_user = actor
        token._change_reason = "token revoked"
        token.save(update_fields=["revoked_at", "revoked_by"])
        logger.info(
            "api token revoked id=%s prefix=%s user=%s by=%s",
            token.pk,
            token.prefix,
            token.user_id,
            getattr(actor, "pk", None),
        )
    return token


@transaction.atomic
def api_token_rotate(*, token: ApiToken, actor) -> tuple[ApiToken, str]:
    """Revoke ``token`` and mint its replacement (same user, name, kind, scopes and
    lifetime)."""
    old = api_token_revoke(token=token, actor=actor)
    expires_at = None
    if old.expires_at is not None:
        expires_at = timezone.now() + max(old.expires_at - old.created_at, timedelta(seconds=60))
    return api_token_create(
        user=old.user,
        name=old.name,
        actor=actor,
        expires_at=expires_at,
        scopes=old.scope_list,
        kind=old.kind,
    )


def api_token_for_key(key: str) -> ApiToken | None:
    """The active token whose key this is, with its user and the user's role groups
    (``common.roles``: the permission checks of the request then ask nothing more);
    ``None`` when unknown, revoked, expired or its user is inactive."""
    if not key or len(key) > 200:
        return None
    quote = connection.ops.quote_name
    meta = ApiToken._meta
    user_id = f"{quote(meta.db_table)}.{quote(meta.get_field('user').column)}"
    token = (
        ApiToken.objects.select_related("user")
        .annotate(**role_groups_read_with(user_id))
        .filter(key_hash=hash_key(key), revoked_at__isnull=True)
        .first()
    )
    if token is None or not token.is_active or not token.user.is_active:
        return None
    role_groups_known(token.user, token)
    return token


def api_token_touch(*, token: ApiToken) -> None:
    """Record use, at most once per ``LAST_USED_RESOLUTION`` (a conditional UPDATE,
    so concurrent requests write once). ApiToken is not history-tracked: this
    bookkeeping is not an audit event."""
    now = timezone.now()
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_RESOLUTION:
        return
    ApiToken.objects.filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION),
        pk=token.pk,
    ).update(last_used_at=now)
    token.last_used_at = now


def api_tokens_of(*, user):
    """``user``'s tokens, newest first (revoked and expired ones too: the record)."""
    return ApiToken.objects.filter(user=user).select_related("user", "created_by", "revoked_by")


def api_tokens_all():
    """Every token, newest first, with the users the list shows."""
    return ApiToken.objects.select_related("user", "created_by", "revoked_by")
