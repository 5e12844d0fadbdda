"""Settings → Slack: credentials checked by a worker, saved encrypted, read by
every Slack caller through one accessor; the channel picked from Slack's list."""

import pytest
from django.urls import reverse

from notifications.models import ChannelPause, Destination
from notifications.slack import credentials
from notifications.slack.client import make_client
from tests.factories.notifications import DestinationFactory, audience
from tests.fakes.slack import Fault
from tests.workspace.conftest import BOT_TOKEN, SIGNING_SECRET
from workspace import secrets, services
from workspace.models import SlackCheck, SlackSettings
from workspace.slack_check import slack_check_run

pytestmark = pytest.mark.django_db


def _submit(admin_client, django_capture_on_commit_callbacks, **data):
    with django_capture_on_commit_callbacks() as callbacks:
        response = admin_client.post(reverse("settings-slack"), data)
    return response, callbacks


def test_a_token_slack_accepts_is_saved_encrypted_and_used_by_every_slack_call(
    admin_client, slack_unconfigured, django_capture_on_commit_callbacks
):
    response, callbacks = _submit(
        admin_client,
        django_capture_on_commit_callbacks,
        bot_token=BOT_TOKEN,
        signing_secret=SIGNING_SECRET,
    )
    assert response.status_code == 302
    assert len(callbacks) == 1  # the check is enqueued after commit, not run in the request
    assert slack_unconfigured.calls_to("auth.test") == []
    check = SlackCheck.objects.get()
    assert check.status == SlackCheck.Status.PENDING
    assert credentials.bot_token() is None  # not saved before Slack said yes

    assert slack_check_run(check_id=check.pk) == SlackCheck.Status.OK

    check.refresh_from_db()
    assert check.team == "keel" and check.applied_at is not None
    assert [c["name"] for c in check.channels] == ["incidents"]
    stored = SlackSettings.objects.get()
    assert BOT_TOKEN not in stored.bot_token_encrypted
    assert secrets.decrypt(stored.bot_token_encrypted) == BOT_TOKEN
    assert stored.bot_token_last4 == BOT_TOKEN[-4:]
    assert credentials.bot_token() == BOT_TOKEN
    assert credentials.signing_secret() == SIGNING_SECRET
    assert make_client().token == BOT_TOKEN
    assert slack_unconfigured.calls_to("auth.test")[0].token == BOT_TOKEN
    history = stored.history.get()
    assert history.history_user.username == "ada"
    assert "passing connection test" in history.history_change_reason


def test_the_environment_wins_and_is_shown_as_such(admin_client, slack_unconfigured, settings):
    settings.SLACK_BOT_TOKEN = "xoxb-from-the-environment-9876"
    SlackSettings.objects.create(
        pk=1, bot_token_encrypted=secrets.encrypt(BOT_TOKEN), bot_token_last4="q3z"
    )
    assert credentials.bot_token() == "xoxb-from-the-environment-9876"
    page = admin_client.get(reverse("settings-slack")).content.decode()
    assert "from environment (…9876)" in page
    assert "xoxb-from-the-environment" not in page


def test_a_token_slack_refuses_is_saved_only_when_confirmed_and_slack_stays_paused(
    admin_client, slack_unconfigured, django_capture_on_commit_callbacks
):
    slack_unconfigured.fail_next("auth.test", Fault(error="invalid_auth"))
    _submit(admin_client, django_capture_on_commit_callbacks, bot_token=BOT_TOKEN)
    check = SlackCheck.objects.get()
    assert slack_check_run(check_id=check.pk) == SlackCheck.Status.FAILED

    check.refresh_from_db()
    assert "invalid_auth" in check.error and "copy the Bot User OAuth Token" in check.error
    assert not SlackSettings.objects.exists()
    page = admin_client.get(reverse("settings-slack")).content.decode()
    assert "Save this token anyway" in page

    response = admin_client.post(reverse("settings-slack-check-save", args=[check.pk]))
    assert response.status_code == 302
    assert credentials.bot_token() == BOT_TOKEN
    pause = ChannelPause.objects.get(kind="slack")
    assert "invalid_auth" in pause.reason
    assert "failed" in SlackSettings.objects.get().history.get().history_change_reason


def test_a_passing_token_lifts_the_slack_pause(
    admin_client, slack_unconfigured, django_capture_on_commit_callbacks, settings
):
    from django.utils import timezone

    ChannelPause.objects.create(kind="slack", reason="Slack invalid_auth", paused_at=timezone.now())
    _submit(admin_client, django_capture_on_commit_callbacks, bot_token=BOT_TOKEN)
    with django_capture_on_commit_callbacks():
        slack_check_run(check_id=SlackCheck.objects.get().pk)
    assert not ChannelPause.objects.filter(kind="slack").exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("bot_token", "xoxp-user-token-not-a-bot", "starts with xoxb-"),
        ("bot_token", "xoxb-" + "a" * 300, "at most 255 characters"),
        ("bot_token", "xoxb-12345678901\n2", "starts with xoxb-"),
        ("signing_secret", "short", "16 to 128 letters and digits"),
    ],
)
def test_bad_credentials_get_a_field_level_error(
    admin_client, slack_unconfigured, field, value, message
):
    response = admin_client.post(reverse("settings-slack"), {field: value})
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert list(errors) == [field]
    assert message in " ".join(errors[field])
    assert not SlackCheck.objects.exists()


