"""Back office for every incident model, with django-simple-history's audit view.

Incidents and what hangs off them are read-only here: declaring, editing, roles, stage
moves and decisions go through ``incidents.services`` (the UI, API, Slack), which write
the timeline event, the role assignment, the audit row and the announcement a raw save
would skip. The incident's admin page links to its page in the app.
Private incidents are limited to participants and admins, as everywhere.
"""

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from common.back_office import InAppAdminMixin, RecordOnlyAdminMixin
from incidents.intake.models import AlertGroup, AlertPayload, AlertSource
from incidents.models import (
    Change,
    Decision,
    Incident,
    RoleAssignment,
    Service,
    Severity,
    Team,
    TimelineEvent,
)
from incidents.visibility import VisibleIncidentsMixin


@admin.register(Team)
class TeamAdmin(SimpleHistoryAdmin):
    list_display = ("name", "slug")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    filter_horizontal = ("members",)


@admin.register(Service)
class ServiceAdmin(SimpleHistoryAdmin):
    list_display = ("name", "slug", "owner_team", "tier")
    list_filter = ("tier", "owner_team")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}


@admin.register(Severity)
class SeverityAdmin(SimpleHistoryAdmin):
    list_display = ("code", "name", "rank", "postmortem_required", "update_interval_minutes")
    ordering = ("rank",)


@admin.register(Change)
class ChangeAdmin(SimpleHistoryAdmin):
    list_display = ("title", "service", "reference", "deployed_at", "deployed_by")
    list_filter = ("service",)
    search_fields = ("title", "reference")
    date_hierarchy = "deployed_at"


class TimelineEventInline(RecordOnlyAdminMixin, admin.TabularInline):
    model = TimelineEvent
    extra = 0
    can_delete = False
    fields = ("occurred_at", "kind", "actor", "source", "text")


class DecisionInline(RecordOnlyAdminMixin, admin.StackedInline):
    model = Decision
    extra = 0
    can_delete = False
    fields = ("decided_at", "decided_by", "options", "chosen", "rationale", "information")


class RoleAssignmentInline(RecordOnlyAdminMixin, admin.TabularInline):
    model = RoleAssignment
    extra = 0
    can_delete = False
    fields = ("role", "user", "started_at", "ended_at", "assigned_by")


@admin.register(Incident)
class IncidentAdmin(VisibleIncidentsMixin, InAppAdminMixin, SimpleHistoryAdmin):
    """Declared on /incidents/new/ (or the API, Slack, an alert) and worked on its page."""

    incident_path = "pk"
    in_app_url_name = "incidents:detail"
    list_display = ("id", "title", "severity", "stage", "private", "detected_at", "closed_at")
    list_filter = ("stage", "severity", "private", "detection_source", "category")
    search_fields = ("title", "summary")
    date_hierarchy = "detected_at"
    inlines = (DecisionInline, RoleAssignmentInline, TimelineEventInline)
    list_select_related = ("severity",)


@admin.register(TimelineEvent)
class TimelineEventAdmin(VisibleIncidentsMixin, RecordOnlyAdminMixin, admin.ModelAdmin):
    """Append-only: events are read here, never edited."""

    list_display = ("incident", "kind", "occurred_at", "actor", "source")
    list_filter = ("kind", "source")
    search_fields = ("text",)
    list_select_related = ("incident", "actor")

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Decision)
class DecisionAdmin(VisibleIncidentsMixin, RecordOnlyAdminMixin, SimpleHistoryAdmin):
    """Recorded in the judge stage (``incidents.services.decision_record``)."""

    list_display = ("incident", "chosen", "decided_by", "decided_at")
    search_fields = ("chosen", "rationale")
    list_select_related = ("incident", "decided_by")


@admin.register(RoleAssignment)
class RoleAssignmentAdmin(VisibleIncidentsMixin, RecordOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("incident", "role", "user", "started_at", "ended_at")
    list_filter = ("role",)
    list_select_related = ("incident", "user")


@admin.register(AlertGroup)
class AlertGroupAdmin(VisibleIncidentsMixin, RecordOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("group_key", "source", "external_url", "incident", "last_status", "flaps")
    list_filter = ("last_status", "source")
    search_fields = ("group_key", "external_url")


@admin.register(AlertSource)
class AlertSourceAdmin(RecordOnlyAdminMixin, admin.ModelAdmin):
    """Created, rotated and given rules at /settings/alert-sources/; the key is never shown."""

    list_display = ("name", "kind", "is_default", "key_prefix", "key_rotated_at")
    list_filter = ("kind",)
    exclude = ("key_hash",)


@admin.register(AlertPayload)
class AlertPayloadAdmin(RecordOnlyAdminMixin, admin.ModelAdmin):
    """The last notifications each source received, with their outcome."""

    list_display = ("received_at", "source", "outcome")
    list_filter = ("source",)
