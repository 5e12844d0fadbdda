"""Similar past incidents: the ranking on a fixture set with a known top 3, what each
says was chosen and done, the private-incident gate, and the Recurrence pre-fill."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from incidents import services as incident_services
from incidents.intake.models import AlertGroup
from incidents.intake.receive import group_key_hash
from incidents.models import Incident
from postmortems import recurrence, services
from tests.factories.incidents import IncidentFactory, ServiceFactory, UserFactory
from tests.factories.postmortems import recovered_incident

pytestmark = pytest.mark.django_db


@pytest.fixture
def rita(db):
    return UserFactory(username="rita", role="responder")


def _alert(incident, name: str) -> None:
    group_key = f'{{}}/{incident.pk}:{{alertname="{name}"}}'
    AlertGroup.objects.create(
        group_key=group_key,
        key_hash=group_key_hash(None, "", group_key),
        incident=incident,
        last_status="firing",
        last_received_at=timezone.now(),
    )


def _past(title, *, days_ago, services=(), patterns=(), summary="", **extra):
    incident = IncidentFactory(
        title=title,
        summary=summary,
        detected_at=timezone.now() - timedelta(days=days_ago),
        failure_patterns=list(patterns),
        **extra,
    )
    incident.services.set(services)
    return incident


@pytest.fixture
def fixture_set(rita):
    """The query (checkout payments timing out) and six past incidents around it."""
    checkout = ServiceFactory(name="Checkout", slug="checkout")
    payments = ServiceFactory(name="Payments", slug="payments")
    auth = ServiceFactory(name="Auth", slug="auth")
    search = ServiceFactory(name="Search", slug="search")

    # The best match: both services, a pattern, the same alert, near-identical wording,
    # and a postmortem that says what was chosen and which items were done.
    same = recovered_incident(actor=rita, title="Checkout payment timeouts")
    same.services.set([checkout, payments])
    same.failure_patterns = ["dependency"]
    same.save(update_fields=["failure_patterns"])
    _alert(same, "CheckoutLatencyHigh")
    postmortem = services.postmortem_start(incident=same, actor=rita)
    option = postmortem.remediation_options.get(title="Roll back")
    services.postmortem_update(
        postmortem=postmortem,
        actor=rita,
        expected_version=postmortem.version,
        sections={
            "remediations": {
                "rows": [
                    {"id": option.pk, "title": "Roll back", "chosen": True, "reason": "Known good."}
                ]
            }
        },
    )
    for title, status in (("Circuit breaker on the gateway", "done"), ("Alert on p99", "open")):
        services.action_item_create(
            postmortem=postmortem, actor=rita, data={"title": title, "status": status}
        )

    provider = _past(
        "Payments provider outage",
        days_ago=40,
        services=[payments],
        patterns=["dependency", "cascading"],
    )
    deploy = _past("Checkout slow after deploy", days_ago=20, services=[checkout])
    _past("Login page typo", days_ago=10, services=[auth])
    _past("Search index lag", days_ago=5, services=[search], patterns=["capacity"])
    other = UserFactory(username="sec", role="responder")
    hidden = _past(
        "Checkout payment timeouts again",
        days_ago=2,
        services=[checkout, payments],
        patterns=["dependency", "cascading"],
        private=True,
        created_by=other,
        commander=other,
    )
    query = incident_services.incident_declare(
        title="Checkout payments timing out",
        summary="Card payments time out at the gateway.",
        severity=same.severity,
        actor=rita,
    )
    query.services.set([checkout, payments])
    query.failure_patterns = ["dependency", "cascading"]
    query.save(update_fields=["failure_patterns"])
    _alert(query, "CheckoutLatencyHigh")
    return {"query": query, "same": same, "provider": provider, "deploy": deploy, "hidden": hidden}


def test_the_ranking_puts_the_expected_three_first(fixture_set, rita):
    found = recurrence.similar_to_incident(incident=fixture_set["query"], user=rita)
    assert [r.incident for r in found[:3]] == [
        fixture_set["same"],
        fixture_set["provider"],
        fixture_set["deploy"],
    ]
    # Nothing alike at all is not offered.
    assert {r.incident.title for r in found} <= {
        "Checkout payment timeouts",
        "Payments provider outage",
        "Checkout slow after deploy",
    }
    best = found[0]
    assert best.shared["services"] == ["checkout", "payments"]
    assert best.shared["failure_patterns"] == ["dependency"]
    assert best.shared["alert_names"] == ["checkoutlatencyhigh"]
    assert best.remediation == "Roll back — Known good."
    assert (best.action_items_done, best.action_items_total) == (1, 2)
    assert best.action_items_summary == "1 of 2 action items done"
    assert "services: checkout, payments" in best.alike


def test_the_fallback_ranking_finds_the_same_three(fixture_set):
    # What SQLite runs: no database pre-selection, text similarity computed in Python.
    query = fixture_set["query"]
    candidates = Incident.objects.filter(private=False, detected_at__lt=query.detected_at)
    found = recurrence.rank(recurrence.signature_of(query), recurrence.with_related(candidates))
    assert [r.incident for r in found[:3]] == [
        fixture_set["same"],
        fixture_set["provider"],
        fixture_set["deploy"],
    ]


def test_a_private_incident_is_offered_only_to_who_may_see_it(fixture_set, rita):
    seen = recurrence.similar_to_incident(incident=fixture_set["query"], user=rita)
    assert fixture_set["hidden"] not in [r.incident for r in seen]
    admin = UserFactory(username="ada", role="admin")
    admin.is_superuser = True
    admin.save(update_fields=["is_superuser"])
    # The hidden one was detected before the query; an admin sees it among the first.
    shown = recurrence.similar_to_incident(incident=fixture_set["query"], user=admin)
    assert fixture_set["hidden"] in [r.incident for r in shown[:2]]


def test_suggestions_while_declaring_follow_the_typed_title_and_services(fixture_set, rita):
    checkout = fixture_set["deploy"].services.get()
    found = recurrence.similar_to_draft(
        user=rita, title="Checkout payment timeouts", services=[checkout]
    )
    # The query incident is itself a past incident by now: the two lead.
    assert {r.incident for r in found[:2]} == {fixture_set["same"], fixture_set["query"]}
    assert fixture_set["hidden"] not in [r.incident for r in found]
    assert recurrence.similar_to_draft(user=rita, title="", services=[]) == []


def test_the_postmortem_recurrence_section_is_prefilled_with_public_matches(fixture_set, rita):
    postmortem = services.postmortem_start(incident=fixture_set["query"], actor=rita)
    section = postmortem.sections.get(key="recurrence")
    rows = section.content["rows"]
    assert [row["incident"] for row in rows[:3]] == [
        fixture_set["same"].pk,
        fixture_set["provider"].pk,
        fixture_set["deploy"].pk,
    ]
    assert fixture_set["hidden"].pk not in [row["incident"] for row in rows]
    assert rows[0]["remediation"] == "Roll back — Known good."
    assert rows[0]["action_items"] == (
        "1 of 2 action items done: Circuit breaker on the gateway (done); Alert on p99 (open)."
    )
    assert section.generated["rows"] == rows


def test_failure_points_and_middleware_of_both_postmortems_count(rita):
    queue = ServiceFactory(name="Orders", slug="orders")
    earlier = recovered_incident(actor=rita, title="Order export stalled")
    later = recovered_incident(actor=rita, title="Nightly report missing")
    for incident in (earlier, later):
        incident.services.set([queue])
        pm = services.postmortem_start(incident=incident, actor=rita)
        services.postmortem_update(
            postmortem=pm,
            actor=rita,
            expected_version=pm.version,
            sections={
                "failure_points": {"rows": [{"component": "RabbitMQ", "connection": "orders"}]},
                "middleware": {"rows": [{"name": "Redis"}]},
            },
        )
    found = recurrence.similar_to_incident(incident=later, user=rita)
    assert found[0].incident == earlier
    assert found[0].shared["failure_points"] == ["rabbitmq"]
    assert found[0].shared["middleware"] == ["redis"]


def test_the_python_trigrams_are_pg_trgm_s():
    # pg_trgm: similarity('word', 'two words') = 4 shared of 11 trigrams.
    assert recurrence.trigrams("Word") == {"  w", " wo", "wor", "ord", "rd "}
    assert recurrence.trigram_similarity("word", "two words") == pytest.approx(4 / 11)
    assert recurrence.trigram_similarity("", "anything") == 0.0


def test_the_fallback_text_similarity_without_postgres():
    query = recurrence.Signature(title="Checkout payments timing out", text="checkout payments")
    close = recurrence.Signature(title="Checkout payment timeouts", text="Checkout payment")
    far = recurrence.Signature(title="Login page typo", text="Login page typo")
    assert recurrence.python_text_similarity(query, close) > 0.5
    assert recurrence.python_text_similarity(query, far) < 0.3


@pytest.mark.skipif(connection.vendor != "postgresql", reason="pg_trgm is PostgreSQL's")
def test_the_trigram_extension_is_installed():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
        assert cursor.fetchone() == (1,)
