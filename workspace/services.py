"""Writes of Settings: the Slack credentials (through a connection check), the
announcement channel, and test sends. Admin only; every write leaves a history
row with its actor and reason; nothing here calls Slack (the worker does:
``workspace.slack_check``)."""

import re

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from common.enqueue import enqueue_on_commit
from common.exceptions import InvalidInput
from common.roles import require_admin
from notifications.channels.webhook import validate_url
from notifications.models import Audience, ChannelPause, Destination
from notifications.services import channel_resume, destination_create
from workspace import destination_test_sends, secrets
from workspace.models import TOKEN_MAX, DestinationTestSend, SlackCheck, SlackSettings

RESPONDERS = "responders"
# Slack bot tokens are "xoxb-" followed by dash-separated digits and letters.
BOT_TOKEN_RE = re.compile(r"^xoxb-[A-Za-z0-9-]{10,250}$")
SIGNING_SECRET_RE = re.compile(r"^[A-Za-z0-9]{16,128}$")


def bot_token_problem(value: str) -> str:
    """Why ``value`` cannot be a bot token ("" when it may be one); the form says it too."""
    if len(value) > TOKEN_MAX:
        return f"A bot token is at most {TOKEN_MAX} characters."
    if not BOT_TOKEN_RE.match(value):
        return (
            "A bot token starts with xoxb- "
            "(Slack app → OAuth & Permissions → Bot User OAuth Token)."
        )
    return ""


def signing_secret_problem(value: str) -> str:
    if not SIGNING_SECRET_RE.match(value):
        return "A signing secret is 16 to 128 letters and digits (Slack app → Basic Information)."
    return ""


@transaction.atomic
def slack_check_request(*, actor, bot_token: str = "", signing_secret: str = "") -> SlackCheck:
    """Ask a worker to test ``bot_token`` (or, blank, the token in use) with
    ``auth.test`` and list the channels. Writes the check; enqueues it on commit.
    A candidate token is saved by the worker when Slack accepts it."""
    from workspace.tasks import slack_check_run_task  # the tasks import this module

    require_admin(actor, to="change Settings")
    bot_token, signing_secret = bot_token.strip(), signing_secret.strip()
    if bot_token and (problem := bot_token_problem(bot_token)):
        raise InvalidInput(problem, field="bot_token")
    if signing_secret and (problem := signing_secret_problem(signing_secret)):
        raise InvalidInput(problem, field="signing_secret")
    if signing_secret and not bot_token:
        # A secret alone needs no Slack call: save it now.
        slack_signing_secret_save(signing_secret=signing_secret, actor=actor)
    check = SlackCheck.objects.create(
        token_encrypted=secrets.encrypt(bot_token) if bot_token else "",
        token_last4=secrets.last4(bot_token),
        signing_secret_encrypted=secrets.encrypt(signing_secret)
        if signing_secret and bot_token
        else "",
        signing_secret_last4=secrets.last4(signing_secret) if bot_token else "",
        requested_by=actor,
    )
    _slack_checks_prune()
    enqueue_on_commit([(slack_check_run_task, (check.pk,))], what="Slack connection check")
    return check


# The Test connection checks kept: the latest few (the page shows the newest; an open
# page may still save one) and the newest that passed (its channel list). The rest go,
# and with them the candidate tokens they hold, encrypted, that were never saved.
SLACK_CHECKS_KEPT = 20


def _slack_checks_prune() -> int:
    kept = list(SlackCheck.objects.values_list("pk", flat=True)[:SLACK_CHECKS_KEPT])
    passed = latest_check()
    if passed is not None:
        kept.append(passed.pk)
    deleted, _ = SlackCheck.objects.exclude(pk__in=kept).delete()
    return deleted


def _settings_row() -> SlackSettings:
    row = SlackSettings.objects.select_for_update().filter(pk=1).first()
    return row or SlackSettings(pk=1)


@transaction.atomic
def slack_signing_secret_save(*, signing_secret: str, actor) -> SlackSettings:
    require_admin(actor, to="change Settings")
    if problem := signing_secret_problem(signing_secret):
        raise InvalidInput(problem, field="signing_secret")
    row = _settings_row()
    row.signing_secret_encrypted = secrets.encrypt(signing_secret)
    row.signing_secret_last4 = secrets.last4(signing_secret)
    row._history_user = actor
    row._change_reason = "Slack signing secret entered in Settings"
    row.save()
    return row


