"""Web forms of the maintenance pages. Each validates one page's input before one
call to ``statuspage.maintenance``; every text field carries the model's limit.
Times are entered and shown in the reader's time zone (their preference; named in each
label)."""

import uuid

from django import forms
from django.conf import settings

from common.idempotency import FORM_FIELD
from common.timezones import current_zone_name, in_zone_label
from common.validators import multi_line, single_line
from statuspage import maintenance as maintenance_services
from statuspage import selectors
from statuspage.models import (
    BODY_MAX,
    MAINTENANCE_COMPONENT_STATUSES,
    NAME_MAX,
    REMINDER_MAX_MINUTES,
    Component,
    MaintenanceStatus,
    ScheduledMaintenance,
)

TIME_ZONE_LABEL = settings.TIME_ZONE
REMINDER_CHOICES = [
    ("", "No reminder"),
    (15, "15 minutes before"),
    (30, "30 minutes before"),
    (60, "1 hour before"),
    (120, "2 hours before"),
    (240, "4 hours before"),
    (1440, "1 day before"),
    (REMINDER_MAX_MINUTES, "1 week before"),
]


def _datetime_input() -> forms.DateTimeInput:
    return forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


def _reminder_choices(current: int | None) -> list:
    choices = list(REMINDER_CHOICES)
    known = {value for value, _ in choices}
    for extra in (settings.STATUSPAGE_MAINTENANCE_REMINDER_MINUTES, current):
        if extra and extra not in known and 1 <= extra <= REMINDER_MAX_MINUTES:
            choices.append((extra, f"{extra} minutes before"))
            known.add(extra)
    return choices


