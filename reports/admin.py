"""Back office for the weekly digest: read-only (the beat writes it, the engine sends it)."""

from django.contrib import admin

from common.back_office import RecordOnlyAdminMixin
from reports.models import DigestDelivery, WeeklyDigest


@admin.register(WeeklyDigest)
class WeeklyDigestAdmin(RecordOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("week_start", "audience_slug", "subject", "created_at")


@admin.register(DigestDelivery)
class DigestDeliveryAdmin(RecordOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("digest", "destination", "status", "attempts", "sent_at", "last_error")
    list_filter = ("status",)