@transaction.atomic
def slack_credentials_apply(*, check: SlackCheck, actor, confirmed: bool = False) -> SlackSettings:
    """Save a checked candidate token (and its signing secret). One Slack refused
    is saved only when ``confirmed``, and then the Slack channel stays paused with
    Slack's answer as the reason; one Slack accepted lifts a Slack pause."""
    require_admin(actor, to="change Settings")
    check = SlackCheck.objects.select_for_update().get(pk=check.pk)
    if not check.candidate:
        raise InvalidInput("This check tested the token in use: nothing to save.", field="check")
    if check.applied_at is not None:
        return SlackSettings.objects.get(pk=1)
    if check.status == SlackCheck.Status.PENDING:
        raise InvalidInput("The check has not finished yet.", field="check")
    if check.status == SlackCheck.Status.FAILED and not confirmed:
        raise InvalidInput(
            f"Slack refused this token ({check.error}); confirm to save it anyway.",
            field="check",
        )
    row = _settings_row()
    row.bot_token_encrypted = check.token_encrypted
    row.bot_token_last4 = check.token_last4
    if check.signing_secret_encrypted:
        row.signing_secret_encrypted = check.signing_secret_encrypted
        row.signing_secret_last4 = check.signing_secret_last4
    row.team = check.team
    row._history_user = actor
    row._change_reason = (
        "Slack token saved after a passing connection test"
        if check.status == SlackCheck.Status.OK
        else "Slack token saved although its connection test failed"
    )
    row.save()
    check.applied_at = timezone.now()
    check.save(update_fields=["applied_at"])
    if check.status == SlackCheck.Status.OK:
        slack_pause_lift(actor=actor)
    else:
        ChannelPause.objects.update_or_create(
            kind=Destination.Kind.SLACK,
            defaults={
                "reason": f"The saved Slack token failed its connection test: {check.error}. "
                "Enter a working token in Settings → Slack."[:1000],
                "paused_at": timezone.now(),
            },
        )
    return row


def slack_pause_lift(*, actor) -> int:
    """A token passed the test: resume Slack if it was paused (what it held goes out)."""
    if not ChannelPause.objects.filter(kind=Destination.Kind.SLACK).exists():
        return 0
    return channel_resume(kind=Destination.Kind.SLACK, actor=actor)


@transaction.atomic
def channel_pause_resume(*, kind: str, actor) -> int:
    """Resume a paused channel from Settings (the credentials were fixed elsewhere)."""
    require_admin(actor, to="change Settings")
    return channel_resume(kind=kind, actor=actor)


def latest_check() -> SlackCheck | None:
    return SlackCheck.objects.filter(status=SlackCheck.Status.OK).first()


def announcement_destination() -> Destination | None:
    """The responders' team Slack channel (the one first run creates)."""
    return (
        Destination.objects.filter(
            audience__slug=RESPONDERS, kind=Destination.Kind.SLACK, user__isnull=True
        )
        .order_by("pk")
        .first()
    )


@transaction.atomic
def slack_announcement_channel_set(*, channel_id: str, actor) -> Destination:
    """Point the responders' Slack destination at ``channel_id``, one of the
    channels the last passing check listed (created when there is none)."""
    require_admin(actor, to="change Settings")
    check = latest_check()
    listed = {c["id"]: c["name"] for c in (check.channels if check else [])}
    if channel_id not in listed:
        raise InvalidInput(
            "Choose one of the channels Slack listed (run Test connection to refresh them).",
            field="channel",
        )
    name = f"Slack #{listed[channel_id]}"[:100]
    destination = announcement_destination()
    if destination is None:
        destination, _ = destination_create(
            audience_slug=RESPONDERS, kind=Destination.Kind.SLACK, name=name, target=channel_id
        )
    destination.target = channel_id
    destination.name = name
    destination._history_user = actor
    destination._change_reason = "announcement channel chosen in Settings"
    destination.save()
    return destination


@transaction.atomic
def destination_test_send(*, destination: Destination, actor) -> DestinationTestSend:
    """Queue a test message to ``destination`` on the delivery engine (enqueued on commit)."""
    require_admin(actor, to="change Settings")
    if destination.kind not in destination_test_sends.SENDABLE_KINDS:
        raise InvalidInput(
            f"{destination.get_kind_display()} destinations have no test message.",
            field="destination",
        )
    fields = {
        "name": destination.name,
        "audience": destination.audience.name,
        "who": actor.get_full_name() or actor.get_username(),
    }
    row = DestinationTestSend(
        destination=destination,
        rendered_text=destination_test_sends.TEST_TEXT.format(**fields),
        rendered_subject=destination_test_sends.TEST_SUBJECT.format(**fields),
        requested_by=actor,
        next_attempt_at=timezone.now(),
    )
    row._history_user = actor
    row._change_reason = "test requested"
    row.save()
    enqueue_on_commit(
        destination_test_sends.DESTINATION_TESTS.send_messages([row.pk]), what="test send"
    )
    return row


