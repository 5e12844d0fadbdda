"""A fresh install with the two Slack variables announces with nothing else; the
checklist says what is left; secrets never show up anywhere (marker strings)."""

import logging

import pytest
from django.core.management import call_command
from django.urls import reverse

from notifications.models import Destination
from tests.factories.incidents import ServiceFactory, UserFactory
from tests.factories.notifications import DestinationFactory, audience
from tests.factories.statuspage import ComponentFactory
from tests.workspace.conftest import BOT_TOKEN, SIGNING_SECRET
from workspace import services
from workspace.models import SlackCheck, SlackSettings
from workspace.slack_check import slack_check_run

pytestmark = pytest.mark.django_db


def test_migrate_with_slack_in_the_environment_creates_the_responders_channel(settings):
    settings.SLACK_BOT_TOKEN = "xoxb-env-token-0000"
    settings.SLACK_INCIDENTS_CHANNEL = "#war-room"
    Destination.objects.all().delete()
    call_command("migrate", verbosity=0)  # post_migrate: the first-run step
    destination = services.announcement_destination()
    assert (destination.target, destination.audience.slug) == ("#war-room", "responders")
    call_command("migrate", verbosity=0)
    assert Destination.objects.filter(kind="slack").count() == 1  # once, and never over an edit


def test_without_a_token_first_run_creates_nothing(settings):
    settings.SLACK_BOT_TOKEN = None
    Destination.objects.all().delete()
    assert services.first_run_slack_destination_ensure() is None
    assert not Destination.objects.exists()


def test_checklist_from_empty_to_done(admin_client, slack_unconfigured, settings):
    Destination.objects.all().delete()
    page = admin_client.get(reverse("settings-index")).content.decode()
    assert page.count("not done") == 5
    assert 'href="/settings/alert-sources/"' in page
    assert reverse("all-tokens") in page

    settings.SLACK_BOT_TOKEN = "xoxb-env-token-0000"
    services.first_run_slack_destination_ensure()
    DestinationFactory(audience=audience("cs"), kind="email", target="cs@keel.test")
    ComponentFactory()
    ServiceFactory()
    UserFactory()
    page = admin_client.get(reverse("settings-index")).content.decode()
    assert "not done" not in page and page.count("is-done") == 5


def test_secrets_never_appear_in_pages_logs_history_or_api(
    admin_client,
    slack_unconfigured,
    django_capture_on_commit_callbacks,
    caplog,
    as_user,
    admin_user,
):
    caplog.set_level(logging.DEBUG)
    with django_capture_on_commit_callbacks():
        response = admin_client.post(
            reverse("settings-slack"), {"bot_token": BOT_TOKEN, "signing_secret": SIGNING_SECRET}
        )
    slack_check_run(check_id=SlackCheck.objects.get().pk)
    # A failing form re-renders without the values typed in.
    refused = admin_client.post(
        reverse("settings-slack"), {"bot_token": BOT_TOKEN, "signing_secret": "short"}
    )
    pages = [response, refused] + [
        admin_client.get(reverse(name))
        for name in ("settings-index", "settings-slack", "settings-email", "settings-destinations")
    ]
    pages.append(
        admin_client.get(reverse("settings-slack-check", args=[SlackCheck.objects.first().pk]))
    )
    pages.append(admin_client.get(reverse("settings-slack-manifest")))
    pages.append(as_user(admin_user).get("/api/v1/incidents/"))
    seen = [page.content.decode() for page in pages]
    slack_page = seen[3]
    seen += [record.getMessage() for record in caplog.records]
    for history in SlackSettings.history.all():
        seen.append(repr(history.__dict__))
    for check in SlackCheck.objects.all():
        seen.append(repr({k: v for k, v in check.__dict__.items() if "encrypted" not in k}))
    for marker in (BOT_TOKEN, SIGNING_SECRET, BOT_TOKEN[5:], SIGNING_SECRET[:-4]):
        assert not [text for text in seen if marker in text], marker
    assert f"set (…{BOT_TOKEN[-4:]})" in slack_page  # what the page shows of it
