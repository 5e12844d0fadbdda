"""Forms of Settings → Status page, Severities and Services: every text field has
the model's max length; errors name the field as the page labels it."""

from django import forms
from django.contrib.auth import get_user_model

from common.exceptions import InvalidInput
from common.profiles import time_zone_choices
from common.validators import multi_line, single_line
from common.widgets import TypeaheadSelect, TypeaheadSelectMultiple
from incidents.models import SHORT_TEXT_MAX, Service, Team
from incidents.search import person_label
from statuspage import catalog as status_catalog
from statuspage.models import DESCRIPTION_MAX, NAME_MAX, ComponentGroup
from statuspage.page_settings import LOGO_MAX_BYTES, PAGE_NAME_MAX

UPDATE_INTERVAL_MAX = 7 * 24 * 60


class ComponentForm(forms.Form):
    name = forms.CharField(label="Name", max_length=NAME_MAX, validators=[single_line])
    description = forms.CharField(
        label="Description",
        max_length=DESCRIPTION_MAX,
        required=False,
        validators=[single_line],
        help_text="Shown to customers under the name.",
    )
    group = forms.ModelChoiceField(
        label="Group", queryset=ComponentGroup.objects.all(), required=False, empty_label="None"
    )
    services = forms.ModelMultipleChoiceField(
        label="Services",
        queryset=Service.objects.order_by("name"),
        required=False,
        widget=TypeaheadSelectMultiple(source="search-services", attrs={"size": 5}),
        help_text="The internal services this component stands for (never shown publicly).",
    )


class GroupForm(forms.Form):
    name = forms.CharField(label="Group name", max_length=NAME_MAX, validators=[single_line])
    description = forms.CharField(
        label="Group description",
        max_length=DESCRIPTION_MAX,
        required=False,
        validators=[single_line],
    )


class PageSettingsForm(forms.Form):
    name = forms.CharField(
        label="Page name",
        max_length=PAGE_NAME_MAX,
        validators=[single_line],
        help_text='Shown as "<name> status" on /status/, in feeds and subscriber emails.',
    )
    time_zone = forms.ChoiceField(
        label="Time zone",
        choices=time_zone_choices,
        widget=TypeaheadSelect(),
        help_text="Times on the page and its days are in this zone.",
    )
    logo = forms.FileField(
        label="Logo",
        required=False,
        max_length=200,
        widget=forms.ClearableFileInput(
            attrs={
                "accept": "image/png,image/jpeg,image/webp",
                "data-max-bytes": LOGO_MAX_BYTES,
                "data-file-noun": "logo",
            }
        ),
        help_text=f"PNG, JPEG or WebP, at most {LOGO_MAX_BYTES // 1024} KB; shown 32 px high.",
    )
    remove_logo = forms.BooleanField(label="Remove the logo", required=False)

    def clean_logo(self) -> bytes | None:
        upload = self.cleaned_data.get("logo")
        if not upload:
            return None
        if upload.size > LOGO_MAX_BYTES:
            raise forms.ValidationError(
                f"The logo is {upload.size // 1024} KB; at most {LOGO_MAX_BYTES // 1024} KB."
            )
        data = upload.read()
        try:
            status_catalog.logo_type_of(data)
        except InvalidInput as exc:
            raise forms.ValidationError(exc.message) from exc
        return data


class SeverityForm(forms.Form):
    name = forms.CharField(label="Name", max_length=100, validators=[single_line])
    definition = forms.CharField(
        label="Definition",
        max_length=SHORT_TEXT_MAX,
        validators=[multi_line],
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="When a responder picks this severity.",
    )
    required_response = forms.CharField(
        label="Required response",
        max_length=SHORT_TEXT_MAX,
        validators=[multi_line],
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    update_interval_minutes = forms.IntegerField(
        label="Update every (minutes)",
        min_value=1,
        max_value=UPDATE_INTERVAL_MAX,
        help_text="Responders are reminded when an open incident's last update is older.",
    )
    postmortem_required = forms.BooleanField(
        label="A published postmortem is required to close", required=False
    )
    page_business_team = forms.BooleanField(label="Page the business team", required=False)


class MembersField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, user) -> str:
        return person_label(user)


class TeamForm(forms.Form):
    name = forms.CharField(label="Team name", max_length=100, validators=[single_line])
    description = forms.CharField(
        label="Team description",
        max_length=SHORT_TEXT_MAX,
        required=False,
        validators=[multi_line],
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    members = MembersField(
        label="Members",
        queryset=get_user_model().objects.filter(is_active=True).order_by("username"),
        required=False,
        widget=TypeaheadSelectMultiple(source="search-people", attrs={"size": 5}),
    )

    def __init__(self, *args, team: Team | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.team = team

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]
        taken = Team.objects.filter(name__iexact=name)
        if self.team is not None:
            taken = taken.exclude(pk=self.team.pk)
        if taken.exists():
            raise forms.ValidationError(f"A team is already called {name}.")
        return name


class ServiceForm(forms.Form):
    name = forms.CharField(label="Service name", max_length=100, validators=[single_line])
    slug = forms.SlugField(
        label="Slug",
        max_length=100,
        required=False,
        help_text="Used in URLs, the API and alert rules. Empty: made from the name.",
    )
    description = forms.CharField(
        label="Service description",
        max_length=SHORT_TEXT_MAX,
        required=False,
        validators=[multi_line],
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    owner_team = forms.ModelChoiceField(
        label="Owner team", queryset=Team.objects.all(), required=False, empty_label="No owner"
    )
    tier = forms.TypedChoiceField(
        label="Tier", choices=Service.Tier.choices, coerce=int, initial=Service.Tier.IMPORTANT
    )

    def __init__(self, *args, service: Service | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.service = service
        if service is not None:
            self.fields["slug"].required = True
            self.fields[
                "slug"
            ].help_text = "Used in URLs, the API and alert rules: changing it breaks links to it."

    def _taken(self, **lookup) -> bool:
        rows = Service.objects.filter(**lookup)
        if self.service is not None:
            rows = rows.exclude(pk=self.service.pk)
        return rows.exists()

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]
        if self._taken(name__iexact=name):
            raise forms.ValidationError(f"A service is already called {name}.")
        return name

    def clean_slug(self) -> str:
        slug = self.cleaned_data["slug"]
        if slug and self._taken(slug=slug):
            raise forms.ValidationError(f"Another service has the slug {slug}.")
        return slug
