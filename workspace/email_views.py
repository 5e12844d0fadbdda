"""Settings → Email: the SMTP server stored in Keel (or "from environment"), a test
email through the outbox, the team lists and the test sends log. The password is
never rendered back: "set" / "not set" only."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from common.access import admin_required
from common.exceptions import InvalidInput
from common.view_actions import form_submit
from notifications.models import Destination
from workspace import email_settings, manifest, selectors, services
from workspace.forms import EmailSettingsForm, EmailTestForm
from workspace.view_helpers import test_log


def _initial(described: email_settings.Described) -> dict:
    row = described.row
    if row is None:
        return {}
    return {
        "host": row.host,
        "port": row.port,
        "security": row.security,
        "username": row.username,
        "from_email": row.from_email,
        "timeout": row.timeout,
    }


def _email_page(request, *, form=None, status=200):
    described = email_settings.describe()
    lists = Destination.objects.filter(kind=Destination.Kind.EMAIL, user__isnull=True)
    return render(
        request,
        "workspace/email.html",
        {
            "described": described,
            "form": form or EmailSettingsForm(initial=_initial(described)),
            "test_form": EmailTestForm() if lists.exists() else None,
            "lists": lists.select_related("audience").order_by("audience", "name"),
            "mail": manifest.mail_settings(),
            "pause": selectors.channel_pause(Destination.Kind.EMAIL),
            **test_log(),
        },
        status=status,
    )


@admin_required
@require_http_methods(["GET", "POST"])
def email(request):
    if request.method == "GET":
        return _email_page(request)
    paused = selectors.channel_pause(Destination.Kind.EMAIL) is not None
    return form_submit(
        request,
        EmailSettingsForm(request.POST),
        lambda data: email_settings.email_settings_save(actor=request.user, **data),
        done="Mail server saved: every email goes through it. Send a test below."
        + (" Email was paused: it is resumed." if paused else ""),
        then="settings-email",
        again=lambda form, status: _email_page(request, form=form, status=status),
    )


@admin_required
@require_POST
def email_test(request):
    """**Send test email**: a test send to one list, on the outbox like any delivery."""
    form = EmailTestForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose one of the email lists.")
        return redirect("settings-email")
    destination = form.cleaned_data["destination"]
    try:
        services.destination_test_send(destination=destination, actor=request.user)
    except InvalidInput as exc:
        messages.error(request, exc.message)
    else:
        messages.info(request, f"Test email queued for {destination}: its outcome is below.")
    return redirect("settings-email")
