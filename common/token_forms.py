"""Forms of the token pages (``common.token_views``): what a person may ask for."""

from datetime import timedelta

from django import forms
from django.contrib.auth import get_user_model
from django.utils import timezone

from common.models import ApiToken
from common.validators import single_line

EXPIRY_CHOICES = [
    ("7", "7 days"),
    ("30", "30 days"),
    ("90", "90 days"),
    ("365", "1 year"),
    ("never", "Never (rotate it by hand)"),
]


class TokenCreateForm(forms.Form):
    name = forms.CharField(
        max_length=ApiToken._meta.get_field("name").max_length,
        validators=[single_line],
        help_text="What the token is for, e.g. 'deploy script' or 'Alertmanager'.",
    )
    scopes = forms.MultipleChoiceField(
        choices=ApiToken.Scope.choices,
        initial=[ApiToken.Scope.READ],
        widget=forms.CheckboxSelectMultiple,
        help_text="Give the least it needs: an alert source needs only intake.",
    )
    expires_in = forms.ChoiceField(label="Expires in", choices=EXPIRY_CHOICES, initial="90")

    def expires_at(self):
        days = self.cleaned_data["expires_in"]
        return None if days == "never" else timezone.now() + timedelta(days=int(days))


class AdminTokenCreateForm(TokenCreateForm):
    """An admin mints for anyone: a service user's integration token, typically."""

    user = forms.ModelChoiceField(
        queryset=get_user_model().objects.filter(is_active=True).order_by("username"),
        help_text="The API acts as this user (an integration's service user, e.g. alertmanager).",
    )
    kind = forms.ChoiceField(choices=ApiToken.Kind.choices, initial=ApiToken.Kind.INTEGRATION)

    field_order = ["user", "kind", "name", "scopes", "expires_in"]
