"""The person's own pages: "My work" (/me/) and their notification preferences
(/me/notifications/). Thin: read through selectors, write through one service."""

from functools import partial

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


def _preferences_page(request: HttpRequest, form, status: int = 200) -> HttpResponse:
    context = {"form": form, **preferences.preferences_page(request.user)}
    return render(request, PREFERENCES_TEMPLATE, context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def notification_preferences(request: HttpRequest) -> HttpResponse:
    user = request.user
    form = NotificationPreferencesForm(
        request.POST if request.method == "POST" else None,
        initial_channels=preferences.preferences_for(user),
    )
    if request.method != "POST":
        return _preferences_page(request, form)
    return form_submit(
        request,
        form,
        lambda data: preferences.notification_preferences_set(user=user, channels=data, actor=user),
        done=_saved,
        then="my-notifications",
        again=partial(_preferences_page, request),
    )
