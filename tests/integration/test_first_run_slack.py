"""A first run that works: with only ``SLACK_BOT_TOKEN`` and
``SLACK_INCIDENTS_CHANNEL`` set on a fresh database, a declared SEV1 is announced
in that channel by a real worker, with nothing set up in Settings or the admin."""

import pytest
from django.core.management import call_command

from incidents import services as incident_services
from notifications.models import Delivery, Destination
from tests.factories.incidents import severity
from tests.integration.conftest import wait_for
from workspace.models import SlackSettings

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_a_fresh_install_with_the_two_slack_variables_announces_a_sev1(
    settings, start_worker, fake_slack_server, responder
):
    fake = fake_slack_server.fake
    fake.add_channel("C0WARROOM", "war-room")
    settings.SLACK_INCIDENTS_CHANNEL = "#war-room"
    # A fresh database: the data migrations' audiences and routes, no destination.
    Destination.objects.all().delete()
    assert not SlackSettings.objects.exists()
    call_command("migrate", verbosity=0)  # what `make run` and docker-compose run first
    start_worker(env={"SLACK_INCIDENTS_CHANNEL": "#war-room"})

    incident = incident_services.incident_declare(
        title="Checkout is down", severity=severity("SEV1"), actor=responder
    )

    wait_for(lambda: fake.roots("C0WARROOM"), what="the announcement in #war-room")
    (root,) = fake.roots("C0WARROOM")
    assert "Checkout is down" in root["text"]
    assert fake.calls_to("chat.postMessage")[0].token == "xoxb-test-token"
    delivery = Delivery.objects.get(update__incident=incident, destination__kind="slack")
    wait_for(
        lambda: Delivery.objects.get(pk=delivery.pk).status == Delivery.Status.SENT,
        what="the delivery marked sent",
    )
    assert Destination.objects.get(kind="slack").audience.slug == "responders"
