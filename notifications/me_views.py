"""The person's own pages: "My work" (/me/) and their notification preferences
(/me/notifications/). Thin: read through selectors, write through one service."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from common.view_actions import form_submit
from notifications import my_work, preferences
from notifications.forms import NotificationPreferencesForm

PREFERENCES_TEMPLATE = "notifications/notification_preferences.html"


@login_required
@require_GET
def my_work_page(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "notifications/my_work.html",
        {**my_work.my_work(user=request.user), "now": timezone.now()},
    )


def _saved(changed: list[str]) -> str:
    if not changed:
        return "Nothing changed."
    return f"Saved: {len(changed)} change{'s' if len(changed) != 1 else ''}."


@login_required
@require_http_methods(["GET", "POST"])
def notification_preferences(request: HttpRequest) -> HttpResponse:
    user = request.user
    form = NotificationPreferencesForm(
        request.POST if request.method == "POST" else None,
        initial_channels=preferences.preferences_for(user),
    )

    def page(form, status=200) -> HttpResponse:
        context = {"form": form, **preferences.preferences_page(user)}
        return render(
            request, "notifications/notification_preferences.html", context, status=status
        )

    if request.method != "POST":
        return page(form)
    return form_submit(
        request,
        form,
        lambda channels: preferences.notification_preferences_set(
            user=user, channels=channels, actor=user
        ),
        done=_saved,
        then="my-notifications",
        again=page,
    )