class SubmittedOnce(forms.Form):
    """A hidden key minted per rendered form: a second submit replays the first
    (``common.idempotency.form_once``)."""

    submission_key = forms.CharField(widget=forms.HiddenInput, max_length=64, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields[FORM_FIELD].initial = uuid.uuid4().hex

    def to_write(self) -> dict:
        """The cleaned fields without the submission key: what the service takes."""
        return {name: value for name, value in self.cleaned_data.items() if name != FORM_FIELD}


class ComponentsField(forms.MultipleChoiceField):
    """Components by name, grouped as on the status page; cleans to Component rows."""

    widget = forms.CheckboxSelectMultiple

    def __init__(self, **kwargs):
        super().__init__(choices=self._grouped, **kwargs)

    @staticmethod
    def _grouped():
        groups: dict[str, list] = {}
        for component in selectors.components_all():
            label = f"{component.name} — now {component.get_status_display().lower()}"
            heading = component.group.name if component.group_id else "Other components"
            groups.setdefault(heading, []).append((component.public_id, label))
        return list(groups.items())

    def clean(self, value):
        public_ids = super().clean(value)
        found = {c.public_id: c for c in Component.objects.filter(public_id__in=public_ids)}
        return [found[public_id] for public_id in public_ids if public_id in found]


class WindowFields(SubmittedOnce):
    """What scheduling and editing share."""

    name = forms.CharField(
        label="Title",
        max_length=NAME_MAX,
        validators=[single_line],
        help_text="Customers read it on the status page and in every message.",
    )
    components = ComponentsField(
        label="Components affected",
        required=False,
        help_text="None: the maintenance is announced without components (all subscribers).",
    )
    scheduled_for = forms.DateTimeField(
        label=f"Starts ({TIME_ZONE_LABEL})", widget=_datetime_input()
    )
    scheduled_until = forms.DateTimeField(
        label=f"Ends ({TIME_ZONE_LABEL})", widget=_datetime_input()
    )
    component_status = forms.ChoiceField(
        label="Components show during the window",
        choices=[(s.value, s.label) for s in MAINTENANCE_COMPONENT_STATUSES],
        initial=MAINTENANCE_COMPONENT_STATUSES[0],
        help_text="Unless an incident says something worse: an outage is never hidden.",
    )
    remind_minutes_before = forms.TypedChoiceField(
        label="Remind subscribers",
        coerce=int,
        empty_value=None,
        required=False,
    )
    notify_on_start = forms.BooleanField(
        label="Tell subscribers when it starts", required=False, initial=True
    )
    notify_on_complete = forms.BooleanField(
        label="Tell subscribers when it is completed", required=False, initial=True
    )
    auto_start = forms.BooleanField(
        label="Start automatically at the start time", required=False, initial=True
    )
    auto_complete = forms.BooleanField(
        label="Complete automatically at the end time", required=False, initial=True
    )

    time_zone = TIME_ZONE_LABEL

    def __init__(self, *args, current_reminder: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        # Django reads and shows the datetimes in the active zone (the user's preference).
        self.time_zone = current_zone_name()
        self.fields["scheduled_for"].label = in_zone_label("Starts")
        self.fields["scheduled_until"].label = in_zone_label("Ends")
        field = self.fields["remind_minutes_before"]
        field.choices = _reminder_choices(current_reminder)


class MaintenanceScheduleForm(WindowFields):
    body = forms.CharField(
        label="Description",
        max_length=BODY_MAX,
        required=False,
        validators=[multi_line],
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="What will happen and what customers may notice. Shown on the status page "
        "and sent to subscribers.",
    )
    notify_subscribers = forms.BooleanField(
        label="Tell subscribers now", required=False, initial=True
    )

    field_order = [
        "name",
        "body",
        "components",
        "scheduled_for",
        "scheduled_until",
        "component_status",
        "notify_subscribers",
        "remind_minutes_before",
        "notify_on_start",
        "notify_on_complete",
        "auto_start",
        "auto_complete",
    ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["remind_minutes_before"].initial = (
            settings.STATUSPAGE_MAINTENANCE_REMINDER_MINUTES or ""
        )


class MaintenanceEditForm(WindowFields):
    note = forms.CharField(
        label="Message to subscribers",
        max_length=BODY_MAX,
        required=False,
        validators=[multi_line],
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Added to the “Rescheduled” update when the window moves.",
    )
    notify = forms.BooleanField(
        label="Tell subscribers when the window moves", required=False, initial=True
    )

    def __init__(self, *args, maintenance: ScheduledMaintenance, **kwargs):
        initial = {
            "name": maintenance.name,
            "components": [c.public_id for c in maintenance.components.all()],
            "scheduled_for": maintenance.scheduled_for,
            "scheduled_until": maintenance.scheduled_until,
            "component_status": maintenance.component_status,
            "remind_minutes_before": maintenance.remind_minutes_before or "",
            "notify_on_start": maintenance.notify_on_start,
            "notify_on_complete": maintenance.notify_on_complete,
            "auto_start": maintenance.auto_start,
            "auto_complete": maintenance.auto_complete,
        }
        super().__init__(
            *args, initial=initial, current_reminder=maintenance.remind_minutes_before, **kwargs
        )
        if maintenance.status != MaintenanceStatus.SCHEDULED:
            # Started: the start is history; only the end (and the rest) can move.
            for name in ("scheduled_for", "remind_minutes_before", "notify_on_start", "auto_start"):
                self.fields[name].disabled = True
            self.fields["scheduled_for"].help_text = "It has started: the start cannot move."

    def clean(self):
        data = super().clean()
        # The inputs show minutes: an untouched time keeps its stored seconds.
        for name in ("scheduled_for", "scheduled_until"):
            stored, sent = self.initial[name], data.get(name)
            if sent is not None and sent == stored.replace(second=0, microsecond=0):
                data[name] = stored
        return data

    def change(self) -> maintenance_services.Change:
        data = self.cleaned_data
        return maintenance_services.Change(
            name=data["name"],
            scheduled_for=data["scheduled_for"],
            scheduled_until=data["scheduled_until"],
            components=data["components"],
            component_status=data["component_status"],
            auto_start=data["auto_start"],
            auto_complete=data["auto_complete"],
            notify_on_start=data["notify_on_start"],
            notify_on_complete=data["notify_on_complete"],
            remind_minutes_before=data["remind_minutes_before"],
        )

    def service_kwargs(self) -> dict:
        """``maintenance_edit``'s inputs: the change, and what subscribers are told of it."""
        return {
            "change": self.change(),
            "note": self.cleaned_data["note"],
            "notify": self.cleaned_data["notify"],
        }


class MaintenanceUpdateForm(SubmittedOnce):
    body = forms.CharField(
        label="Message",
        max_length=BODY_MAX,
        validators=[multi_line],
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Customer-facing: shown on the status page.",
    )
    notify = forms.BooleanField(label="Send to subscribers", required=False, initial=True)


MOVE_LABELS = {
    MaintenanceStatus.IN_PROGRESS: "Start now",
    MaintenanceStatus.VERIFYING: "Verifying",
    MaintenanceStatus.COMPLETED: "Complete",
}


class MaintenanceMoveForm(SubmittedOnce):
    to = forms.ChoiceField(
        choices=[(k.value, v) for k, v in MOVE_LABELS.items()], widget=forms.HiddenInput
    )
    body = forms.CharField(
        label="Message",
        max_length=BODY_MAX,
        required=False,
        validators=[multi_line],
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Optional; the standard wording is used when empty.",
    )
    notify = forms.BooleanField(label="Send to subscribers", required=False, initial=True)


class MaintenanceCancelForm(SubmittedOnce):
    reason = forms.CharField(
        label="Reason",
        max_length=BODY_MAX,
        validators=[multi_line],
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Customer-facing: subscribers read why it is called off.",
    )
    notify = forms.BooleanField(label="Send to subscribers", required=False, initial=True)
