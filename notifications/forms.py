from datetime import timedelta

from django import forms
from django.utils import timezone

from common.validators import multi_line, single_line
from incidents.models import TITLE_MAX
from notifications.models import MESSAGE_MAX, Audience, PublicResolvedAction, PublicStatus

NEXT_UPDATE_CHOICES = [
    ("", "No promise"),
    ("15", "15 minutes"),
    ("30", "30 minutes"),
    ("60", "1 hour"),
    ("120", "2 hours"),
    ("240", "4 hours"),
]
COMPONENT_LINES_MAX = 4_000


class StatusUpdateForm(forms.Form):
    message = forms.CharField(
        max_length=MESSAGE_MAX,
        widget=forms.Textarea(attrs={"rows": 4, "maxlength": MESSAGE_MAX}),
        validators=[multi_line],
    )
    audiences = forms.ModelMultipleChoiceField(
        queryset=Audience.objects.filter(active=True),
        to_field_name="slug",
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Leave all unticked to let the routing rules choose.",
    )
    public_status = forms.ChoiceField(
        choices=[("", "—"), *PublicStatus.choices], required=False, label="Public status"
    )
    public_title = forms.CharField(
        max_length=TITLE_MAX,
        required=False,
        label="Public title",
        help_text="Customer-facing title; needed the first time the public is addressed.",
        validators=[single_line],
    )
    public_resolved_action = forms.ChoiceField(
        choices=[("", "—"), *PublicResolvedAction.choices],
        required=False,
        label="If the public incident is resolved",
        help_text="Reopen it, or start a new public incident (with its own public title).",
    )
    components = forms.CharField(
        max_length=COMPONENT_LINES_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "Checkout: degraded performance"}),
        help_text="One component per line, as the status page shows it (or its slug): status.",
    )
    next_update_in = forms.ChoiceField(
        choices=NEXT_UPDATE_CHOICES, required=False, label="Next update in"
    )

    def clean_components(self) -> dict:
        components = {}
        for number, line in enumerate(self.cleaned_data["components"].splitlines(), start=1):
            if not line.strip():
                continue
            # The last colon splits: a component's name may contain one, a status never.
            slug, sep, status = line.rpartition(":")
            if not sep or not slug.strip() or not status.strip():
                raise forms.ValidationError(
                    f"Line {number}: write it as 'component: status', "
                    "e.g. 'Checkout: degraded performance'."
                )
            if len(slug.strip()) > 100 or len(status.strip()) > 32:
                raise forms.ValidationError(f"Line {number} is too long.")
            components[slug.strip()] = status.strip()
        return components

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        minutes = data.get("next_update_in")
        return {
            "message": data["message"],
            "audiences": [a.slug for a in data["audiences"]] or None,
            "public_status": data["public_status"],
            "public_title": data["public_title"],
            "public_resolved_action": data["public_resolved_action"],
            "components": data["components"],
            "components_by_name": True,
            "next_update_at": timezone.now() + timedelta(minutes=int(minutes)) if minutes else None,
        }