def test_the_channel_comes_from_conversations_list_across_pages(
    admin_client, slack_unconfigured, django_capture_on_commit_callbacks
):
    for n in range(250):  # more than one page of 200
        slack_unconfigured.add_channel(f"C{n:08d}", f"team-{n:03d}")
    _submit(admin_client, django_capture_on_commit_callbacks, bot_token=BOT_TOKEN)
    slack_check_run(check_id=SlackCheck.objects.get().pk)
    listing = slack_unconfigured.calls_to("conversations.list")
    assert len(listing) == 2 and listing[1].args.get("cursor")
    assert len(SlackCheck.objects.get().channels) == 251

    page = admin_client.get(reverse("settings-slack")).content.decode()
    assert '<option value="C00000249">#team-249</option>' in page
    response = admin_client.post(reverse("settings-slack-channel"), {"channel": "C00000249"})
    assert response.status_code == 302
    destination = services.announcement_destination()
    assert (destination.target, destination.name) == ("C00000249", "Slack #team-249")
    assert destination.history.first().history_user.username == "ada"


def test_a_channel_slack_did_not_list_is_refused(admin_client, slack_unconfigured):
    DestinationFactory(audience=audience("responders"), target="#incidents")
    response = admin_client.post(reverse("settings-slack-channel"), {"channel": "CFORGED01"})
    assert response.status_code == 302
    assert Destination.objects.filter(target="CFORGED01").count() == 0


def test_test_connection_with_the_token_in_use_refreshes_the_channels(
    admin_client, slack_unconfigured, settings, django_capture_on_commit_callbacks
):
    settings.SLACK_BOT_TOKEN = "xoxb-env-token-0000"
    _submit(admin_client, django_capture_on_commit_callbacks, test="1")
    check = SlackCheck.objects.get()
    assert not check.candidate
    assert slack_check_run(check_id=check.pk) == SlackCheck.Status.OK
    assert slack_unconfigured.calls_to("auth.test")[0].token == "xoxb-env-token-0000"
    assert slack_check_run(check_id=check.pk) == "nothing to do"  # a duplicate task
    assert len(slack_unconfigured.calls_to("auth.test")) == 1


def test_the_check_card_polls_while_pending(admin_client, slack_unconfigured, admin_user):
    check = SlackCheck.objects.create(requested_by=admin_user)
    card = admin_client.get(reverse("settings-slack-check", args=[check.pk])).content.decode()
    assert 'hx-trigger="every 1s"' in card


def test_manifest_and_request_urls(admin_client, slack_unconfigured, settings):
    settings.KEEL_PUBLIC_URL = "https://keel.example.com"
    page = admin_client.get(reverse("settings-slack")).content.decode()
    assert "https://keel.example.com/integrations/slack/commands/" in page
    assert "https://keel.example.com/integrations/slack/interactions/" in page
    response = admin_client.get(reverse("settings-slack-manifest"))
    assert "attachment" in response["Content-Disposition"]
    manifest = response.json()
    command = manifest["features"]["slash_commands"][0]
    assert command["url"] == "https://keel.example.com/integrations/slack/commands/"
    assert "chat:write" in manifest["oauth_config"]["scopes"]["bot"]
    interactivity = manifest["settings"]["interactivity"]["request_url"]
    assert interactivity == "https://keel.example.com/integrations/slack/interactions/"


def test_unreadable_after_a_key_change(admin_client, slack_unconfigured, settings):
    SlackSettings.objects.create(
        pk=1, bot_token_encrypted=secrets.encrypt(BOT_TOKEN), bot_token_last4="q3z"
    )
    settings.KEEL_ENCRYPTION_KEY = "another key entirely"
    assert credentials.bot_token() is None
    assert "unreadable" in admin_client.get(reverse("settings-slack")).content.decode()


@pytest.mark.parametrize("name", ["settings-index", "settings-slack", "settings-destinations"])
def test_settings_are_for_admins_only(client, responder, name):
    client.force_login(responder)
    assert client.get(reverse(name)).status_code == 403


def test_a_passing_test_of_the_token_in_use_lifts_the_slack_pause(
    admin_client, slack_unconfigured, settings, django_capture_on_commit_callbacks
):
    from django.utils import timezone

    settings.SLACK_BOT_TOKEN = "xoxb-fixed-in-the-environment"
    ChannelPause.objects.create(kind="slack", reason="Slack invalid_auth", paused_at=timezone.now())
    _submit(admin_client, django_capture_on_commit_callbacks, test="1")
    with django_capture_on_commit_callbacks():
        slack_check_run(check_id=SlackCheck.objects.get().pk)
    assert not ChannelPause.objects.filter(kind="slack").exists()
    assert not SlackSettings.objects.exists()  # nothing stored: the environment's token works


def test_old_connection_checks_are_pruned_with_the_tokens_they_hold(
    admin_user, slack_unconfigured, monkeypatch
):
    """Every Test connection writes a check holding its candidate token (encrypted):
    only the latest SLACK_CHECKS_KEPT and the newest that passed stay."""
    monkeypatch.setattr(services, "SLACK_CHECKS_KEPT", 3)
    passed = services.slack_check_request(actor=admin_user, bot_token=BOT_TOKEN)
    assert slack_check_run(check_id=passed.pk) == SlackCheck.Status.OK
    slack_unconfigured.fail_always("auth.test", Fault(error="invalid_auth"))
    for _ in range(5):
        failed = services.slack_check_request(actor=admin_user, bot_token=BOT_TOKEN)
        assert slack_check_run(check_id=failed.pk) == SlackCheck.Status.FAILED
    newest = services.slack_check_request(actor=admin_user)

    kept = list(SlackCheck.objects.values_list("pk", flat=True))
    assert len(kept) == 4 and kept[0] == newest.pk and passed.pk in kept
    assert services.latest_check() == passed  # its channel list is still there
