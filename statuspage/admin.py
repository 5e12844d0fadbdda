"""Back office for the status page. Status changes made here go through the
services, so the uptime log and the published snapshot follow."""

import uuid

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.http import Http404
from simple_history.admin import SimpleHistoryAdmin

from common.back_office import InAppAdminMixin, RecordOnlyAdminMixin
from common.exceptions import ApplicationError
from incidents.visibility import VisibleIncidentsMixin
from statuspage import services, subscriber_outbox
from statuspage.models import (
    Component,
    ComponentGroup,
    ComponentStatusChange,
    MaintenanceUpdate,
    PublicIncident,
    PublicIncidentUpdate,
    ScheduledMaintenance,
    SupportBrief,
)
from statuspage.subscriber_models import Subscriber, SubscriberNotification


@admin.register(ComponentGroup)
class ComponentGroupAdmin(SimpleHistoryAdmin):
    list_display = ("name", "position", "public_id")
    readonly_fields = ("public_id",)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        services.snapshot_request()


@admin.register(Component)
class ComponentAdmin(SimpleHistoryAdmin):
    list_display = ("name", "slug", "group", "position", "status", "override_status", "showcase")
    list_filter = ("status", "group")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    filter_horizontal = ("services",)
    # The displayed status follows incidents and maintenances; a person sets an
    # override instead, which the page shows as such until it is cleared.
    readonly_fields = ("public_id", "status")

    def save_model(self, request, obj, form, change):
        override, reason = obj.override_status, obj.override_reason
        if change:
            stored = Component.objects.get(pk=obj.pk)
            obj.override_status, obj.override_reason = (
                stored.override_status,
                stored.override_reason,
            )
        super().save_model(request, obj, form, change)
        services.component_override_set(
            component=obj, status=override, reason=reason, actor=request.user
        )


class PublicIncidentUpdateInline(admin.TabularInline):
    model = PublicIncidentUpdate
    extra = 0
    fields = ("display_at", "status", "body", "affected_components")
    readonly_fields = ("affected_components",)


@admin.register(PublicIncident)
class PublicIncidentAdmin(SimpleHistoryAdmin):
    """Created by publishing only; here the wording can be corrected."""

    list_display = ("name", "status", "impact", "started_at", "resolved_at", "public_id")
    list_filter = ("status", "impact")
    search_fields = ("name", "public_id")
    readonly_fields = ("public_id", "incident", "started_at", "monitoring_at", "resolved_at")
    filter_horizontal = ("components",)
    inlines = [PublicIncidentUpdateInline]

    def has_add_permission(self, request):
        return False

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        services.snapshot_request()


class MaintenanceUpdateInline(RecordOnlyAdminMixin, admin.TabularInline):
    model = MaintenanceUpdate
    extra = 0
    fields = ("display_at", "status", "body", "deliver_notifications", "created_by")
    readonly_fields = fields
    can_delete = False


@admin.register(ScheduledMaintenance)
class ScheduledMaintenanceAdmin(InAppAdminMixin, SimpleHistoryAdmin):
    """Read-only: maintenance is scheduled, updated, started, completed and cancelled
    on its pages in the app (/maintenance/), whose every write goes through
    ``statuspage.maintenance`` (update rows, component effects, subscribers, audit).
    A save here would bypass all of that."""

    in_app_url_name = "maintenance:detail"
    list_display = ("name", "status", "scheduled_for", "scheduled_until", "auto_start")
    list_filter = ("status",)
    search_fields = ("name", "public_id")
    inlines = [MaintenanceUpdateInline]

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ComponentStatusChange)
class ComponentStatusChangeAdmin(RecordOnlyAdminMixin, admin.ModelAdmin):
    """The uptime log is append-only: read it here, never edit it."""

    list_display = ("component", "previous_status", "status", "changed_at")
    list_filter = ("component", "status")
    date_hierarchy = "changed_at"

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Subscriber)
class SubscriberAdmin(SimpleHistoryAdmin):
    list_display = ("__str__", "kind", "confirmed_at", "unsubscribed_at", "created_at")
    list_filter = ("kind",)
    search_fields = ("email", "endpoint", "public_id")
    readonly_fields = ("public_id", "secret", "confirmed_at", "unsubscribed_at")
    filter_horizontal = ("components",)


@admin.register(SubscriberNotification)
class SubscriberNotificationAdmin(RecordOnlyAdminMixin, SimpleHistoryAdmin):
    """Where ops see the subscribers' side of the delivery engine: every message
    with its status, attempts, next try and reason, and Replay (audited)."""

    list_display = (
        "event",
        "subscriber",
        "status",
        "attempts",
        "next_attempt_at",
        "sent_at",
        "last_error",
        "created_at",
    )
    list_filter = ("status", "subscriber__kind")
    search_fields = ("event", "subscriber__email", "subscriber__endpoint", "last_error")
    list_select_related = ("subscriber",)
    date_hierarchy = "created_at"
    actions = ("replay",)

    def history_view(self, request, object_id, extra_context=None):
        # simple-history filters its rows by the raw id: a malformed UUID is a 404.
        try:
            uuid.UUID(unquote(object_id))
        except ValueError:
            raise Http404 from None
        return super().history_view(request, object_id, extra_context)

    @admin.action(description="Replay failed/dead notifications")
    def replay(self, request, queryset):
        replayed = 0
        for notification in queryset.select_related("subscriber"):
            try:
                subscriber_outbox.subscriber_notification_replay(
                    notification=notification, actor=request.user
                )
            except ApplicationError as exc:
                messages.warning(request, f"{notification}: {exc.message}")
            else:
                replayed += 1
        if replayed:
            messages.info(request, f"{replayed} notification(s) replayed.")


@admin.register(SupportBrief)
class SupportBriefAdmin(VisibleIncidentsMixin, SimpleHistoryAdmin):
    incident_path = "incident"
    list_display = ("incident", "updated_at", "updated_by")
    raw_id_fields = ("incident",)
    readonly_fields = ("updated_by",)

    def save_model(self, request, obj, form, change):
        obj.updated_by = request.user
        super().save_model(request, obj, form, change)
