"""The answer to a posted status update (``apis.posted_answer``) is what
``UpdateOutput`` writes for it, field for field: as posted and as read back, with
every kind of delivery (Slack, email threading on an earlier one, a disabled
destination), with and without a promised next update, in UTC and another zone."""

import zoneinfo
from datetime import timedelta

import pytest
from django.utils import timezone

from incidents import services as incident_services
from notifications import selectors, services
from notifications.apis import UpdateOutput, posted_answer
from notifications.models import Destination
from tests.factories.incidents import severity
from tests.factories.notifications import DestinationFactory, audience

pytestmark = pytest.mark.django_db


@pytest.fixture
def posted(responder):
    DestinationFactory(audience=audience("responders"), name="incidents channel")
    DestinationFactory(
        audience=audience("cs"),
        kind=Destination.Kind.EMAIL,
        name="cs list",
        target="cs@example.test",
    )
    DestinationFactory(
        audience=audience("cs"), name="cs channel (off)", enabled=False, target="C0CS"
    )
    incident = incident_services.incident_declare(
        title="Search is slow", severity=severity("SEV3"), actor=responder
    )

    def post(message: str, **fields):
        return services.update_post(
            incident=incident,
            message=message,
            actor=responder,
            audiences=["responders", "cs", "business"],
            **fields,
        )

    post("First.")  # the second email answers the first one's thread
    return post


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin"])
@pytest.mark.parametrize("promised", [False, True])
def test_the_posted_answer_is_what_update_output_writes(posted, zone, promised):
    fields = {"next_update_at": timezone.now() + timedelta(minutes=30)} if promised else {}
    update = posted("We are rolling back.", **fields)

    with timezone.override(zoneinfo.ZoneInfo(zone)):
        answer = posted_answer(selectors.update_as_posted(update))
        assert answer == UpdateOutput(selectors.update_as_posted(update)).data
        (read,) = [u for u in selectors.updates_for(incident=update.incident) if u == update]
        assert answer == UpdateOutput(read).data

    assert [d["status"] for d in answer["deliveries"]].count("skipped") == 1
    assert len(answer["deliveries"]) == 3
    assert answer["audiences"] == ["responders", "cs", "business"]
    assert (answer["next_update_at"] is not None) == promised
