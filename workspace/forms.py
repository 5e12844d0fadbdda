"""Settings forms: field-level errors in the words the page uses."""

from django import forms

from common.validators import single_line
from notifications.models import Audience, Destination
from workspace import email_settings, services
from workspace.models import EMAIL_MAX, HOST_MAX, SMTP_PASSWORD_MAX, SMTP_USER_MAX, TOKEN_MAX
from workspace.models import EmailSettings as EmailSettingsRow

TARGET_HELP = {
    Destination.Kind.SLACK: "A channel id (C…) or #name.",
    Destination.Kind.EMAIL: "Addresses separated by commas.",
    Destination.Kind.WEBHOOK: "An https:// URL (signed with the destination's secret).",
    Destination.Kind.STATUSPAGE: "The status page.",
}


class SlackCredentialsForm(forms.Form):
    bot_token = forms.CharField(
        label="Bot token",
        required=False,
        max_length=TOKEN_MAX,
        strip=True,
        widget=forms.PasswordInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        help_text="Bot User OAuth Token (xoxb-…). Leave empty to keep the one in use.",
    )
    signing_secret = forms.CharField(
        label="Signing secret",
        required=False,
        max_length=128,
        strip=True,
        widget=forms.PasswordInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        help_text="Basic Information → Signing Secret. Leave empty to keep the one in use.",
    )

    def clean_bot_token(self) -> str:
        value = self.cleaned_data["bot_token"]
        if value and (problem := services.bot_token_problem(value)):
            raise forms.ValidationError(problem)
        return value

    def clean_signing_secret(self) -> str:
        value = self.cleaned_data["signing_secret"]
        if value and (problem := services.signing_secret_problem(value)):
            raise forms.ValidationError(problem)
        return value


class AnnouncementChannelForm(forms.Form):
    channel = forms.ChoiceField(label="Announcement channel")

    def __init__(self, *args, channels: list[dict], current: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["channel"].choices = [(c["id"], f"#{c['name']}") for c in channels]
        self.fields["channel"].initial = current


class DestinationForm(forms.Form):
    audience = forms.ModelChoiceField(
        label="Audience", queryset=Audience.objects.filter(active=True), to_field_name="slug"
    )
    kind = forms.ChoiceField(
        label="Kind",
        choices=[
            (Destination.Kind.SLACK, Destination.Kind.SLACK.label),
            (Destination.Kind.EMAIL, Destination.Kind.EMAIL.label),
            (Destination.Kind.WEBHOOK, Destination.Kind.WEBHOOK.label),
        ],
    )
    name = forms.CharField(label="Name", max_length=100, validators=[single_line])
    target = forms.CharField(
        label="Target",
        max_length=500,
        validators=[single_line],
        help_text="Slack: channel id or #name. Email: addresses separated by commas. "
        "Webhook: an https:// URL.",
    )

    def clean(self):
        data = super().clean()
        kind, target = data.get("kind"), data.get("target")
        if kind and target and (problem := services.destination_target_problem(kind, target)):
            self.add_error("target", problem)
        return data


class DestinationEditForm(forms.Form):
    name = forms.CharField(label="Name", max_length=100, validators=[single_line])
    target = forms.CharField(label="Target", max_length=500, validators=[single_line])

    def __init__(self, *args, destination: Destination, **kwargs):
        super().__init__(*args, **kwargs)
        self.destination = destination
        self.fields["target"].help_text = TARGET_HELP[destination.kind]

    def clean(self):
        data = super().clean()
        target = data.get("target")
        if target and (
            problem := services.destination_target_problem(self.destination.kind, target)
        ):
            self.add_error("target", problem)
        return data


class PauseForm(forms.Form):
    reason = forms.CharField(
        label="Reason", max_length=500, validators=[single_line], help_text="Shown to responders."
    )


class EmailSettingsForm(forms.Form):
    host = forms.CharField(
        label="SMTP host", max_length=HOST_MAX, help_text="E.g. smtp.example.com"
    )
    port = forms.IntegerField(
        label="Port", min_value=email_settings.PORT_MIN, max_value=email_settings.PORT_MAX
    )
    security = forms.ChoiceField(
        label="Encryption",
        choices=EmailSettingsRow.Security.choices,
        initial=EmailSettingsRow.Security.STARTTLS,
    )
    username = forms.CharField(
        label="User name", max_length=SMTP_USER_MAX, required=False, validators=[single_line]
    )
    password = forms.CharField(
        label="Password",
        max_length=SMTP_PASSWORD_MAX,
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="Leave empty to keep the one stored.",
    )
    clear_password = forms.BooleanField(label="Remove the stored password", required=False)
    from_email = forms.EmailField(
        label="From address", max_length=EMAIL_MAX, help_text="What recipients see as the sender."
    )
    timeout = forms.IntegerField(
        label="Timeout (seconds)",
        min_value=email_settings.TIMEOUT_MIN,
        max_value=email_settings.TIMEOUT_MAX,
        initial=10,
        help_text="The longest Keel waits for each answer of the mail server.",
    )

    def clean(self):
        data = super().clean()
        found = email_settings.problems(
            host=data.get("host", ""),
            port=data.get("port") or 0,
            username=data.get("username", ""),
            password=data.get("password", ""),
            from_email=data.get("from_email", ""),
            timeout=data.get("timeout") or 0,
        )
        for field, message in found.items():
            if field not in self.errors:  # one message per field: the first problem
                self.add_error(field, message)
        return data


class EmailTestForm(forms.Form):
    destination = forms.ModelChoiceField(
        label="Send a test email to",
        queryset=Destination.objects.filter(
            kind=Destination.Kind.EMAIL, user__isnull=True
        ).select_related("audience"),
        empty_label=None,
    )
