"""People settings (admins): ``/settings/people/`` lists accounts with their role and
last sign-in, invites by email, changes roles, deactivates and reactivates; and the
invitation link's page (``/invitations/<token>/``) for the invited person."""

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_http_methods, require_POST

from common import invitations, people, sso
from common.access import admin_required
from common.exceptions import ApplicationError
from common.people_forms import AcceptForm, InviteForm, RoleForm
from common.people_models import Invitation, Role
from common.view_actions import act

User = get_user_model()


def _page(request, *, invite_form=None, status=200):
    accounts = list(people.people_list())
    rows = [(account, people.role_of(account)) for account in accounts]
    return render(
        request,
        "common/people.html",
        {
            "rows": rows,
            "roles": Role.choices,
            "invite_form": invite_form or InviteForm(),
            "invitations": invitations.invitations_open(),
            "events": people.account_events(limit=30),
            "sso_enabled": sso.sso_enabled(),
        },
        status=status,
    )


@admin_required
@require_http_methods(["GET", "POST"])
def people_page(request):
    """The list; POST invites someone (field errors on the form, 400)."""
    if request.method == "GET":
        return _page(request)
    form = InviteForm(request.POST)
    if form.is_valid():
        try:
            invitation = invitations.invitation_create(
                email=form.cleaned_data["email"], role=form.cleaned_data["role"], actor=request.user
            )
        except ApplicationError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, f"Invited {invitation.email}: the email is on its way.")
            return redirect("people")
    return _page(request, invite_form=form, status=400)


@admin_required
@require_POST
def person_role(request, pk: int):
    person = get_object_or_404(User, pk=pk)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Role: choose admin, responder or viewer.")
        return redirect("people")
    role = form.cleaned_data["role"]
    return act(
        request,
        lambda: people.user_role_set(user=person, role=role, actor=request.user),
        done=f"{person.username} is now {Role(role).label}.",
        then="people",
    )


def _row_button(model, write, done):
    """An admin's button on one row of the People page: ``write(row, actor)``, the
    message ``done(row)``, back to the page (a refusal becomes the message)."""

    @admin_required
    @require_POST
    def button(request, pk: int):
        row = get_object_or_404(model, pk=pk)
        return act(request, lambda: write(row, request.user), done=done(row), then="people")

    return button


person_deactivate = _row_button(
    User,
    lambda person, actor: people.user_deactivate(user=person, actor=actor),
    lambda person: (
        f"Deactivated {person.username}: they can no longer sign in; their history stays."
    ),
)
person_reactivate = _row_button(
    User,
    lambda person, actor: people.user_reactivate(user=person, actor=actor),
    lambda person: f"Reactivated {person.username}.",
)
invitation_resend = _row_button(
    Invitation,
    lambda invitation, actor: invitations.invitation_resend(invitation=invitation, actor=actor),
    lambda invitation: f"Sent {invitation.email} a new link; the old one no longer works.",
)
invitation_revoke = _row_button(
    Invitation,
    lambda invitation, actor: invitations.invitation_revoke(invitation=invitation, actor=actor),
    lambda invitation: f"Revoked the invitation of {invitation.email}.",
)


def _accept_context(invitation) -> dict:
    """What the invitation page shows besides its form: the invitation (None: gone)
    and how this Keel signs people in."""
    return {
        "invitation": invitation,
        "sso_enabled": sso.sso_enabled(),
        "sso_provider_name": sso.provider_name(),
        "password_login": sso.password_login_enabled(),
    }


def _accepted(request, token: str, form) -> bool:
    """Accept the invitation with the chosen username and password; False: the form
    holds why not."""
    if not form.is_valid():
        return False
    try:
        invitations.invitation_accept(token=token, **form.cleaned_data)
    except ApplicationError as exc:
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        return False
    messages.success(request, "Welcome to Keel: sign in with your new password.")
    return True


@require_http_methods(["GET", "POST"])
def invitation_accept(request, token: str):
    """The invited person's page: choose a username and password, or, with password
    sign-in off, continue to single sign-on."""
    invitation = invitations.invitation_for_token(token)
    context = _accept_context(invitation)
    status = 200 if invitation is not None else 410
    form = AcceptForm(request.POST or None)
    if invitation is not None and request.method == "POST" and context["password_login"]:
        if _accepted(request, token, form):
            return redirect("login")
        status = 400
    response = render(
        request, "common/invitation_accept.html", {**context, "form": form}, status=status
    )
    add_never_cache_headers(response)
    return response
