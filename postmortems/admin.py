"""Back office for postmortems, with simple-history's audit view.

Read-only, each page linking to the app where it is changed: templates are versioned
(each edit at /postmortems/templates/ writes a new version), postmortem content and
status change through the editor and the API (services: versions, approvals withdrawn
on a change, the timeline), action items and remediations with their postmortem.
"""

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from common.back_office import InAppAdminMixin, RecordOnlyAdminMixin
from incidents.visibility import VisibleIncidentsMixin
from postmortems.models import (
    ActionItem,
    Postmortem,
    PostmortemTemplate,
    RemediationOption,
    Review,
    TemplateSection,
)


class TemplateSectionInline(RecordOnlyAdminMixin, admin.TabularInline):
    model = TemplateSection
    extra = 0
    can_delete = False
    fields = ("position", "key", "title", "kind", "help_text")


@admin.register(PostmortemTemplate)
class PostmortemTemplateAdmin(InAppAdminMixin, admin.ModelAdmin):
    in_app_url_name = "postmortems:template_edit"
    list_display = ("name", "version", "team", "is_current", "is_default")
    list_filter = ("is_current", "team")
    inlines = [TemplateSectionInline]


@admin.register(Postmortem)
class PostmortemAdmin(VisibleIncidentsMixin, InAppAdminMixin, SimpleHistoryAdmin):
    incident_path = "incident"
    in_app_url_name = "postmortems:detail"
    list_display = ("title", "incident", "status", "version", "published_at")
    list_filter = ("status",)
    search_fields = ("title",)
    exclude = ("search_document",)


@admin.register(ActionItem)
class ActionItemAdmin(VisibleIncidentsMixin, RecordOnlyAdminMixin, SimpleHistoryAdmin):
    incident_path = "postmortem__incident"
    list_display = ("title", "owner", "team", "due_date", "priority", "status")
    list_filter = ("status", "term", "kind", "priority", "team")
    search_fields = ("title",)


@admin.register(RemediationOption)
class RemediationOptionAdmin(VisibleIncidentsMixin, RecordOnlyAdminMixin, SimpleHistoryAdmin):
    incident_path = "postmortem__incident"
    list_display = ("title", "postmortem", "chosen")


@admin.register(Review)
class ReviewAdmin(VisibleIncidentsMixin, RecordOnlyAdminMixin, admin.ModelAdmin):
    incident_path = "postmortem__incident"
    list_display = ("postmortem", "reviewer", "verdict", "created_at")
