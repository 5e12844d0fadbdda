"""The incident page's changes panel: mark one of the listed changes as the
incident's trigger, or clear the mark. Plain POST (redirect back) or HTMX (the
live region), like every other action on the page (``views._act``)."""

from django import forms
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_POST

from common.access import driver_required
from incidents import changes, views
from incidents.models import Change


class TriggerForm(forms.Form):
    """Mark one of the changes listed beside ``incident`` as its trigger, or unmark."""

    change = forms.ModelChoiceField(
        queryset=Change.objects.all(),
        required=False,
        label="Change",
        error_messages={"invalid_choice": "That change does not exist (any more)."},
    )
    unmark = forms.BooleanField(required=False)

    def __init__(self, *args, incident, **kwargs):
        super().__init__(*args, **kwargs)
        self.incident = incident

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("unmark") or self.errors:
            return cleaned
        change = cleaned.get("change")
        if change is None:
            raise forms.ValidationError("Pick the change to mark as the trigger.")
        if change.pk not in {c.pk for c in changes.changes_before(incident=self.incident)}:
            self.add_error(
                "change", "Only a change listed beside this incident can be marked as its trigger."
            )
        return cleaned


@driver_required
@require_POST
def trigger_change(request: HttpRequest, pk: int) -> HttpResponse:
    incident = views._incident_for_action(request, pk)

    def perform(data: dict) -> str:
        if data["unmark"]:
            changes.incident_trigger_change_unmark(incident=incident, actor=request.user)
            return "The trigger is cleared."
        change = data["change"]
        changes.incident_trigger_change_mark(incident=incident, change=change, actor=request.user)
        return f"Marked as the trigger: {change.title}."

    form = TriggerForm(request.POST, incident=incident)
    return views._act(request, pk, form=form, form_name="trigger_form", perform=perform)
