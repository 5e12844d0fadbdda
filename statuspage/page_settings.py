"""The public page's own settings: its name, logo and time zone (one row).

Edited on Settings → Status page (``statuspage.catalog.page_settings_update``); read
by the snapshot renderer. Without a row the page uses ``STATUSPAGE_NAME`` and UTC.

The logo is an uploaded PNG, JPEG or WebP of at most ``LOGO_MAX_BYTES``, kept in
this row and published inside the snapshot as ``/status/logo.<ext>``: it is served
with the rest of the page (by Keel or nginx), needs no media volume and no CDN, and
a reader's browser never fetches anything from a third-party host. SVG is refused
(it can carry script)."""

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords

from common.models import TimeStampedModel
from common.validators import single_line

PAGE_NAME_MAX = 100
TIME_ZONE_MAX = 64
LOGO_MAX_BYTES = 192 * 1024
# The settings form takes uploads this big (over KEEL_MAX_BODY_BYTES): a photo picked
# by mistake is refused on the form, the field named and the limit said, not by a 413.
LOGO_UPLOAD_MAX_BYTES = 16 * 1024 * 1024
LOGO_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
DEFAULT_TIME_ZONE = "UTC"


class PageSettings(TimeStampedModel):
    name = models.CharField(max_length=PAGE_NAME_MAX, validators=[single_line])
    time_zone = models.CharField(max_length=TIME_ZONE_MAX, default=DEFAULT_TIME_ZONE)
    logo = models.BinaryField(max_length=LOGO_MAX_BYTES, blank=True, default=b"", editable=False)
    logo_type = models.CharField(
        max_length=8, blank=True, choices=[(k, k) for k in LOGO_TYPES], help_text="Empty: no logo."
    )

    # The image bytes stay out of the history rows; its type says when it changed.
    history = HistoricalRecords(excluded_fields=["logo"])

    class Meta:
        verbose_name = "status page settings"
        verbose_name_plural = "status page settings"

    def __str__(self) -> str:
        return self.name

    @property
    def logo_path(self) -> str:
        """The logo's path in the snapshot, or "" without a logo."""
        return f"status/logo.{self.logo_type}" if self.logo_type else ""


def page_settings_current() -> PageSettings:
    """The saved row, or (never written on read) the defaults from settings."""
    return PageSettings.objects.order_by("pk").first() or PageSettings(
        name=settings.STATUSPAGE_NAME, time_zone=DEFAULT_TIME_ZONE
    )


def page_name() -> str:
    """The public page's name (Settings → Status page, else ``STATUSPAGE_NAME``)."""
    return page_settings_current().name
