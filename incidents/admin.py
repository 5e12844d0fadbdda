"""Back office for every incident model, with django-simple-history's audit view.

The lifecycle fields are read-only here: stage moves go through
``incidents.services.incident_move`` (the UI, API, Slack), never a raw edit.
Private incidents are limited to participants and admins, as everywhere.
"""

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import ValidationError
from django.http import Http404
from simple_history.admin import SimpleHistoryAdmin

from incidents import lifecycle, selectors
from incidents.models import (
    AlertGroup,
    Change,
    Decision,
    Incident,
    RoleAssignment,
    Service,
    Severity,
    Team,
    TimelineEvent,
)

LIFECYCLE_FIELDS = (
    "stage",
    *(field for pair in lifecycle.STAGE_FIELDS.values() for field in pair),
    "closed_at",
    "closed_by",
    "reopened_count",
    "created_by",
)


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


class VisibleIncidentsMixin:
    """Limit rows to incidents the signed-in admin user may see."""

    incident_path = "incident"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        visible = selectors.incidents_visible_to(request.user).values("pk")
        return queryset.filter(**{f"{self.incident_path}__in": visible})

    def _require_visible(self, request, object_id) -> None:
        # simple-history falls back to the latest historical row when get_queryset
        # hides an object, which would leak private incidents through /history/.
        try:
            visible = self.get_queryset(request).filter(pk=unquote(object_id)).exists()
        except (ValidationError, ValueError):  # not an id of this model (e.g. a bad UUID)
            visible = False
        if not visible:
            raise Http404

    def history_view(self, request, object_id, extra_context=None):
        self._require_visible(request, object_id)
        return super().history_view(request, object_id, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        self._require_visible(request, object_id)
        return super().history_form_view(request, object_id, version_id, extra_context)


class TimelineEventInline(admin.TabularInline):
    model = TimelineEvent
    extra = 0
    can_delete = False
    fields = ("occurred_at", "kind", "actor", "source", "text")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


class DecisionInline(admin.StackedInline):
    model = Decision
    extra = 0
    fields = ("decided_at", "decided_by", "options", "chosen", "rationale", "information")
    readonly_fields = ("decided_at", "decided_by")


class RoleAssignmentInline(admin.TabularInline):
    model = RoleAssignment
    extra = 0
    can_delete = False
    fields = ("role", "user", "started_at", "ended_at", "assigned_by")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Incident)
class IncidentAdmin(VisibleIncidentsMixin, SimpleHistoryAdmin):
    incident_path = "pk"
    list_display = ("id", "title", "severity", "stage", "private", "detected_at", "closed_at")
    list_filter = ("stage", "severity", "private", "detection_source", "category")
    search_fields = ("title", "summary")
    date_hierarchy = "detected_at"
    readonly_fields = LIFECYCLE_FIELDS
    autocomplete_fields = ("commander", "communications_lead", "scribe")
    filter_horizontal = ("services", "responders")
    inlines = (DecisionInline, RoleAssignmentInline, TimelineEventInline)
    list_select_related = ("severity",)

    def save_model(self, request, obj, form, change):
        obj._history_user = request.user
        obj._change_reason = "edited in admin"
        super().save_model(request, obj, form, change)


@admin.register(TimelineEvent)
class TimelineEventAdmin(VisibleIncidentsMixin, admin.ModelAdmin):
    """Append-only: events are read here, never edited."""

    list_display = ("incident", "kind", "occurred_at", "actor", "source")
    list_filter = ("kind", "source")
    search_fields = ("text",)
    list_select_related = ("incident", "actor")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Decision)
class DecisionAdmin(VisibleIncidentsMixin, SimpleHistoryAdmin):
    list_display = ("incident", "chosen", "decided_by", "decided_at")
    search_fields = ("chosen", "rationale")
    list_select_related = ("incident", "decided_by")
    readonly_fields = ("decided_at", "decided_by")


@admin.register(RoleAssignment)
class RoleAssignmentAdmin(VisibleIncidentsMixin, admin.ModelAdmin):
    list_display = ("incident", "role", "user", "started_at", "ended_at")
    list_filter = ("role",)
    list_select_related = ("incident", "user")

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(AlertGroup)
class AlertGroupAdmin(VisibleIncidentsMixin, admin.ModelAdmin):
    list_display = ("group_key", "source", "external_url", "incident", "last_status", "flaps")
    list_filter = ("last_status", "source")
    search_fields = ("group_key", "external_url")
    readonly_fields = (
        "source",
        "external_url",
        "group_key",
        "key_hash",
        "incident",
        "fingerprints",
        "last_status",
        "last_received_at",
        "resolved_since",
        "flaps",
    )

    def has_add_permission(self, request):
        # Rows of this kind are written only by their service (every field is read-only
        # here): an add page could only fail.
        return False
