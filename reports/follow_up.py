"""How the team followed up, for the report: update cadence kept or missed, and
action items open, overdue, done on time or late (by team and by owner)."""

from collections import defaultdict
from datetime import date

from postmortems.models import ActionItem
from reports.selectors import IncidentFacts
from reports.tables import Column, Table


def cadence_of(incident: IncidentFacts, *, now: float) -> tuple[int, int]:
    """(kept, missed) update promises: the first update is due one severity interval
    after detection; each update promises the next by its "next update by", else one
    interval later. An update by its due time keeps the promise; a late one misses
    it; no update by the due time before recovery (or closing, or now) misses it too.
    Times are epoch seconds (``IncidentFacts``)."""
    interval = incident.update_interval_minutes * 60.0
    end = incident.recovered_at or incident.closed_at or now
    due = incident.detected_at + interval
    kept = missed = 0
    for created_at, next_update_at in incident.updates:
        if created_at > end:
            break
        if created_at <= due:
            kept += 1
        else:
            missed += 1
        due = next_update_at or created_at + interval
    if end > due:
        missed += 1
    return kept, missed


def cadence_table(incidents: list[IncidentFacts], *, now: float) -> Table:
    by_severity: dict[str, list] = {}
    ranks = {}
    for incident in incidents:
        kept, missed = cadence_of(incident, now=now)
        row = by_severity.setdefault(incident.severity, [0, 0])
        row[0] += kept
        row[1] += missed
        ranks[incident.severity] = incident.severity_rank
    rows = []
    for severity, (kept, missed) in sorted(by_severity.items(), key=lambda kv: ranks[kv[0]]):
        total = kept + missed
        rows.append([severity, kept, missed, round(100 * kept / total, 1) if total else None])
    return Table(
        key="update_cadence",
        title="Update cadence kept vs missed",
        definition="Each update promise until recovery: the first is due one severity "
        "interval after detection, each update promises the next by its “next update by” "
        "(else one interval later). Kept: an update came by then; missed: it came late, "
        "or never before recovery.",
        columns=[
            Column("Severity"),
            Column("Kept", "count"),
            Column("Missed", "count"),
            Column("Kept share", "percent"),
        ],
        rows=rows,
        chart_column=3,
        section="cadence",
    )


def item_state(item, *, today: date) -> str:
    """open (not yet due or no date), overdue, on_time, late, or wont_do."""
    if item.status == ActionItem.Status.WONT_DO:
        return "wont_do"
    if item.status == ActionItem.Status.DONE:
        if item.due_date is None or item.completed_on is None:
            return "on_time"
        return "on_time" if item.completed_on <= item.due_date else "late"
    if item.due_date is not None and item.due_date < today:
        return "overdue"
    return "open"


def item_states(incidents: list[IncidentFacts], *, today: date) -> list[tuple[object, str]]:
    """Every action item of ``incidents`` with its ``item_state`` (computed once for
    the tables by team and by owner)."""
    return [
        (item, item_state(item, today=today))
        for incident in incidents
        if incident.action_items
        for item in incident.action_items
    ]


def items_table(key, title, label, states, who) -> Table:
    """``states``: ``item_states(incidents)``; ``who``: an item's team or owner."""
    counts: dict[str, dict[str, int]] = {}
    for item, state in states:
        row = counts.get(name := who(item))
        if row is None:
            row = counts[name] = defaultdict(int)
        row[state] += 1
    rows = []
    for name, row in sorted(counts.items()):
        still_open = row["open"] + row["overdue"]
        rows.append(
            [name, still_open, row["overdue"], row["on_time"], row["late"], sum(row.values())]
        )
    return Table(
        key=key,
        title=title,
        definition="Open: not done yet (overdue included). Overdue: open past its due date. "
        "Done on time: completed on or before its due date (or it had none). Done late: "
        "completed after it. Total includes won't do.",
        columns=[
            Column(label),
            Column("Open", "count"),
            Column("Overdue", "count"),
            Column("Done on time", "count"),
            Column("Done late", "count"),
            Column("Total", "count"),
        ],
        rows=rows,
        chart_column=2,
        section="action_items",
    )
