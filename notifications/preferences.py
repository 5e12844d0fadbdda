"""Per-person notification preferences: which channel (email, Slack DM, none) each
kind of personal notice takes. Reads and the one write (with history and the
acting user) live here; ``notifications.personal`` asks :func:`channel_for`.
"""

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from common.exceptions import InvalidInput, NotAllowed
from common.roles import is_admin
from incidents.visibility import incidents_visible_to
from notifications.models import (
    NoticeChannel,
    NoticeKind,
    NotificationPreference,
    PersonalNotice,
    SlackUserLink,
)
from notifications.slack import credentials as slack_credentials

# What a person gets before choosing. Slack DM where it is urgent (a role handed to
# them mid-incident, an update they owe now); email for what can wait a few hours.
DEFAULT_CHANNELS: dict[str, str] = {
    NoticeKind.ROLE_ASSIGNED: NoticeChannel.SLACK_DM,
    NoticeKind.REVIEW_REQUESTED: NoticeChannel.EMAIL,
    NoticeKind.ACTION_ITEM_ASSIGNED: NoticeChannel.EMAIL,
    NoticeKind.ACTION_ITEM_DUE: NoticeChannel.EMAIL,
    NoticeKind.ACTION_ITEM_OVERDUE: NoticeChannel.EMAIL,
    NoticeKind.UPDATE_DUE: NoticeChannel.SLACK_DM,
}


def slack_configured() -> bool:
    return bool(slack_credentials.bot_token())


def preferences_for(user) -> dict[str, str]:
    """Kind → the channel ``user`` chose, or the default (one query)."""
    chosen = dict(NotificationPreference.objects.filter(user=user).values_list("kind", "channel"))
    return {kind: chosen.get(kind, DEFAULT_CHANNELS[kind]) for kind in NoticeKind.values}


def channel_for(user, kind: str) -> str:
    """The channel a notice of ``kind`` to ``user`` takes. A Slack DM while Slack is
    not configured (no ``SLACK_BOT_TOKEN``) goes by email instead."""
    row = NotificationPreference.objects.filter(user=user, kind=kind).first()
    channel = row.channel if row else DEFAULT_CHANNELS[kind]
    if channel == NoticeChannel.SLACK_DM and not slack_configured():
        return NoticeChannel.EMAIL
    return channel


@dataclass(frozen=True)
class PreferenceRow:
    kind: str
    label: str
    channel: str
    default: str


def preference_rows(user) -> list[PreferenceRow]:
    """The page's rows: every kind with its current and default channel."""
    current = preferences_for(user)
    return [
        PreferenceRow(kind=kind, label=label, channel=current[kind], default=DEFAULT_CHANNELS[kind])
        for kind, label in NoticeKind.choices
    ]


def slack_link_for(user) -> SlackUserLink | None:
    return SlackUserLink.objects.filter(user=user).first()


RECENT_NOTICES = 20


def preferences_page(user) -> dict:
    """What /me/notifications/ shows beside the form: the defaults, Slack's state, the
    person's latest notices and how many today's daily cap held back."""
    notices = list(
        PersonalNotice.objects.filter(user=user).select_related("update")[:RECENT_NOTICES]
    )
    # A notice's wording names its incident's things: shown only while the person may
    # still see that incident (a private one they left shows its kind alone).
    visible = set(
        incidents_visible_to(user)
        .filter(pk__in={n.incident_id for n in notices if n.incident_id})
        .values_list("pk", flat=True)
    )
    capped_today = PersonalNotice.objects.filter(
        user=user, day=timezone.localdate(), outcome=PersonalNotice.Outcome.CAPPED
    ).count()
    return {
        "defaults": DEFAULT_CHANNELS,
        "slack_configured": slack_configured(),
        "slack_link": slack_link_for(user),
        "notices": notices,
        "visible_incidents": visible,
        "capped_today": capped_today,
        "daily_cap": settings.KEEL_PERSONAL_NOTICES_DAILY_CAP,
    }


@transaction.atomic
def notification_preferences_set(*, user, channels: dict[str, str], actor) -> list[str]:
    """Store ``user``'s channel per kind (only the kinds given; a kind set back to its
    default keeps its row, so the history shows the choice). Each changed row gets a
    history entry with ``actor``. Returns the kinds that changed.

    Bad input names its field: an unknown kind or channel is ``InvalidInput`` with the
    kind as the field."""
    if actor is None or not actor.is_authenticated or (actor.pk != user.pk and not is_admin(actor)):
        raise NotAllowed("You can change only your own notification preferences.")
    labels = dict(NoticeKind.choices)
    for kind, channel in channels.items():
        if kind not in labels:
            raise InvalidInput(f"Unknown kind of notice '{str(kind)[:50]}'.", field=str(kind)[:50])
        if channel not in NoticeChannel.values:
            choices = ", ".join(label for _, label in NoticeChannel.choices)
            raise InvalidInput(
                f"{labels[kind]}: choose one of {choices}.",
                field=kind,
            )
    existing = {
        row.kind: row
        for row in NotificationPreference.objects.select_for_update().filter(
            user=user, kind__in=list(channels)
        )
    }
    changed = []
    for kind, channel in channels.items():
        row = existing.get(kind)
        if row is None:
            if channel == DEFAULT_CHANNELS[kind]:
                continue  # nothing chosen: the default stays the default
            row = NotificationPreference(user=user, kind=kind)
        elif row.channel == channel:
            continue
        row.channel = channel
        row._history_user = actor
        row._change_reason = f"{labels[kind]}: {NoticeChannel(channel).label}"[:100]
        row.save()
        changed.append(kind)
    return changed
