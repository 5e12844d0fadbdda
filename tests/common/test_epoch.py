"""``EpochSeconds`` reads a datetime as the same float on PostgreSQL and SQLite
(CI runs the report tests on both; this one pins the conversion itself)."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from django.db.models.functions import ExtractMonth, ExtractYear
from django.utils import timezone

from common.epoch import EpochSeconds, month_labeller
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


def test_a_float_comes_back_as_the_database_returns_it():
    IncidentFactory(detected_at=datetime(2026, 10, 3, 14, 5, 30, tzinfo=UTC))
    (seconds,) = Incident.objects.values_list(EpochSeconds("detected_at")).get()
    assert type(seconds) is float


def test_the_local_month_is_the_one_the_database_extracts():
    # Around two local month starts in Berlin (summer time at the end of September,
    # winter time at the end of October) and the UTC instants either side of them.
    berlin = ZoneInfo("Europe/Berlin")
    moments = [
        datetime(2026, 9, 30, 21, 59, 59, tzinfo=UTC),  # 23:59:59 local, September
        datetime(2026, 9, 30, 22, 0, 0, tzinfo=UTC),  # midnight local: October
        datetime(2026, 10, 31, 22, 59, 59, 500000, tzinfo=UTC),  # still October
        datetime(2026, 10, 31, 23, 0, 0, tzinfo=UTC),  # midnight local: November
        datetime(2026, 12, 31, 23, 30, tzinfo=UTC),  # 2027-01 local
    ]
    for moment in moments:
        IncidentFactory(detected_at=moment, started_at=moment)
    with timezone.override(berlin):
        rows = list(
            Incident.objects.order_by("detected_at").values_list(
                EpochSeconds("detected_at"), ExtractYear("detected_at"), ExtractMonth("detected_at")
            )
        )
    label = month_labeller([seconds for seconds, _, _ in rows], berlin)
    assert [label(seconds) for seconds, _, _ in rows] == [
        f"{year:04d}-{month:02d}" for _, year, month in rows
    ]
    assert [label(seconds) for seconds, _, _ in rows] == [
        "2026-09",
        "2026-10",
        "2026-10",
        "2026-11",
        "2027-01",
    ]