def first_run_slack_destination_ensure() -> Destination | None:
    """With ``SLACK_BOT_TOKEN`` in the environment and no Slack channel for the
    responders yet, announce in ``SLACK_INCIDENTS_CHANNEL``: a fresh install
    announces with nothing else set. Returns the destination created, or None."""
    if not settings.SLACK_BOT_TOKEN or not settings.SLACK_INCIDENTS_CHANNEL:
        return None

    if not Audience.objects.filter(slug=RESPONDERS).exists():
        return None
    if announcement_destination() is not None:
        return None
    channel = settings.SLACK_INCIDENTS_CHANNEL.strip()
    destination, _ = destination_create(
        audience_slug=RESPONDERS,
        kind=Destination.Kind.SLACK,
        name=f"Slack {channel}"[:100],
        target=channel,
    )
    return destination


# ---- audiences and destinations ---------------------------------------------------

SLACK_TARGET_RE = re.compile(r"^(#[a-z0-9_-]{1,80}|[CG][A-Z0-9]{6,20})$")


def destination_target_problem(kind: str, target: str) -> str:
    """Why ``target`` cannot reach a ``kind`` destination ("" when it can)."""
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    if kind == Destination.Kind.SLACK and not SLACK_TARGET_RE.match(target):
        return "A Slack channel is #name (lower case) or its id (C…)."
    if kind == Destination.Kind.EMAIL:
        addresses = [a.strip() for a in target.split(",") if a.strip()]
        if not addresses:
            return "Give at least one email address."
        for address in addresses:
            try:
                validate_email(address)
            except ValidationError:
                return f"“{address[:80]}” is not an email address."
    if kind == Destination.Kind.WEBHOOK:
        try:
            validate_url(target, resolve=False)
        except InvalidInput as exc:
            return exc.message
    return ""


@transaction.atomic
def destination_add(
    *, audience_slug: str, kind: str, name: str, target: str, actor
) -> tuple[Destination, str]:
    """Add a destination from Settings; returns it and its webhook secret (shown once)."""
    require_admin(actor, to="change Settings")
    if problem := destination_target_problem(kind, target):
        raise InvalidInput(problem, field="target")
    existing = Destination.objects.filter(
        audience__slug=audience_slug, kind=kind, target=target
    ).first()
    if existing is not None:
        raise InvalidInput(
            f"This audience already reaches {target} (“{existing.name}”).", field="target"
        )
    return destination_create(
        audience_slug=audience_slug, kind=kind, name=name, target=target, actor=actor
    )


@transaction.atomic
def destination_update(*, destination: Destination, name: str, target: str, actor) -> Destination:
    """Rename ``destination`` or point it elsewhere (same audience and kind)."""
    require_admin(actor, to="change Settings")
    if problem := destination_target_problem(destination.kind, target):
        raise InvalidInput(problem, field="target")
    twin = (
        Destination.objects.filter(
            audience=destination.audience, kind=destination.kind, target=target
        )
        .exclude(pk=destination.pk)
        .first()
    )
    if twin is not None:
        raise InvalidInput(
            f"This audience already reaches {target} (“{twin.name}”).", field="target"
        )
    destination.name = name
    destination.target = target
    destination._history_user = actor
    destination._change_reason = "edited in Settings"
    destination.save(update_fields=["name", "target", "updated_at"])
    return destination


@transaction.atomic
def destination_pause(*, destination: Destination, reason: str, actor) -> Destination:
    """Stop sending to ``destination``; its deliveries are written skipped meanwhile."""
    require_admin(actor, to="change Settings")
    reason = reason.strip()
    if not reason:
        raise InvalidInput("Say why it is paused: responders see it.", field="reason")
    destination.enabled = False
    destination.disabled_reason = reason[:1000]
    destination._history_user = actor
    destination._change_reason = "paused in Settings"
    destination.save(update_fields=["enabled", "disabled_reason", "updated_at"])
    return destination


@transaction.atomic
def destination_resume(*, destination: Destination, actor) -> Destination:
    require_admin(actor, to="change Settings")
    destination.enabled = True
    destination.disabled_reason = ""
    destination._history_user = actor
    destination._change_reason = "resumed in Settings"
    destination.save(update_fields=["enabled", "disabled_reason", "updated_at"])
    return destination


@transaction.atomic
def destination_secret_rotate(*, destination: Destination, actor) -> str:
    """A new webhook signing secret (returned once; the history never holds it)."""
    require_admin(actor, to="change Settings")
    if destination.kind != Destination.Kind.WEBHOOK:
        raise InvalidInput("Only webhooks have a signing secret.", field="destination")
    secret = Destination.new_secret()
    destination.secret = secret
    destination._history_user = actor
    destination._change_reason = "webhook secret rotated in Settings"
    destination.save(update_fields=["secret", "updated_at"])
    return secret
