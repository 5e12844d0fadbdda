"""The alert source pages' forms; maps are edited as ``value=target`` lines."""

from django import forms

from common.validators import multi_line, single_line
from incidents.intake.models import MATCHERS_MAX, SOURCE_NAME_MAX, AlertSource

MAP_TEXT_MAX = 8_000


def map_lines(mapping: dict) -> str:
    return "\n".join(f"{key}={value}" for key, value in sorted((mapping or {}).items()))


class MapField(forms.CharField):
    """``value=target`` per line → a dict (a line without ``=`` is an error on the field)."""

    def __init__(self, **kwargs):
        super().__init__(
            required=False,
            max_length=MAP_TEXT_MAX,
            widget=forms.Textarea(attrs={"rows": 4}),
            validators=[multi_line],
            **kwargs,
        )

    def clean(self, value):
        text = super().clean(value)
        mapping = {}
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            key, sep, target = line.partition("=")
            if not sep or not key.strip() or not target.strip():
                raise forms.ValidationError(f"Line {number}: write value=target.")
            mapping[key.strip()] = target.strip()
        return mapping


class AlertSourceCreateForm(forms.Form):
    kind = forms.ChoiceField(choices=AlertSource.Kind.choices)
    name = forms.CharField(
        max_length=SOURCE_NAME_MAX,
        validators=[single_line],
        help_text="Where it runs, e.g. prod-eu: the timeline says “via Alertmanager prod-eu”.",
    )


class AlertSourceRulesForm(forms.Form):
    ignore_matchers = forms.CharField(
        label="Ignore",
        required=False,
        max_length=MATCHERS_MAX,
        validators=[multi_line],
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Alerts matching any line are dropped. One rule a line; its matchers, "
        "comma-separated, must all hold: label=value, label!=value, label=~regex, label!~regex.",
    )
    attach_only_matchers = forms.CharField(
        label="Attach only",
        required=False,
        max_length=MATCHERS_MAX,
        validators=[multi_line],
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Alerts matching these never declare; they join an open incident of "
        "their service.",
    )
    severity_label = forms.CharField(max_length=100, validators=[single_line])
    severity_map = MapField(
        help_text="severity label value=SEV1..SEV4 (a keel_severity label overrides it)."
    )
    service_labels = forms.CharField(
        max_length=200,
        required=False,
        validators=[single_line],
        help_text="Labels naming the service, tried in order (comma-separated).",
    )
    service_map = MapField(help_text="label value=service slug, where they differ.")
    correlation_window_minutes = forms.IntegerField(
        min_value=0,
        max_value=1440,
        help_text="A new group attaches to an open incident of its service with alerts "
        "this recent (0: never).",
    )
    resolve_hold_seconds = forms.IntegerField(
        min_value=0,
        max_value=86400,
        help_text="Recover only after every alert stayed resolved this long.",
    )

    @classmethod
    def for_source(cls, source: AlertSource, data=None) -> "AlertSourceRulesForm":
        initial = {
            "ignore_matchers": source.ignore_matchers,
            "attach_only_matchers": source.attach_only_matchers,
            "severity_label": source.severity_label,
            "severity_map": map_lines(source.severity_map),
            "service_labels": source.service_labels,
            "service_map": map_lines(source.service_map),
            "correlation_window_minutes": source.correlation_window_minutes,
            "resolve_hold_seconds": source.resolve_hold_seconds,
        }
        return cls(data, initial=initial)
