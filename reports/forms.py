"""The report's filters. Invalid input is a field error on the page (400), never a 500."""

from datetime import datetime, time, timedelta

from django import forms
from django.utils import timezone

from incidents import selectors as incident_selectors
from incidents.models import Category, FailurePattern, Service, Team

PERIOD_CHOICES = [
    ("30", "Last 30 days"),
    ("90", "Last 90 days"),
    ("365", "Last 365 days"),
    ("all", "All time"),
    ("custom", "From / to below"),
]
DEFAULT_PERIOD = "90"


class ReportFilterForm(forms.Form):
    period = forms.ChoiceField(choices=PERIOD_CHOICES, required=False, initial=DEFAULT_PERIOD)
    start = forms.DateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        label="To (inclusive)", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    severity = forms.ModelChoiceField(
        queryset=incident_selectors.severities(),
        to_field_name="code",
        required=False,
        empty_label="Any",
    )
    service = forms.ModelChoiceField(
        queryset=Service.objects.order_by("name"),
        to_field_name="slug",
        required=False,
        empty_label="Any",
    )
    team = forms.ModelChoiceField(
        queryset=Team.objects.order_by("name"),
        to_field_name="slug",
        required=False,
        empty_label="Any",
    )
    category = forms.ChoiceField(choices=[("", "Any"), *Category.choices], required=False)
    failure_pattern = forms.ChoiceField(
        label="Failure pattern", choices=[("", "Any"), *FailurePattern.choices], required=False
    )

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end and end < start:
            self.add_error("end", "“To” must be on or after “From”.")
        return data

    def filters(self, *, now: datetime | None = None) -> dict:
        """The selector's filters from the valid fields (invalid ones are ignored)."""
        data = getattr(self, "cleaned_data", {})
        now = now or timezone.now()
        period = data.get("period") or DEFAULT_PERIOD
        start = end = None
        if data.get("start") or data.get("end") or period == "custom":
            zone = timezone.get_current_timezone()
            if data.get("start"):
                start = datetime.combine(data["start"], time.min, tzinfo=zone)
            if data.get("end"):
                end = datetime.combine(data["end"] + timedelta(days=1), time.min, tzinfo=zone)
        elif period != "all":
            start = now - timedelta(days=int(period))
        severity, service, team = data.get("severity"), data.get("service"), data.get("team")
        return {
            "start": start,
            "end": end,
            "severity": severity.code if severity else None,
            "service": service.slug if service else None,
            "team": team.slug if team else None,
            "category": data.get("category") or None,
            "failure_pattern": data.get("failure_pattern") or None,
        }
