"""The lists' "Open for": ``lasted`` (start → end, or now while open)."""

from datetime import UTC, datetime, timedelta

from django.template import Context, Template
from django.utils import timezone

DETECTED = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def _render(start, end) -> str:
    template = Template("{% load keel %}{{ start|lasted:end }}")
    return template.render(Context({"start": start, "end": end}))


def test_a_closed_incident_lasted_from_detection_to_closing():
    assert _render(DETECTED, DETECTED + timedelta(hours=2, minutes=5)) == "2h 05m"
    assert _render(DETECTED, DETECTED + timedelta(days=3, minutes=1)) == "3d 0h 01m"


def test_an_open_incident_lasts_until_now():
    started = timezone.now() - timedelta(minutes=44, seconds=30)
    assert _render(started, None).startswith("44m ")


def test_a_closing_before_detection_reads_as_nothing_rather_than_negative():
    assert _render(DETECTED, DETECTED - timedelta(minutes=5)) == "0s"


def test_no_start_is_empty():
    assert _render(None, None) == ""
