"""``/me/preferences/``: the signed-in user's own settings (today: the time zone)."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from common.exceptions import ApplicationError
from common.profiles import time_zone_choices, user_profile_update, user_time_zone
from common.widgets import TypeaheadSelect


class PreferencesForm(forms.Form):
    time_zone = forms.ChoiceField(
        label="Time zone",
        widget=TypeaheadSelect(),
        help_text="Pages show times in this zone; hover a time for its UTC value. "
        "Exports, the API and the public status page stay in UTC.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = time_zone_choices()
        self.fields["time_zone"].error_messages["invalid_choice"] = (
            "'%(value)s' is not a time zone name (e.g. Europe/Paris)."
        )


@login_required
@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest) -> HttpResponse:
    current = user_time_zone(request.user)
    form = PreferencesForm(request.POST or None, initial={"time_zone": current})
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                user_profile_update(
                    user=request.user, time_zone=form.cleaned_data["time_zone"], actor=request.user
                )
            except ApplicationError as error:
                form.add_error("time_zone", error.message)
            else:
                messages.success(
                    request, f"Times are now shown in {form.cleaned_data['time_zone']}."
                )
                return redirect("preferences")
    context = {"form": form, "current": current, "now": timezone.now()}
    return render(request, "common/preferences.html", context, status=status)
