"""The back office's two rules, shared by every app's admin: records only a service
writes are read there, never added or changed; domain objects whose writes are services
are read there and changed in the app (a link to their page)."""

from django.urls import NoReverseMatch, reverse


class RecordOnlyAdminMixin:
    """For rows only a service writes (records, ledgers, internal state): the back office
    reads them, with neither an *Add* page nor a form that saves. Actions a class declares
    (replay, resume) stay available, each calling its service."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class InAppAdminMixin(RecordOnlyAdminMixin):
    """For domain objects whose every write is a service with its timeline, audit and
    announcements (incidents, maintenances): read-only here, with a link to the page in
    the app where they are changed. ``in_app_url_name`` is reversed with the object's pk."""

    in_app_url_name: str
    change_form_template = "admin/in_app_change_form.html"

    def change_view(self, request, object_id, form_url="", extra_context=None):
        try:
            in_app_url = reverse(self.in_app_url_name, args=[object_id])
        except NoReverseMatch:  # not an id of this model: the admin answers it as missing
            in_app_url = None
        extra_context = {**(extra_context or {}), "in_app_url": in_app_url}
        return super().change_view(request, object_id, form_url, extra_context)
