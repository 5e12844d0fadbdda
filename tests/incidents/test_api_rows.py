"""The API incidents list's plain rows (incidents.api_rows, from the values
api_row_selectors.incident_api_rows reads) are what IncidentOutput writes for the same
incidents read as the detail reads them, with every optional part present and with
none of them."""

from datetime import timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.utils import timezone

from incidents import api_row_selectors, api_rows, selectors
from incidents.models import Category, DetectionSource, FailurePattern
from incidents.serializers import IncidentOutput
from tests.factories.incidents import (
    ChangeFactory,
    DecisionFactory,
    IncidentFactory,
    ServiceFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def _everything(reader):
    """An incident with every part IncidentOutput writes set (and a duplicate the
    reader may see, one they may not)."""
    people = [UserFactory(username=f"person{i}", role="responder") for i in range(4)]
    now = timezone.now().replace(microsecond=123456)
    services = [ServiceFactory(slug="payments", tier=2), ServiceFactory(slug="checkout", tier=1)]
    change = ChangeFactory(service=services[0], recorded_by=people[0], url="https://ci/run/7")
    original = IncidentFactory(created_by=reader)
    incident = IncidentFactory(
        created_by=reader,
        private=True,
        summary="Payments failed for EU cards.\nRolled back.",
        stage="retrospect",
        detected_at=now - timedelta(hours=5),
        started_at=now - timedelta(hours=6),
        propagated_at=now - timedelta(hours=4, minutes=30),
        propagated_by=people[0],
        judged_at=now - timedelta(hours=4),
        judged_by=people[1],
        recovered_at=now - timedelta(hours=3),
        recovered_by=people[2],
        analyzed_at=now - timedelta(hours=2),
        analyzed_by=people[3],
        shared_at=now - timedelta(hours=1, minutes=30),
        shared_by=people[0],
        retrospected_at=now - timedelta(hours=1),
        retrospected_by=people[1],
        closed_at=now - timedelta(minutes=30),
        closed_by=people[2],
        outcome="duplicate",
        outcome_reason="Same root cause as the first.",
        duplicate_of=original,
        reopened_count=2,
        detection_source=DetectionSource.CUSTOMER_REPORT,
        detected_before_customers=False,
        affected_users_count=1200,
        affected_users_percent=Decimal("12.5"),
        affected_features="Card payments",
        estimated_loss=Decimal("10400"),
        compensation=Decimal("250.1"),
        sla_minutes_breached=45,
        category=Category.SOFTWARE,
        failure_patterns=[FailurePattern.CASCADING, FailurePattern.SILENT],
        commander=people[3],
        communications_lead=people[1],
        scribe=people[2],
        preceding_change=change,
    )
    incident.services.set(services)
    incident.responders.set([people[0], people[2]])
    DecisionFactory(incident=incident, decided_at=now - timedelta(hours=3, minutes=30))
    outcome = {"closed_at": now, "outcome": "duplicate", "duplicate_of": incident}
    IncidentFactory(created_by=reader, **outcome)
    IncidentFactory(created_by=people[0], private=True, **outcome)  # not the reader's to see
    return incident


@pytest.mark.parametrize("zone", ["UTC", "Europe/Paris"])
def test_the_plain_rows_are_what_the_serializer_writes(zone):
    reader = UserFactory(username="reader", role="responder")
    full = _everything(reader)
    bare = IncidentFactory(created_by=reader, commander=None, detected_by=None, summary="")
    change = ChangeFactory(service=None, recorded_by=None, deployed_at=timezone.now())
    unattributed = IncidentFactory(created_by=reader, preceding_change=change)
    pks = [full.pk, bare.pk, unattributed.pk]
    rows = api_row_selectors.incident_api_rows(pks, user=reader)
    # What the detail answer writes for each: the serializer on the full instance.
    detailed = [selectors.incident_detail(user=reader, pk=pk) for pk in pks]

    frozen = mock.patch("django.utils.timezone.now", return_value=timezone.now())
    with frozen, timezone.override(zone):
        plain = api_rows.incident_rows(rows)
        serialized = IncidentOutput(detailed, many=True).data

    by_id = {row["id"]: row for row in plain}
    assert by_id == {row["id"]: dict(row) for row in serialized}
    assert by_id[full.pk]["trigger_change"]["service"] == "payments"
    assert by_id[full.pk]["services"] == ["checkout", "payments"]
    assert len(by_id[full.pk]["duplicates"]) == 1
    assert by_id[full.pk]["affected_users_percent"] == "12.50"
    assert by_id[bare.pk]["commander"] is None and by_id[bare.pk]["trigger_change"] is None
    assert by_id[unattributed.pk]["trigger_change"]["service"] is None
