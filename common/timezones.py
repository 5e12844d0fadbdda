"""Showing times in the reader's time zone: the middleware and the one formatter.

Stored times, exports and the API stay UTC; only web pages for a signed-in user are
rendered in the zone of their profile (``/me/preferences/``). The public status page
keeps UTC (with the visitor's local time added by its script)."""

import zoneinfo
from datetime import UTC, datetime

from django.utils import timezone
from django.utils.html import format_html

from common.profiles import user_time_zone

# Paths whose output is UTC whoever asks: the API (DRF renders datetimes in the active
# zone) and the public status page (also served from a pre-rendered snapshot).
UTC_PATH_PREFIXES = ("/api/", "/status", "/integrations/", "/healthz", "/readyz", "/metrics")


class UserTimeZoneMiddleware:
    """Activate the signed-in user's time zone for the request (after authentication)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        name = "UTC"
        if not request.path_info.startswith(UTC_PATH_PREFIXES):
            name = user_time_zone(getattr(request, "user", None))
        try:
            zone = None if name == "UTC" else zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            zone = None  # a zone the host's tz database no longer has: show UTC, not a 500
        if zone is None:
            timezone.deactivate()
            return self.get_response(request)
        # Rendering happens inside get_response; a streaming body produced later (a
        # generator) would render in UTC, so live fragments should render before return.
        timezone.activate(zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


def current_zone_name() -> str:
    """The active zone's name, as form labels say it ("Asia/Seoul", "UTC")."""
    return timezone.get_current_timezone_name()


def time_element(at: datetime | None, *, seconds: bool = False) -> str:
    """``<time>`` for ``at`` in the active zone, its UTC value on hover; "—" for None.

    The machine-readable ``datetime`` attribute is always UTC."""
    if not at:
        return "—"
    if not isinstance(at, datetime):
        return format_html("{}", at)
    if timezone.is_naive(at):
        at = at.replace(tzinfo=UTC)
    pattern = "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M"
    utc = at.astimezone(UTC)
    local = timezone.localtime(at)
    if current_zone_name() == "UTC":
        return format_html(
            '<time datetime="{}">{}<span class="tz"> UTC</span></time>',
            utc.isoformat(),
            utc.strftime(pattern),
        )
    return format_html(
        '<time datetime="{}" title="{} UTC">{}<span class="tz"> {}</span></time>',
        utc.isoformat(),
        utc.strftime(pattern),
        local.strftime(pattern),
        local.tzname() or current_zone_name(),
    )


def in_zone_label(label: str) -> str:
    """A datetime field's label naming the zone its input is read in (the active one:
    Django's form fields read and show datetimes in the current time zone)."""
    return f"{label} ({current_zone_name()})"


def local_format(at: datetime, pattern: str = "%Y-%m-%d %H:%M") -> str:
    """``at`` in the active zone, as plain text with the zone's abbreviation."""
    local = timezone.localtime(at)
    return f"{local.strftime(pattern)} {local.tzname() or current_zone_name()}"
