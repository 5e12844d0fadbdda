"""Back office for postmortems, with simple-history's audit view.

Templates are versioned: edit them at /postmortems/templates/ (each edit writes a
new version), so their sections are read-only here. Postmortem content and status
change through the editor and the API (services), not raw edits.
"""

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from incidents.admin import VisibleIncidentsMixin
from postmortems.models import (
    ActionItem,
    Postmortem,
    PostmortemTemplate,
    RemediationOption,
    Review,
    TemplateSection,
)


class TemplateSectionInline(admin.TabularInline):
    model = TemplateSection
    extra = 0
    can_delete = False
    readonly_fields = ("position", "key", "title", "kind", "help_text")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(PostmortemTemplate)
class PostmortemTemplateAdmin(admin.ModelAdmin):
    list_display = ("name", "version", "team", "is_current", "is_default")
    list_filter = ("is_current", "team")
    readonly_fields = ("family", "version", "is_current", "created_by")
    inlines = [TemplateSectionInline]


@admin.register(Postmortem)
class PostmortemAdmin(VisibleIncidentsMixin, SimpleHistoryAdmin):
    incident_path = "incident"
    list_display = ("title", "incident", "status", "version", "published_at")
    list_filter = ("status",)
    search_fields = ("title",)
    readonly_fields = (
        "incident",
        "template",
        "status",
        "version",
        "search_document",
        "created_by",
        "last_saved_by",
        "last_saved_at",
        "submitted_at",
        "published_at",
        "published_by",
        "retro_completed_at",
    )


@admin.register(ActionItem)
class ActionItemAdmin(VisibleIncidentsMixin, SimpleHistoryAdmin):
    incident_path = "postmortem__incident"
    list_display = ("title", "owner", "team", "due_date", "priority", "status")
    list_filter = ("status", "term", "kind", "priority", "team")
    search_fields = ("title",)
    readonly_fields = ("postmortem", "completed_at", "created_by")


@admin.register(RemediationOption)
class RemediationOptionAdmin(VisibleIncidentsMixin, SimpleHistoryAdmin):
    incident_path = "postmortem__incident"
    list_display = ("title", "postmortem", "chosen")
    readonly_fields = ("postmortem", "decision")


@admin.register(Review)
class ReviewAdmin(VisibleIncidentsMixin, admin.ModelAdmin):
    incident_path = "postmortem__incident"
    list_display = ("postmortem", "reviewer", "verdict", "created_at")
    readonly_fields = ("postmortem", "reviewer", "verdict", "comment", "postmortem_version")

    def has_add_permission(self, request):
        # Rows of this kind are written only by their service (every field is read-only
        # here): an add page could only fail.
        return False
