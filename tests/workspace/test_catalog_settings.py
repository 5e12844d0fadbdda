"""Settings → Severities (cadence, closing rules, rank) and Settings → Services
(teams with members, services with owners): audited writes, field-level errors,
removals refused with the reason, admins only."""

import pytest
from django.urls import reverse

from incidents import lifecycle
from incidents.models import Service, Severity, Team
from notifications.models import Route
from tests.factories.incidents import (
    IncidentFactory,
    ServiceFactory,
    TeamFactory,
    UserFactory,
    severity,
)
from tests.factories.statuspage import ComponentFactory

pytestmark = pytest.mark.django_db


def _severity_fields(sev: Severity, **changes) -> dict:
    fields = {
        "name": sev.name,
        "definition": sev.definition,
        "required_response": sev.required_response,
        "update_interval_minutes": sev.update_interval_minutes,
    }
    if sev.postmortem_required:
        fields["postmortem_required"] = "on"
    if sev.page_business_team:
        fields["page_business_team"] = "on"
    return {**fields, **changes}


def test_editing_a_severity_changes_its_cadence_and_closing_rule(admin_client, admin_user):
    sev3 = severity("SEV3")
    incident = IncidentFactory(severity=sev3)
    fields = _severity_fields(
        sev3, update_interval_minutes=45, postmortem_required="on", name="Minor outage"
    )
    response = admin_client.post(reverse("settings-severity-edit", args=[sev3.pk]), fields)
    assert response.status_code == 302
    sev3.refresh_from_db()
    assert (sev3.name, sev3.update_interval_minutes, sev3.postmortem_required) == (
        "Minor outage",
        45,
        True,
    )
    assert sev3.history.first().history_user == admin_user
    incident.refresh_from_db()
    assert "SEV3 requires a published postmortem before closing." in lifecycle.closing_blockers(
        incident
    )

    fields.pop("postmortem_required")
    admin_client.post(reverse("settings-severity-edit", args=[sev3.pk]), fields)
    incident.refresh_from_db()
    assert not any("postmortem" in r for r in lifecycle.closing_blockers(incident))
    page = admin_client.get(reverse("settings-severities")).content.decode()
    assert "45 min" in page and "An incident closes as resolved from the retrospect stage." in page


