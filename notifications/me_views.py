"""The person's own pages: "My work" (/me/) and their notification preferences
(/me/notifications/). Thin: read through selectors, write through one service."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from common.exceptions import ApplicationError
from incidents.visibility import incidents_visible_to
from notifications import my_work, preferences
from notifications.forms import NotificationPreferencesForm
from notifications.models import PersonalNotice

RECENT_NOTICES = 20


@login_required
@require_GET
def my_work_page(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "notifications/my_work.html",
        {**my_work.my_work(user=request.user), "now": timezone.now()},
    )


@login_required
@require_http_methods(["GET", "POST"])
def notification_preferences(request: HttpRequest) -> HttpResponse:
    user = request.user
    current = preferences.preferences_for(user)
    form = NotificationPreferencesForm(
        request.POST if request.method == "POST" else None, initial_channels=current
    )
    if request.method == "POST" and form.is_valid():
        try:
            changed = preferences.notification_preferences_set(
                user=user, channels=form.cleaned_data, actor=user
            )
        except ApplicationError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            messages.success(
                request,
                f"Saved: {len(changed)} change{'s' if len(changed) != 1 else ''}."
                if changed
                else "Nothing changed.",
            )
            return redirect("my-notifications")
    today = timezone.localdate()
    notices = list(
        PersonalNotice.objects.filter(user=user).select_related("update")[:RECENT_NOTICES]
    )
    # A notice's wording names its incident's things: shown only while the person may
    # still see that incident (a private one they left shows its kind alone).
    visible = set(
        incidents_visible_to(user)
        .filter(pk__in={n.incident_id for n in notices if n.incident_id})
        .values_list("pk", flat=True)
    )
    capped_today = PersonalNotice.objects.filter(
        user=user, day=today, outcome=PersonalNotice.Outcome.CAPPED
    ).count()
    return render(
        request,
        "notifications/notification_preferences.html",
        {
            "form": form,
            "defaults": preferences.DEFAULT_CHANNELS,
            "slack_configured": preferences.slack_configured(),
            "slack_link": preferences.slack_link_for(user),
            "notices": notices,
            "visible_incidents": visible,
            "capped_today": capped_today,
            "daily_cap": settings.KEEL_PERSONAL_NOTICES_DAILY_CAP,
        },
        status=400 if form.errors else 200,
    )
