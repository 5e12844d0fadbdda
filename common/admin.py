import logging

from axes.admin import AccessAttemptAdmin
from axes.models import AccessAttempt
from axes.utils import reset as axes_reset
from django import forms
from django.contrib import admin, messages
from django.contrib.admin.models import DELETION, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from simple_history.admin import SimpleHistoryAdmin

from common.back_office import RecordOnlyAdminMixin
from common.models import ApiToken, IdempotencyKey
from common.people_models import AccountEvent, Invitation
from common.tokens import api_token_create, api_token_revoke

logger = logging.getLogger(__name__)


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(RecordOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("key", "scope", "user", "response_status", "created_at")
    search_fields = ("key", "scope")


class ApiTokenAddForm(forms.ModelForm):
    user = forms.ModelChoiceField(queryset=get_user_model().objects.filter(is_active=True))

    class Meta:
        model = ApiToken
        fields = ["user", "name", "kind", "scopes", "expires_at"]

    def clean_expires_at(self):
        value = self.cleaned_data.get("expires_at")
        if value is not None and value <= timezone.now():
            raise forms.ValidationError("Expiry must be in the future.")
        return value


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are listed by prefix only: the key is never stored, so never shown
    again after the page that minted it."""

    list_display = (
        "prefix",
        "name",
        "user",
        "kind",
        "scopes",
        "created_at",
        "last_used_at",
        "expires_at",
        "state",
    )
    list_filter = ("kind", "revoked_at")
    search_fields = ("prefix", "name", "user__username")
    list_select_related = ("user",)
    actions = ["revoke_selected"]
    fields = [
        "user",
        "name",
        "prefix",
        "kind",
        "scopes",
        "created_at",
        "created_by",
        "last_used_at",
        "expires_at",
        "revoked_at",
        "revoked_by",
    ]
    readonly_fields = fields

    @admin.display(description="State")
    def state(self, token: ApiToken) -> str:
        return token.state

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = ApiTokenAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        return ["user", "name", "kind", "scopes", "expires_at"] if obj is None else self.fields

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    def has_change_permission(self, request, obj=None):
        # Viewable, never editable: a token changes only by revocation.
        return False

    def save_model(self, request, obj, form, change):
        token, key = api_token_create(
            user=form.cleaned_data["user"],
            name=form.cleaned_data["name"],
            expires_at=form.cleaned_data.get("expires_at"),
            scopes=form.cleaned_data["scopes"],
            kind=form.cleaned_data["kind"],
            actor=request.user,
        )
        obj.pk = token.pk
        request._minted_key = (token, key)

    def response_add(self, request, obj, post_url_continue=None):
        token, key = request._minted_key
        # Rendered in this response, not put in a message: messages may travel in a cookie.
        return TemplateResponse(
            request,
            "admin/common/apitoken/minted.html",
            {
                **self.admin_site.each_context(request),
                "token": token,
                "key": key,
                "opts": self.model._meta,
                "title": "API token minted",
            },
        )

    @admin.action(description="Revoke selected tokens", permissions=["delete"])
    def revoke_selected(self, request, queryset):
        for token in queryset:
            api_token_revoke(token=token, actor=request.user)
        messages.success(request, f"Revoked {queryset.count()} token(s).")


admin.site.unregister(AccessAttempt)


@admin.register(AccessAttempt)
class KeelAccessAttemptAdmin(AccessAttemptAdmin):
    """django-axes' failed sign-in counters, with an *Unlock* action: it clears the
    counters of the selected rows' accounts and addresses and leaves an admin log
    entry (who unlocked what, when); axes' AccessFailureLog keeps the attempts."""

    actions = ["unlock"]

    @admin.action(description="Unlock the selected accounts and addresses", permissions=["delete"])
    def unlock(self, request, queryset):
        attempts = list(queryset)
        LogEntry.objects.log_actions(
            request.user.pk,
            queryset,
            DELETION,
            change_message="Unlocked sign-in (failure counters cleared).",
        )
        cleared = 0
        for attempt in attempts:
            cleared += axes_reset(username=attempt.username) if attempt.username else 0
            cleared += axes_reset(ip=attempt.ip_address) if attempt.ip_address else 0
            logger.warning(
                "sign-in unlocked username=%s address=%s by=%s",
                attempt.username,
                attempt.ip_address,
                request.user.pk,
            )
        messages.success(request, f"Unlocked {len(attempts)} row(s); cleared {cleared} counter(s).")


@admin.register(AccountEvent)
class AccountEventAdmin(RecordOnlyAdminMixin, admin.ModelAdmin):
    """The account audit log (sign-ins by SSO, role changes, deactivations), append-only."""

    list_display = ("created_at", "kind", "user", "email", "source", "actor")
    list_filter = ("kind", "source")
    search_fields = ("email", "user__username", "detail")
    list_select_related = ("user", "actor")

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Invitation)
class InvitationAdmin(RecordOnlyAdminMixin, SimpleHistoryAdmin):
    """Invitations are sent, resent and revoked on /settings/people/; the link's token
    is never stored, its nonce never shown."""

    list_display = ("email", "role", "email_status", "expires_at", "accepted_at", "revoked_at")
    list_filter = ("role", "email_status")
    search_fields = ("email",)
    exclude = ("nonce", "token_hash")


class PeopleAdmin(UserAdmin):
    """Accounts in the back office. Who may do what (the role groups, active, staff and
    superuser) changes on Settings → People, whose services record an ``AccountEvent``
    and keep the last admin; here those fields are read-only, and accounts are added by
    invitation there. Names, email and a password reset stay editable here."""

    change_form_template = "admin/people_change_form.html"
    readonly_fields = (
        "groups",
        "user_permissions",
        "is_active",
        "is_staff",
        "is_superuser",
        "last_login",
        "date_joined",
    )

    def has_add_permission(self, request):
        return False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "people_url": reverse("people")}
        return super().change_view(request, object_id, form_url, extra_context)


class RoleGroupAdmin(RecordOnlyAdminMixin, GroupAdmin):
    """The role groups (admin, responder, viewer) are Keel's roles: their members change
    on Settings → People and their permissions are code, so they are read here only."""


for model, model_admin in ((get_user_model(), PeopleAdmin), (Group, RoleGroupAdmin)):
    if admin.site.is_registered(model):
        admin.site.unregister(model)
    admin.site.register(model, model_admin)