@pytest.mark.parametrize(
    "change, field_id, error",
    [
        (
            {"update_interval_minutes": "0"},
            "id_update_interval_minutes",
            "greater than or equal to 1",
        ),
        (
            {"update_interval_minutes": "soon"},
            "id_update_interval_minutes",
            "Enter a whole number.",
        ),
        (
            {"update_interval_minutes": "99999999999"},
            "id_update_interval_minutes",
            "less than or equal to 10080",
        ),
        ({"name": "n" * 101}, "id_name", "at most 100 characters"),
        ({"definition": "d" * 1001}, "id_definition", "at most 1000 characters"),
        ({"required_response": ""}, "id_required_response", "This field is required."),
    ],
)
def test_bad_severity_input_is_a_field_error(admin_client, change, field_id, error):
    sev2 = severity("SEV2")
    before = sev2.update_interval_minutes
    response = admin_client.post(
        reverse("settings-severity-edit", args=[sev2.pk]), _severity_fields(sev2, **change)
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert error in page and f'for="{field_id}"' in page
    sev2.refresh_from_db()
    assert sev2.update_interval_minutes == before


def test_rank_order_moves_with_up_and_down(admin_client):
    codes = lambda: list(Severity.objects.order_by("rank").values_list("code", flat=True))  # noqa: E731
    start = codes()
    ranks = set(Severity.objects.values_list("rank", flat=True))
    sev2 = severity("SEV2")
    admin_client.post(reverse("settings-severity-move", args=[sev2.pk]), {"direction": "up"})
    assert codes()[:2] == ["SEV2", "SEV1"]
    assert set(Severity.objects.values_list("rank", flat=True)) == ranks  # swapped, not renumbered
    admin_client.post(reverse("settings-severity-move", args=[sev2.pk]), {"direction": "down"})
    assert codes() == start
    assert sev2.history.filter(history_change_reason__startswith="rank").count() == 2


def test_a_team_with_members_and_a_service_it_owns(admin_client, admin_user):
    rita, sam = UserFactory(username="rita"), UserFactory(username="sam")
    response = admin_client.post(
        reverse("settings-team-add"),
        {
            "team-name": "Payments Core",
            "team-description": "Cards.",
            "team-members": [rita.pk, sam.pk],
        },
    )
    assert response.status_code == 302
    team = Team.objects.get(name="Payments Core")
    assert team.slug == "payments-core"
    assert set(team.members.all()) == {rita, sam}
    assert team.history.first().history_user == admin_user

    response = admin_client.post(
        reverse("settings-service-add"),
        {
            "service-name": "Checkout API",
            "service-description": "",
            "service-owner_team": team.pk,
            "service-tier": "1",
        },
    )
    assert response.status_code == 302
    service = Service.objects.get(name="Checkout API")
    assert (service.slug, service.owner_team, service.tier) == ("checkout-api", team, 1)

    page = admin_client.get(reverse("settings-services")).content.decode()
    assert 'data-service="checkout-api"' in page and "Payments Core" in page

    refused = admin_client.post(reverse("settings-team-remove", args=[team.pk]), follow=True)
    assert (
        "Payments Core cannot be removed: it owns Checkout API (give them another owner first)."
        in refused.content.decode()
    )
    assert Team.objects.filter(pk=team.pk).exists()

    edit = admin_client.post(
        reverse("settings-service-edit", args=[service.pk]),
        {"name": "Checkout API", "slug": "checkout", "owner_team": "", "tier": "2"},
    )
    assert edit.status_code == 302
    service.refresh_from_db()
    assert (service.slug, service.owner_team, service.tier) == ("checkout", None, 2)
    admin_client.post(reverse("settings-team-remove", args=[team.pk]))
    assert not Team.objects.filter(pk=team.pk).exists()


def test_removing_a_service_is_refused_while_incidents_routes_or_components_name_it(
    admin_client,
):
    service = ServiceFactory(name="Search")
    incident = IncidentFactory()
    incident.services.add(service)
    route = Route.objects.first()
    route.services.add(service)
    ComponentFactory(name="Search box").services.add(service)
    edit = admin_client.get(reverse("settings-service-edit", args=[service.pk])).content.decode()
    assert (
        "Cannot be removed: 1 incident(s) name it; 1 routing rule(s) match it; "
        "status page component(s) Search box stand for it." in edit
    )
    refused = admin_client.post(reverse("settings-service-remove", args=[service.pk]), follow=True)
    assert "Search cannot be removed: 1 incident(s) name it" in refused.content.decode()
    assert Service.objects.filter(pk=service.pk).exists()

    lonely = ServiceFactory(name="Unused")
    admin_client.post(reverse("settings-service-remove", args=[lonely.pk]))
    assert not Service.objects.filter(pk=lonely.pk).exists()
    assert Service.history.filter(name="Unused", history_type="-").exists()


@pytest.mark.parametrize(
    "fields, field_id, error",
    [
        ({"service-name": ""}, "id_service-name", "This field is required."),
        ({"service-name": "s" * 101}, "id_service-name", "at most 100 characters"),
        ({"service-name": "Taken"}, "id_service-name", "A service is already called Taken."),
        (
            {"service-name": "New", "service-slug": "taken"},
            "id_service-slug",
            "Another service has the slug taken.",
        ),
        ({"service-name": "New", "service-slug": "no spaces"}, "id_service-slug", "Enter a valid"),
        ({"service-name": "New", "service-tier": "9"}, "id_service-tier", "Select a valid choice."),
        (
            {"service-name": "New", "service-owner_team": "x"},
            "id_service-owner_team",
            "Select a valid choice.",
        ),
        (
            {"service-name": "New", "service-description": "d" * 1001},
            "id_service-description",
            "at most 1000",
        ),
    ],
)
def test_bad_service_input_is_a_field_error(admin_client, fields, field_id, error):
    ServiceFactory(name="Taken", slug="taken")
    response = admin_client.post(reverse("settings-service-add"), {"service-tier": "2", **fields})
    assert response.status_code == 400
    page = response.content.decode()
    assert error in page and f'for="{field_id}"' in page
    assert Service.objects.count() == 1


@pytest.mark.parametrize(
    "fields, field_id, error",
    [
        ({"team-name": ""}, "id_team-name", "This field is required."),
        ({"team-name": "t" * 101}, "id_team-name", "at most 100 characters"),
        ({"team-name": "platform"}, "id_team-name", "A team is already called platform."),
        (
            {"team-name": "New", "team-members": ["999999"]},
            "id_team-members",
            "Select a valid choice.",
        ),
    ],
)
def test_bad_team_input_is_a_field_error(admin_client, fields, field_id, error):
    TeamFactory(name="Platform", slug="platform")
    response = admin_client.post(reverse("settings-team-add"), fields)
    assert response.status_code == 400
    page = response.content.decode()
    assert error in page and f'for="{field_id}"' in page
    assert Team.objects.count() == 1


def test_catalog_settings_are_for_admins_only(client):
    team, service, sev = TeamFactory(), ServiceFactory(), severity("SEV1")
    client.force_login(UserFactory(username="victor", role="viewer"))
    gets = [
        reverse("settings-severities"),
        reverse("settings-severity-edit", args=[sev.pk]),
        reverse("settings-services"),
        reverse("settings-team-edit", args=[team.pk]),
        reverse("settings-service-edit", args=[service.pk]),
    ]
    for url in gets:
        assert client.get(url).status_code == 403, url
    posts = [
        reverse("settings-severity-edit", args=[sev.pk]),
        reverse("settings-severity-move", args=[sev.pk]),
        reverse("settings-team-add"),
        reverse("settings-team-edit", args=[team.pk]),
        reverse("settings-team-remove", args=[team.pk]),
        reverse("settings-service-add"),
        reverse("settings-service-edit", args=[service.pk]),
        reverse("settings-service-remove", args=[service.pk]),
    ]
    for url in posts:
        assert client.post(url, {"name": "x", "direction": "down"}).status_code == 403, url
    client.logout()
    assert client.get(reverse("settings-services")).status_code == 302  # to sign in
    assert (
        Team.objects.filter(pk=team.pk).exists() and Service.objects.filter(pk=service.pk).exists()
    )
