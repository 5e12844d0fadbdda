"""Settings → Routing: the default routes as sentences, and "who would be told?"."""

import pytest
from django.urls import reverse

from notifications.models import Route
from tests.factories.incidents import ServiceFactory
from tests.factories.notifications import DestinationFactory, audience
from workspace.routing import route_sentence

pytestmark = pytest.mark.django_db


def test_default_routes_read_as_sentences():
    sentences = {route.name: route_sentence(route) for route in Route.objects.all()}
    assert sentences["Every update reaches the responders"] == (
        "Any severity on any service, on every update: Responders"
    )
    business = sentences[
        "Business: SEV1-SEV2 declared, severity changed, restored, reopened, postmortem"
    ]
    assert business.startswith("SEV1 or SEV2 on any service, on incident declared, ")
    assert business.endswith(f": {audience('business').name}")
    public = sentences["Every public update reaches CS"]
    assert "on every update that carries a public status" in public


def test_who_would_be_told(admin_client):
    DestinationFactory(audience=audience("cs"), kind="email", target="cs@k.test", name="CS list")
    service = ServiceFactory(name="Checkout")
    url = reverse("settings-routing")
    page = admin_client.get(url, {"severity": "SEV2", "service": service.pk, "kind": "declared"})
    told = {
        slug
        for slug in ("responders", "cs", "business")
        if f'data-told="{slug}"' in (page.content.decode())
    }
    assert told == {"responders", "cs", "business"}
    assert "CS list" in page.content.decode()

    reminder = admin_client.get(
        url, {"severity": "SEV4", "kind": "reminder"}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert reminder.startswith('<div id="who-is-told"')  # HTMX gets only the answer
    assert 'data-told="responders"' in reminder and 'data-told="cs"' not in reminder

    bad = admin_client.get(url, {"severity": "SEV9", "kind": "declared"}).content.decode()
    assert "Select a valid choice" in bad
