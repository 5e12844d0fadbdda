"""Back office for the settings area's rows: read-only (Settings writes them through
its services), and never a credential — stored ones are encrypted and left out."""

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from common.back_office import RecordOnlyAdminMixin
from workspace.models import DestinationTestSend, EmailSettings, SlackCheck, SlackSettings

ENCRYPTED = (
    "bot_token_encrypted",
    "signing_secret_encrypted",
    "token_encrypted",
    "password_encrypted",
)


@admin.register(SlackSettings)
class SlackSettingsAdmin(RecordOnlyAdminMixin, SimpleHistoryAdmin):
    list_display = ("team", "updated_at")

    def get_exclude(self, request, obj=None):
        return [f.name for f in SlackSettings._meta.fields if f.name in ENCRYPTED]


@admin.register(EmailSettings)
class EmailSettingsAdmin(RecordOnlyAdminMixin, SimpleHistoryAdmin):
    list_display = ("host", "port", "security", "from_email", "updated_at")

    def get_exclude(self, request, obj=None):
        return [f.name for f in EmailSettings._meta.fields if f.name in ENCRYPTED]


@admin.register(SlackCheck)
class SlackCheckAdmin(RecordOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "status", "team", "error", "requested_by")
    list_filter = ("status",)

    def get_exclude(self, request, obj=None):
        return [f.name for f in SlackCheck._meta.fields if f.name in ENCRYPTED]


@admin.register(DestinationTestSend)
class DestinationTestSendAdmin(RecordOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "destination", "status", "attempts", "last_error")
    list_filter = ("status",)
