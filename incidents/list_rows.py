"""What the incident list's table shows, row by row, worked out once per row in Python
from the values the selector read (``selectors.incident_list_rows``): the page's
template reads a dozen plain values per row and includes nothing. As includes and
filters over model instances, 50 rows were most of the page's CPU."""

from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from common.formatting import format_duration
from common.templatetags.keel import person
from common.timezones import time_element
from incidents.lifecycle import Outcome, Stage
from incidents.selectors import IncidentListRow


@dataclass(frozen=True, slots=True)
class ListRow:
    pk: int
    url: str
    title: str
    private: bool
    is_open: bool
    closed_unresolved: bool  # closed as a false alarm, a duplicate or declined
    outcome: str
    outcome_label: str
    duplicate_of_id: int | None
    severity_code: str
    severity_name: str
    severity_rank: int
    stage: str
    stage_label: str
    services: str  # their names, comma-separated; "" for none
    commander: str  # HTML: as the ``person`` filter writes it
    detected: str  # HTML: as the ``when`` filter writes it
    open_for: str  # as the ``lasted`` filter writes it


def list_rows(rows: list[IncidentListRow]) -> list[ListRow]:
    now = timezone.now()
    user_model = get_user_model()
    shown = []
    for row in rows:
        commander = None
        if row.commander_username is not None:
            commander = user_model(
                username=row.commander_username,
                first_name=row.commander_first_name,
                last_name=row.commander_last_name,
            )
        shown.append(
            ListRow(
                pk=row.pk,
                url=reverse("incidents:detail", args=[row.pk]),
                title=row.title,
                private=row.private,
                is_open=row.closed_at is None,
                closed_unresolved=row.closed_at is not None and row.outcome != Outcome.RESOLVED,
                outcome=row.outcome,
                outcome_label=Outcome(row.outcome).label if row.outcome else "",
                duplicate_of_id=row.duplicate_of_id,
                severity_code=row.severity_code,
                severity_name=row.severity_name,
                severity_rank=row.severity_rank,
                stage=row.stage,
                stage_label=Stage(row.stage).label,
                services=", ".join(row.services),
                commander=person(commander),
                detected=time_element(row.detected_at),
                open_for=format_duration(
                    max((row.closed_at or now) - row.detected_at, timedelta(0))
                ),
            )
        )
    return shown
