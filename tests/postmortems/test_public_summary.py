"""Publishing a postmortem with a public summary: the summary passes the status page's
own check before anything is written; refused, nothing is published or sent."""

import pytest
from django.core import mail
from django.utils import timezone

from common.exceptions import InvalidInput
from notifications import outbox
from notifications.models import Delivery, Destination, StatusUpdate
from notifications.services import update_post
from postmortems import services
from postmortems.models import Postmortem
from statuspage.models import PublicIncident
from tests.factories.incidents import UserFactory
from tests.factories.postmortems import started_postmortem

pytestmark = pytest.mark.django_db


@pytest.fixture
def approved(db):
    rita = UserFactory(username="rita", role="responder")
    bob = UserFactory(username="bob", role="responder")
    pm = started_postmortem(actor=rita)
    services.postmortem_submit(postmortem=pm, actor=rita, reviewers=[bob])
    services.postmortem_approve(postmortem=pm, actor=bob, comment="Good.")
    return pm, rita


def _publish_now(update):
    delivery = update.deliveries.get(destination__kind=Destination.Kind.STATUSPAGE)
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    assert outbox.delivery_attempt(delivery.pk).status == Delivery.Status.SENT


def test_a_summary_for_an_incident_never_made_public_is_refused_and_nothing_written(approved):
    pm, rita = approved
    before = (StatusUpdate.objects.count(), Delivery.objects.count())
    mail.outbox.clear()

    with pytest.raises(InvalidInput) as refused:
        services.postmortem_publish(postmortem=pm, actor=rita, public_summary="We fixed it.")

    assert refused.value.field == "public_summary"
    assert "nothing public to resolve or summarise" in refused.value.message
    pm.refresh_from_db()
    assert pm.status == Postmortem.Status.IN_REVIEW
    assert (StatusUpdate.objects.count(), Delivery.objects.count()) == before
    assert mail.outbox == []


def test_a_summary_joins_the_resolved_public_incident_as_an_addendum(approved):
    pm, rita = approved
    for status, title in (("investigating", "Payment problems"), ("resolved", "")):
        _publish_now(
            update_post(
                incident=pm.incident,
                message=f"{status}.",
                actor=rita,
                audiences=["public"],
                public_status=status,
                public_title=title,
            )
        )

    services.postmortem_publish(postmortem=pm, actor=rita, public_summary="What happened: ...")

    summary = StatusUpdate.objects.get(message="What happened: ...")
    _publish_now(summary)
    (public,) = PublicIncident.objects.all()
    assert public.status == "resolved" and public.updates.count() == 3
