"""Per-user preferences: reads and the one write (with its history row)."""

import zoneinfo
from functools import lru_cache

from django.db import transaction

from common.exceptions import InvalidInput
from common.models import UserProfile

DEFAULT_TIME_ZONE = "UTC"


@lru_cache(maxsize=1)
def available_time_zones() -> frozenset[str]:
    """Every IANA name this host's tz database (or the tzdata package) knows."""
    return frozenset(zoneinfo.available_timezones())


def time_zone_choices() -> list[tuple[str, str]]:
    """UTC first, then the zones by name: the preferences page's select."""
    names = sorted(available_time_zones() - {DEFAULT_TIME_ZONE})
    return [
        (DEFAULT_TIME_ZONE, DEFAULT_TIME_ZONE),
        *((name, name.replace("_", " ")) for name in names),
    ]


def user_time_zone(user) -> str:
    """The zone ``user``'s pages show times in; UTC for a user without a profile.

    No query when the user was loaded by ``common.auth_backends.ProfileModelBackend``
    (the profile is joined to the session's user query)."""
    if user is None or not user.is_authenticated:
        return DEFAULT_TIME_ZONE
    try:
        return user.profile.time_zone
    except UserProfile.DoesNotExist:
        return DEFAULT_TIME_ZONE


@transaction.atomic
def user_profile_update(*, user, time_zone: str, actor) -> UserProfile:
    """Set ``user``'s display time zone; writes the profile (created on first use) and
    its history row, with ``actor`` as the history user. An unknown zone name is an
    ``InvalidInput`` naming the field."""
    time_zone = (time_zone or "").strip()
    if time_zone not in available_time_zones():
        raise InvalidInput(
            f"Time zone: '{time_zone[:64]}' is not a time zone name (e.g. Europe/Paris).",
            field="time_zone",
        )
    profile = UserProfile.objects.select_for_update().filter(user=user).first()
    if profile is None:
        profile = UserProfile(user=user)
    elif profile.time_zone == time_zone:
        return profile
    profile.time_zone = time_zone
    profile._history_user = actor
    profile._change_reason = f"Time zone set to {time_zone}"
    profile.save()
    # The session's user carries the joined profile: keep it current for this request.
    user.profile = profile
    return profile
