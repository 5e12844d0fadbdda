from django import forms
from django.contrib import admin, messages
from simple_history.admin import SimpleHistoryAdmin

from common.back_office import RecordOnlyAdminMixin
from common.exceptions import InvalidInput
from incidents.visibility import VisibleIncidentsMixin
from notifications import services
from notifications.channels.webhook import validate_url
from notifications.models import (
    Audience,
    ChannelPause,
    CircuitBreaker,
    Delivery,
    Destination,
    NotificationPreference,
    PersonalNotice,
    Route,
    SlackUserLink,
    StatusUpdate,
)


class DestinationInline(admin.TabularInline):
    model = Destination
    extra = 0
    fields = ("kind", "name", "target", "enabled", "disabled_reason")


@admin.register(Audience)
class AudienceAdmin(SimpleHistoryAdmin):
    list_display = ("name", "slug", "active")
    inlines = (DestinationInline,)


class DestinationForm(forms.ModelForm):
    class Meta:
        model = Destination
        fields = ("audience", "kind", "name", "target", "enabled", "disabled_reason")

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("kind") == Destination.Kind.WEBHOOK and cleaned.get("target"):
            try:
                validate_url(cleaned["target"], resolve=False)
            except InvalidInput as exc:
                self.add_error("target", exc.message)
        return cleaned


@admin.register(Destination)
class DestinationAdmin(SimpleHistoryAdmin):
    form = DestinationForm
    list_display = ("name", "audience", "kind", "target", "enabled", "disabled_reason")
    list_filter = ("kind", "enabled", "audience")
    actions = ("rotate_secret",)

    def save_model(self, request, obj, form, change):
        if obj.kind == Destination.Kind.WEBHOOK and not obj.secret:
            obj.secret = Destination.new_secret()
            messages.warning(request, f"Signing secret for {obj.name} (shown once): {obj.secret}")
        obj._history_user = request.user
        super().save_model(request, obj, form, change)

    @admin.action(description="Rotate the webhook signing secret (shown once)")
    def rotate_secret(self, request, queryset):
        for destination in queryset.filter(kind=Destination.Kind.WEBHOOK):
            destination.secret = Destination.new_secret()
            destination._history_user = request.user
            destination._change_reason = "secret rotated"
            destination.save(update_fields=["secret", "updated_at"])
            messages.warning(request, f"New secret for {destination.name}: {destination.secret}")


@admin.register(Route)
class RouteAdmin(SimpleHistoryAdmin):
    list_display = ("name", "audience", "only_public_updates", "active")
    filter_horizontal = ("severities", "services")


@admin.register(StatusUpdate)
class StatusUpdateAdmin(VisibleIncidentsMixin, RecordOnlyAdminMixin, admin.ModelAdmin):
    """Posted on the incident page, the API or Slack (notifications.services)."""

    incident_path = "incident"
    list_display = ("incident", "kind", "public_status", "created_by", "created_at")
    list_filter = ("kind", "public_status")


@admin.register(Delivery)
class DeliveryAdmin(VisibleIncidentsMixin, RecordOnlyAdminMixin, SimpleHistoryAdmin):
    incident_path = "update__incident"
    list_display = ("update", "destination", "status", "attempts", "sent_at", "last_error")
    list_filter = ("status", "destination__kind")
    actions = ("replay",)

    @admin.action(description="Replay failed/dead deliveries")
    def replay(self, request, queryset):
        for delivery in queryset:
            services.delivery_replay(delivery=delivery, actor=request.user)


@admin.register(ChannelPause)
class ChannelPauseAdmin(RecordOnlyAdminMixin, admin.ModelAdmin):
    """Paused by the outbox when a channel's credentials are refused; resumed here."""

    list_display = ("kind", "reason", "paused_at")
    actions = ("resume",)

    @admin.action(description="Resume (credentials fixed) and re-send what was held")
    def resume(self, request, queryset):
        for pause in queryset:
            held = services.channel_resume(kind=pause.kind, actor=request.user)
            messages.info(request, f"{pause.kind}: resumed, {held} deliveries re-enqueued")


@admin.register(CircuitBreaker)
class CircuitBreakerAdmin(RecordOnlyAdminMixin, admin.ModelAdmin):
    """The outbox's own state: opened and closed by deliveries' outcomes."""

    list_display = ("key", "consecutive_failures", "opened_until", "last_failure")


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(SimpleHistoryAdmin):
    """People change their own on /me/notifications/; here for support, with history."""

    list_display = ("user", "kind", "channel", "updated_at")
    list_filter = ("kind", "channel")
    search_fields = ("user__username",)
    raw_id_fields = ("user",)


@admin.register(PersonalNotice)
class PersonalNoticeAdmin(VisibleIncidentsMixin, RecordOnlyAdminMixin, admin.ModelAdmin):
    """The ledger of personal notices (dedupe and daily cap), read-only."""

    list_display = ("created_at", "user", "kind", "about", "outcome", "channel", "incident")
    list_filter = ("outcome", "kind", "channel", "day")
    search_fields = ("user__username", "about")
    list_select_related = ("user", "incident")

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(SlackUserLink)
class SlackUserLinkAdmin(RecordOnlyAdminMixin, admin.ModelAdmin):
    """Slack ids found by email in the worker. Delete a row to have it looked up again."""

    list_display = ("user", "email", "slack_user_id", "looked_up_at")
    search_fields = ("user__username", "email", "slack_user_id")
