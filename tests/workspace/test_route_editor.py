"""Settings → Routing edits the rules with selects and checkboxes: create, edit,
deactivate, delete (``notifications.routes``, with history), field-level errors,
and the sentence and the preview follow what was written."""

import pytest
from django.urls import reverse

from common.exceptions import InvalidInput, NotAllowed
from notifications import routes
from notifications.models import Route
from tests.factories.incidents import ServiceFactory, UserFactory, severity
from tests.factories.notifications import DestinationFactory, audience
from workspace.routing import route_sentence

pytestmark = pytest.mark.django_db


def _rule(**changes) -> dict:
    data = {
        "name": "Checkout SEV3 declared to business",
        "audience": str(audience("business").pk),
        "severities": [str(severity("SEV3").pk)],
        "update_kinds": ["declared"],
        "active": "on",
    }
    return {**data, **changes}


def _told(client, **query) -> set[str]:
    page = client.get(reverse("settings-routing"), query, HTTP_HX_REQUEST="true")
    html = page.content.decode()
    return {slug for slug in ("responders", "cs", "business") if f'data-told="{slug}"' in html}


def test_a_rule_written_in_the_form_reads_as_a_sentence_and_changes_the_preview(
    admin_client, admin_user
):
    checkout = ServiceFactory(name="checkout-api")
    DestinationFactory(
        audience=audience("business"), kind="email", target="biz@k.test", name="Business list"
    )
    sev3_declared = {"severity": "SEV3", "service": checkout.pk, "kind": "declared"}
    assert _told(admin_client, **sev3_declared) == {"responders", "cs"}

    response = admin_client.post(
        reverse("settings-route-new"),
        _rule(services=[str(checkout.pk)], update_kinds=["declared", "resolved"]),
        follow=True,
    )
    route = Route.objects.get(name="Checkout SEV3 declared to business")
    assert route_sentence(route) == (
        "SEV3 on checkout-api, on incident declared or service restored: "
        + audience("business").name
    )
    page = response.content.decode()
    assert f"Rule added: {route_sentence(route)}" in page
    assert route_sentence(route) in page.split('class="route-list')[1]  # in the list
    assert _told(admin_client, **sev3_declared) == {"responders", "cs", "business"}
    no_service = _told(admin_client, severity="SEV3", kind="declared")
    assert no_service == {"responders", "cs"}

    rows = list(route.history.all())  # the save, then one row per m2m set
    assert {(h.history_user, h.history_change_reason) for h in rows} == {
        (admin_user, "routing rule added in Settings")
    }
    latest = rows[0]
    assert [s.severity.code for s in latest.severities.all()] == ["SEV3"]  # m2m history
    assert [s.service.name for s in latest.services.all()] == ["checkout-api"]


def test_edit_deactivate_activate_and_delete(admin_client, admin_user):
    route = routes.route_create(
        actor=admin_user,
        name="Business hears SEV3",
        audience=audience("business"),
        severities=[severity("SEV3")],
        update_kinds=["declared"],
    )
    edit_url = reverse("settings-route-edit", args=[route.pk])
    form = admin_client.get(edit_url).content.decode()
    assert 'value="Business hears SEV3"' in form
    assert 'value="declared" id="id_update_kinds_1" checked' in form.replace("\n", "")

    response = admin_client.post(
        edit_url,
        _rule(
            name="Business hears SEV3 and SEV4",
            audience=str(audience("business").pk),
            severities=[str(severity("SEV3").pk), str(severity("SEV4").pk)],
            update_kinds=[],
        ),
    )
    assert response.status_code == 302
    route.refresh_from_db()
    assert route_sentence(route) == (
        f"SEV3 or SEV4 on any service, on every update: {audience('business').name}"
    )
    assert _told(admin_client, severity="SEV4", kind="manual") == {"responders", "business"}

    admin_client.post(reverse("settings-route-active", args=[route.pk]), {"active": "0"})
    route.refresh_from_db()
    assert route.active is False
    page = admin_client.get(reverse("settings-routing")).content.decode()
    assert f'data-route="{route.pk}" class="muted"' in page and ">Activate<" in page
    assert _told(admin_client, severity="SEV4", kind="manual") == {"responders"}
    admin_client.post(reverse("settings-route-active", args=[route.pk]), {"active": "1"})
    route.refresh_from_db()
    assert route.active is True

    admin_client.post(reverse("settings-route-delete", args=[route.pk]))
    assert not Route.objects.filter(pk=route.pk).exists()
    reasons = [h.history_change_reason for h in Route.history.filter(id=route.pk)]
    assert list(dict.fromkeys(reasons)) == [
        "routing rule deleted in Settings",
        "routing rule activated in Settings",
        "routing rule deactivated in Settings",
        "routing rule edited in Settings",
        "routing rule added in Settings",
    ]
    assert {h.history_user for h in Route.history.filter(id=route.pk)} == {admin_user}


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"name": ""}, "name", "This field is required"),
        ({"name": "n" * 101}, "name", "at most 100 characters"),
        ({"name": "two\nlines"}, "name", "line break"),
        ({"audience": ""}, "audience", "Choose the audience this rule tells."),
        ({"audience": "999999"}, "audience", "Select a valid choice"),
        ({"severities": ["999999"]}, "severities", "Select a valid choice"),
        ({"services": ["not-a-number"]}, "services", "is not a valid value"),
        ({"update_kinds": ["personal"]}, "update_kinds", "Select a valid choice"),
    ],
)
def test_bad_input_gets_a_field_level_error(admin_client, changes, field, words):
    ServiceFactory(name="checkout-api")  # without a service the form has no service list
    before = Route.objects.count()
    response = admin_client.post(reverse("settings-route-new"), _rule(**changes))
    assert response.status_code == 400
    errors = response.context["route_form"].errors
    assert field in errors, errors
    assert words in " ".join(errors[field])
    assert Route.objects.count() == before


def test_the_services_refuse_what_the_form_would(admin_user):
    with pytest.raises(InvalidInput) as refused:
        routes.route_create(actor=admin_user, name="No audience", audience=None)
    assert refused.value.field == "audience"
    with pytest.raises(InvalidInput) as refused:
        routes.route_create(actor=admin_user, name="x" * 101, audience=audience("cs"))
    assert refused.value.field == "name"
    with pytest.raises(InvalidInput) as refused:
        routes.route_create(
            actor=admin_user, name="odd", audience=audience("cs"), update_kinds=["nonsense"]
        )
    assert refused.value.field == "update_kinds"
    with pytest.raises(NotAllowed):
        routes.route_create(
            actor=UserFactory(role="responder"), name="mine", audience=audience("cs")
        )


def test_non_admins_get_403(client):
    route = Route.objects.first()
    client.force_login(UserFactory(username="rita", role="responder"))
    assert client.get(reverse("settings-routing")).status_code == 403
    assert client.post(reverse("settings-route-new"), _rule()).status_code == 403
    assert client.get(reverse("settings-route-edit", args=[route.pk])).status_code == 403
    assert client.post(reverse("settings-route-edit", args=[route.pk]), _rule()).status_code == 403
    assert client.post(reverse("settings-route-active", args=[route.pk])).status_code == 403
    assert client.post(reverse("settings-route-delete", args=[route.pk])).status_code == 403
    assert Route.objects.filter(pk=route.pk, active=True).exists()


def test_an_unknown_rule_is_404(admin_client):
    assert admin_client.get(reverse("settings-route-edit", args=[999999])).status_code == 404
    assert admin_client.post(reverse("settings-route-delete", args=[999999])).status_code == 404
