"""``EpochSeconds`` reads a datetime as the same float on PostgreSQL and SQLite
(CI runs the report tests on both; this one pins the conversion itself)."""

from datetime import UTC, datetime

import pytest

from common.epoch import EpochSeconds
from incidents.models import Incident
from tests.factories.incidents import IncidentFactory

pytestmark = pytest.mark.django_db


def test_a_timestamp_reads_as_its_epoch_seconds_and_null_stays_null():
    detected = datetime(2026, 10, 3, 14, 5, 30, tzinfo=UTC)
    IncidentFactory(detected_at=detected, started_at=detected, recovered_at=None)
    seconds, recovered = Incident.objects.values_list(
        EpochSeconds("detected_at"), EpochSeconds("recovered_at")
    ).get()
    assert seconds == detected.timestamp()
    assert recovered is None


def test_a_difference_keeps_the_millisecond():
    detected = datetime(2026, 10, 3, 14, 5, 30, tzinfo=UTC)
    started = datetime(2026, 10, 3, 13, 50, 0, 250000, tzinfo=UTC)
    IncidentFactory(detected_at=detected, started_at=started)
    started_s, detected_s = Incident.objects.values_list(
        EpochSeconds("started_at"), EpochSeconds("detected_at")
    ).get()
    assert round(detected_s - started_s, 3) == 929.75
