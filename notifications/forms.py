from datetime import timedelta

from django import forms
from django.utils import timezone

from common.validators import multi_line, single_line
from incidents.models import TITLE_MAX
from notifications.models import (
    IMPACT_OVERRIDE_CHOICES,
    MESSAGE_MAX,
    UPDATE_PUBLIC_STATUS_CHOICES,
    Audience,
    NoticeChannel,
    NoticeKind,
    PublicResolvedAction,
)

NEXT_UPDATE_CHOICES = [
    ("", "No promise"),
    ("15", "15 minutes"),
    ("30", "30 minutes"),
    ("60", "1 hour"),
    ("120", "2 hours"),
    ("240", "4 hours"),
]
# The component picker posts one select per component: ``component-<public id>``.
COMPONENT_PREFIX = "component-"
COMPONENTS_MAX = 100


class ComponentPickerWidget(forms.Widget):
    """Reads the picker's selects back as ``{public id: status}`` (blank: unchanged).
    The composer template draws them, grouped, with each component's current status."""

    def value_from_datadict(self, data, files, name) -> dict:
        return {
            key.removeprefix(COMPONENT_PREFIX): data.get(key)
            for key in data
            if key.startswith(COMPONENT_PREFIX) and data.get(key)
        }

    def value_omitted_from_data(self, data, files, name) -> bool:
        return False


class ComponentPickerField(forms.Field):
    """Component statuses picked by name; which components exist and which statuses
    are valid is the status page's check (``update_check``), so a component removed
    while the form was open is refused by name rather than dropped."""

    widget = ComponentPickerWidget

    def to_python(self, value) -> dict:
        return dict(value or {})

    def validate(self, value: dict) -> None:
        if len(value) > COMPONENTS_MAX:
            raise forms.ValidationError(f"At most {COMPONENTS_MAX} components in one update.")
        if any(len(key) > 100 or len(status) > 32 for key, status in value.items()):
            raise forms.ValidationError("A component's status was not one of the list.")


class StatusUpdateForm(forms.Form):
    message = forms.CharField(
        max_length=MESSAGE_MAX,
        widget=forms.Textarea(attrs={"rows": 4, "maxlength": MESSAGE_MAX}),
        validators=[multi_line],
        help_text="Written for the people told: the public page shows it as it is.",
    )
    audiences = forms.ModelMultipleChoiceField(
        queryset=Audience.objects.filter(active=True),
        to_field_name="slug",
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Tick at least one audience: who should be told?"},
        label="Tell",
    )
    public_status = forms.ChoiceField(
        choices=[("", "—"), *UPDATE_PUBLIC_STATUS_CHOICES], required=False, label="Public status"
    )
    public_title = forms.CharField(
        max_length=TITLE_MAX,
        required=False,
        label="Public title",
        help_text="The name customers read on the status page.",
        validators=[single_line],
    )
    public_resolved_action = forms.ChoiceField(
        choices=PublicResolvedAction.choices,
        required=False,
        widget=forms.RadioSelect,
        label="The public incident is resolved",
        help_text="Reopen it, or start a new public incident (with its own public title).",
    )
    public_impact = forms.ChoiceField(
        choices=[("", "From the components"), *IMPACT_OVERRIDE_CHOICES],
        required=False,
        label="Impact",
        help_text="Shown on the status page; by default the worst component status decides.",
    )
    components = ComponentPickerField(required=False, label="Components")
    next_update_in = forms.ChoiceField(
        choices=NEXT_UPDATE_CHOICES, required=False, label="Next update in"
    )

    def __init__(self, *args, public_statuses: list[tuple[str, str]] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if public_statuses is not None:
            self.offer_public_statuses(public_statuses)

    def offer_public_statuses(self, public_statuses: list[tuple[str, str]]) -> None:
        # Offer only what the incident's public state allows; a stale choice posted
        # anyway is refused by update_check in plain words.
        self.fields["public_status"].widget.choices = [("", "—"), *public_statuses]

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        minutes = data.get("next_update_in")
        return {
            "message": data["message"],
            # The rows the form already read: the service does not look them up again.
            "audience_rows": list(data["audiences"]),
            "public_status": data["public_status"],
            "public_title": data["public_title"],
            "public_resolved_action": data["public_resolved_action"],
            "public_impact": data["public_impact"],
            "components": data["components"],
            "next_update_at": timezone.now() + timedelta(minutes=int(minutes)) if minutes else None,
        }


class NotificationPreferencesForm(forms.Form):
    """One radio group per kind of personal notice (``notifications.preferences``)."""

    def __init__(self, *args, initial_channels: dict[str, str], **kwargs):
        super().__init__(*args, **kwargs)
        choices = ", ".join(label for _, label in NoticeChannel.choices)
        for kind, label in NoticeKind.choices:
            self.fields[kind] = forms.ChoiceField(
                label=label,
                choices=NoticeChannel.choices,
                initial=initial_channels[kind],
                widget=forms.RadioSelect,
                error_messages={
                    "required": f"{label}: choose how to be told ({choices}).",
                    "invalid_choice": f"{label}: choose one of {choices}.",
                },
            )
