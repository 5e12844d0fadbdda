"""The intake endpoints' bodies, for the OpenAPI schema. The views do not validate
with these (a sender that cannot fix its payload must not get a 400 for one bad
alert: ``normalize`` reads leniently and records what it dropped); they describe
what is read and what is answered."""

from rest_framework import serializers

from common.validators import single_line
from incidents.intake.normalize import GROUP_KEY_MAX, LABEL_VALUE_MAX, MAX_LABELS, URL_MAX
from incidents.intake.receive import ACTIONS


class LabelsField(serializers.DictField):
    def __init__(self, **kwargs):
        super().__init__(
            child=serializers.CharField(max_length=LABEL_VALUE_MAX, allow_blank=True),
            required=False,
            help_text=f"String → string; at most {MAX_LABELS} entries (more are dropped), "
            f"values cut at {LABEL_VALUE_MAX} characters.",
            **kwargs,
        )


class AlertInput(serializers.Serializer):
    status = serializers.ChoiceField(choices=["firing", "resolved"])
    labels = LabelsField()
    annotations = LabelsField()
    startsAt = serializers.DateTimeField(
        required=False, allow_null=True, help_text="Go's zero time (year 1) is ignored."
    )
    endsAt = serializers.DateTimeField(required=False, allow_null=True)
    generatorURL = serializers.CharField(max_length=URL_MAX, required=False, allow_blank=True)
    fingerprint = serializers.CharField(max_length=64, required=False, allow_blank=True)


class AlertmanagerInput(serializers.Serializer):
    """Alertmanager's webhook payload (version 4); Grafana Alerting sends the same
    shape with a few more fields. An alert without a status or labels is recorded as
    malformed and the others are processed."""

    version = serializers.CharField(max_length=8, required=False)
    groupKey = serializers.CharField(max_length=GROUP_KEY_MAX)
    status = serializers.ChoiceField(choices=["firing", "resolved"])
    receiver = serializers.CharField(max_length=200, required=False, allow_blank=True)
    groupLabels = LabelsField()
    commonLabels = LabelsField()
    commonAnnotations = LabelsField()
    externalURL = serializers.CharField(
        max_length=URL_MAX,
        required=False,
        allow_blank=True,
        help_text="The sender instance: groups of two Alertmanagers never mix.",
    )
    truncatedAlerts = serializers.IntegerField(
        required=False, min_value=0, help_text="Alerts the sender left out (max_alerts)."
    )
    alerts = AlertInput(many=True)


class GrafanaInput(AlertmanagerInput):
    """Grafana Alerting's webhook contact point payload."""

    orgId = serializers.IntegerField(required=False)
    title = serializers.CharField(required=False, allow_blank=True)
    state = serializers.CharField(required=False, allow_blank=True)
    message = serializers.CharField(required=False, allow_blank=True)


class GenericAlertInput(serializers.Serializer):
    """One alert event from any sender (a script, PagerDuty/Opsgenie/Datadog-style
    tools). Events with the same ``key`` are the same alert: ``firing`` declares (or
    notes on) its incident, ``resolved`` starts the hold before recover."""

    key = serializers.CharField(
        max_length=GROUP_KEY_MAX,
        validators=[single_line],
        help_text="What repeats of this alert share.",
    )
    status = serializers.ChoiceField(choices=["firing", "resolved"], required=False)
    title = serializers.CharField(max_length=1_000, required=False, validators=[single_line])
    description = serializers.CharField(max_length=9_000, required=False)
    severity = serializers.CharField(
        max_length=100,
        required=False,
        validators=[single_line],
        help_text="Through the source's severity map.",
    )
    service = serializers.CharField(
        max_length=100, required=False, validators=[single_line], help_text="A service slug."
    )
    labels = LabelsField()
    started_at = serializers.DateTimeField(required=False)
    url = serializers.CharField(max_length=URL_MAX, required=False, validators=[single_line])
    instance = serializers.CharField(
        max_length=URL_MAX,
        required=False,
        validators=[single_line],
        help_text="The sender instance (like externalURL).",
    )


class GroupOutput(serializers.Serializer):
    key = serializers.CharField()
    action = serializers.ChoiceField(choices=list(ACTIONS))
    incident = serializers.IntegerField(allow_null=True)


class AlertCountsOutput(serializers.Serializer):
    received = serializers.IntegerField(help_text="Alerts in the body (over the cap included).")
    dropped = serializers.IntegerField(
        help_text="Not processed: over the body cap or KEEL_ALERT_MAX_ALERTS, or the "
        "sender's truncatedAlerts."
    )
    malformed = serializers.IntegerField(help_text="Unreadable alerts (no status or labels).")
    ignored = serializers.IntegerField(help_text="Matched the source's ignore rules.")


class AlertmanagerOutput(serializers.Serializer):
    """What one alert notification did (every intake endpoint answers this; the
    component keeps the name it had when Alertmanager was the only one)."""

    action = serializers.ChoiceField(
        choices=list(ACTIONS),
        help_text="The most telling of its groups' actions. declared: a new incident; "
        "attached: a new group joined an open incident of the same service; noted: new "
        "alerts on the timeline; resolving: every alert resolved, the hold time started "
        "(recover follows if it stays resolved); flapping: fired again within the hold "
        "(nothing moved or announced); reopened: fired again after recover; recovered: "
        "moved to recover (hold time 0); unchanged: a repeat; ignored: nothing to act on.",
    )
    incident = serializers.IntegerField(allow_null=True, help_text="The first group's incident.")
    source = serializers.CharField(help_text='The source, as the timeline names it ("via …").')
    groups = GroupOutput(many=True)
    alerts = AlertCountsOutput()
