"""API shapes of change events (``/api/v1/changes/``) and of an incident's
``trigger_change``. The API names follow DESIGN.md (``version``, ``who``, ``at``,
``link``); the model keeps its older column names (``reference``, ``deployed_by``,
``deployed_at``, ``url``)."""

from rest_framework import serializers

from common.validators import single_line
from incidents.models import TITLE_MAX, Change, Service

_field = Change._meta.get_field


class ChangeServiceField(serializers.SlugRelatedField):
    """A service by its slug; refuses what no slug holds (a NUL, an overlong value)
    before it reaches the database."""

    def __init__(self, **kwargs):
        super().__init__(slug_field="slug", queryset=Service.objects.all(), **kwargs)

    def to_internal_value(self, data):
        if isinstance(data, str) and ("\x00" in data or len(data) > 100):
            self.fail("does_not_exist", slug_name="slug", value=data[:100].replace("\x00", ""))
        return super().to_internal_value(data)


class ChangeInput(serializers.Serializer):
    service = ChangeServiceField(help_text="The Keel service's slug, e.g. `checkout`.")
    kind = serializers.ChoiceField(choices=Change.Kind.choices, default=Change.Kind.DEPLOY)
    version = serializers.CharField(
        max_length=_field("reference").max_length,
        required=False,
        default="",
        allow_blank=True,
        validators=[single_line],
        help_text="Version, tag or commit that went out.",
    )
    who = serializers.CharField(
        max_length=_field("deployed_by").max_length,
        required=False,
        default="",
        allow_blank=True,
        validators=[single_line],
        help_text="Who made the change (a person or a pipeline's actor).",
    )
    at = serializers.DateTimeField(
        required=False, help_text="When it took effect; the time of the request if absent."
    )
    link = serializers.URLField(
        max_length=_field("url").max_length,
        required=False,
        default="",
        allow_blank=True,
        help_text="The pipeline run, pull request or release.",
    )
    source = serializers.CharField(
        max_length=_field("source").max_length,
        required=False,
        default="",
        allow_blank=True,
        validators=[single_line],
        help_text="What reported it: `github-actions`, `gitlab-ci`, `argocd`…",
    )
    title = serializers.CharField(
        max_length=TITLE_MAX,
        required=False,
        default="",
        allow_blank=True,
        validators=[single_line],
        help_text='One line; "Deploy of checkout 1.4.2" when absent.',
    )


class ChangeListFilter(serializers.Serializer):
    service = serializers.SlugField(max_length=100, required=False)
    kind = serializers.ChoiceField(choices=Change.Kind.choices, required=False)
    since = serializers.DateTimeField(required=False, help_text="Changes at or after this time.")
    until = serializers.DateTimeField(required=False, help_text="Changes at or before this time.")


class ChangeOutput(serializers.ModelSerializer):
    service = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    version = serializers.CharField(source="reference")
    who = serializers.CharField(source="deployed_by")
    at = serializers.DateTimeField(source="deployed_at")
    link = serializers.CharField(source="url")
    recorded_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )

    class Meta:
        model = Change
        fields = [
            "id",
            "service",
            "kind",
            "version",
            "who",
            "at",
            "link",
            "source",
            "title",
            "recorded_by",
            "created_at",
        ]
