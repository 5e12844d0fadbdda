"""Render the public HTML pages, feeds and badge of a snapshot (reads the DB).

Templates get statuspage rows only; there is no request, so no CSRF token,
no session, no user: the output is the same for every reader.
"""

import zoneinfo
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo

from django.conf import settings
from django.template.loader import render_to_string

from statuspage import documents, fingerprints, history, selectors
from statuspage.models import STATUS_RANK, ComponentStatus
from statuspage.page_settings import PageSettings, page_settings_current
from statuspage.uptime import UPTIME_FORMULA, UptimeDay, uptime_combined, uptime_days

STATIC_SOURCE = settings.BASE_DIR / "static"
PAST_DAYS = 14
# The incidents with a page of their own and on the history pages: the latest 500.
HISTORY_LIMIT = 500
HISTORY_PAGE_SIZE = 50
FEED_INCIDENTS = 50

STATUS_LABELS = dict(ComponentStatus.choices)
# Short class names: 90 days x every component adds up on the page.
BAR_CLASS = {
    "operational": "op",
    "degraded_performance": "dp",
    "partial_outage": "po",
    "major_outage": "mo",
    "under_maintenance": "um",
    "none": "nd",
}
INDICATOR_CLASS = {
    "none": "operational",
    "minor": "degraded_performance",
    "major": "partial_outage",
    "critical": "major_outage",
    "maintenance": "under_maintenance",
}


def _static(name: str) -> str:
    return (STATIC_SOURCE / "statuspage" / name).read_text()


def _day_title(day: UptimeDay) -> str:
    if day.uptime is None:
        return f"{day.day:%d %b %Y}: no data"
    parts = [f"{day.day:%d %b %Y}: {day.percent} uptime"]
    for status, seconds in sorted(day.seconds.items(), key=lambda kv: -STATUS_RANK[kv[0]]):
        if status != ComponentStatus.OPERATIONAL and seconds >= 60:
            parts.append(
                f"{STATUS_LABELS[status]} {int(seconds // 3600)}h {int(seconds % 3600 // 60)}m"
            )
    parts += [f"Incident: {i['name']}" for i in day.incidents]
    return " · ".join(parts)


def _day_link(day: UptimeDay, day_pages: dict) -> str:
    """One incident: its page; several: the day on the history page that lists it."""
    if len(day.incidents) == 1:
        return f"/status/incidents/{day.incidents[0]['id']}/"
    if day.incidents:
        return f"{day_pages.get(day.day, history_page_url(1))}#day-{day.day.isoformat()}"
    return ""


def _component_rows(components, uptime, day_pages: dict) -> list[dict]:
    """Top-level rows: a group (its worst child's status) with children, or a component."""
    rows: list[dict] = []
    groups: dict[int, dict] = {}

    def bars(component_uptime):
        return [
            {
                "css": BAR_CLASS[d.css],
                "title": _day_title(d),
                "href": _day_link(d, day_pages),
                # Links take their accessible name from the title; other notable days
                # get hidden text; screen readers skip the plain days.
                "notable": bool(d.incidents) or d.css not in ("operational", "none"),
            }
            for d in component_uptime.days
        ]

    def row(component):
        component_uptime = uptime[component.pk]
        return {
            "component": component,
            "status_label": STATUS_LABELS[component.status],
            "percent": component_uptime.percent,
            "days": bars(component_uptime) if component.showcase else [],
        }

    for component in components:
        if component.only_show_if_degraded and component.status == ComponentStatus.OPERATIONAL:
            continue
        if component.group_id:
            entry = groups.get(component.group_id)
            if entry is None:
                entry = {"group": component.group, "children": []}
                groups[component.group_id] = entry
                rows.append(entry)
            entry["children"].append(row(component))
        else:
            rows.append(row(component))
    for entry in groups.values():
        worst = selectors.worst_status(c["component"].status for c in entry["children"])
        entry["status"] = worst
        entry["status_label"] = STATUS_LABELS[worst]
        # Like Statuspage, a group shows one bar (its children combined) and lists
        # its children collapsed: the page stays small with many components.
        shown = [c["component"] for c in entry["children"] if c["component"].showcase]
        if shown:
            combined = uptime_combined([uptime[c.pk] for c in shown])
            entry["percent"] = combined.percent
            entry["days"] = bars(combined)
    return rows


def _by_day(incidents, *, now: datetime, days: int, zone: tzinfo = UTC) -> list[dict]:
    """The last ``days`` days (in the page's time zone), newest first, each with the
    incidents active on it (an incident that ran over midnight is listed on both days,
    as on Statuspage)."""
    today = now.astimezone(zone).date()
    first = today - timedelta(days=days - 1)
    buckets = defaultdict(list)
    for incident in incidents:
        start = incident.started_at.astimezone(zone).date()
        end = (incident.resolved_at or now).astimezone(zone).date()
        day = max(start, first)
        while day <= min(end, today):
            buckets[day].append(incident)
            day += timedelta(days=1)
    return [
        {
            "day": today - timedelta(days=offset),
            "incidents": buckets.get(today - timedelta(days=offset), []),
        }
        for offset in range(days)
    ]


def common_context(now: datetime, page: PageSettings | None = None) -> dict:
    """What every public page shows: the name, logo and time zone (Settings → Status
    page), the stylesheet, when it was generated."""
    page = page or page_settings_current()
    return {
        "page_name": page.name,
        "page_time_zone": page.time_zone,
        "logo_url": f"/{page.logo_path}" if page.logo_path else "",
        "generated_at": now,
        "css": _static("status.css"),
        "formula": UPTIME_FORMULA,
    }


@dataclass
class Rendered:
    """A snapshot's files: the ones rendered now (by path), and the paths of the pages
    kept from the previous release because their fingerprint did not change."""

    files: dict[str, bytes] = field(default_factory=dict)
    kept: set[str] = field(default_factory=set)
    fingerprints: dict[str, str] = field(default_factory=dict)


def history_page_url(number: int) -> str:
    return "/status/history/" if number == 1 else f"/status/history/{number}/"


def _incident_shows(row: history.HistoryRow) -> tuple:
    """What an incident's page shows (templates/statuspage/_incident_block.html)."""
    return (
        row.name,
        row.status_label,
        row.impact,
        row.impact_label,
        row.started_at,
        row.resolved_at,
        row.component_names,
        [(u.status_label, u.display_at, u.body) for u in row.updates],
    )


def _history_entry_shows(row: history.HistoryRow) -> tuple:
    """What a history page shows of an incident (templates/statuspage/history.html)."""
    return (row.public_id, row.name, row.status_label, row.impact, row.impact_label)


def _maintenance_shows(maintenance) -> tuple:
    return (
        maintenance.name,
        maintenance.get_status_display(),
        maintenance.scheduled_for,
        maintenance.scheduled_until,
        [c.name for c in maintenance.components.all()],
        [(u.get_status_display(), u.display_at, u.body) for u in maintenance.updates.all()],
    )


class _Pages:
    """Renders pages into ``rendered``, or keeps the ones whose fingerprint the previous
    release has (``previous``: its fingerprints by path)."""

    def __init__(self, common: dict, previous: dict[str, str]):
        self.common = common
        self.previous = previous
        self.key = fingerprints.page_key(common)
        self.rendered = Rendered()

    def unchanged(self, rel: str, template: str, shows) -> bool:
        """Record the page's fingerprint; True (the page is kept) when it is unchanged."""
        fingerprint = fingerprints.fingerprint(self.key, template, shows)
        self.rendered.fingerprints[rel] = fingerprint
        if self.previous.get(rel) == fingerprint:
            self.rendered.kept.add(rel)
            return True
        return False

    def put(self, rel: str, template: str, context: dict) -> None:
        self.rendered.files[rel] = render_to_string(
            f"statuspage/{template}", {**self.common, **context}
        ).encode()


def _history_chunks(rows: list[history.HistoryRow]) -> list[list[history.HistoryRow]]:
    size = HISTORY_PAGE_SIZE
    return [rows[start : start + size] for start in range(0, len(rows), size)] or [[]]


def _put_history(pages: _Pages, chunks, *, zone: tzinfo, past_maintenances) -> None:
    """The history pages: the incidents by day, newest first, HISTORY_PAGE_SIZE a page;
    past maintenance on the first."""
    for number, chunk in enumerate(chunks, start=1):
        by_day = defaultdict(list)
        for row in chunk:
            by_day[row.started_at.astimezone(zone).date()].append(row)
        days = sorted(by_day.items(), reverse=True)
        maintenances = past_maintenances if number == 1 else []
        rel = "status/history/index.html" if number == 1 else f"status/history/{number}/index.html"
        shows = (
            [(day, [_history_entry_shows(row) for row in day_rows]) for day, day_rows in days],
            [(m.public_id, m.name, m.scheduled_for, m.status) for m in maintenances],
            number,
            len(chunks),
        )
        if pages.unchanged(rel, "history.html", shows):
            continue
        pages.put(
            rel,
            "history.html",
            {
                "days": days,
                "maintenances": maintenances,
                "number": number,
                "page_count": len(chunks),
                "newer_url": history_page_url(number - 1) if number > 1 else "",
                "older_url": history_page_url(number + 1) if number < len(chunks) else "",
            },
        )


def _put_incidents(pages: _Pages, rows: list[history.HistoryRow], unresolved: list) -> list:
    """The page of every incident in ``rows`` whose content changed, the changed ones
    loaded whole in one go (three queries) with the feeds' latest incidents, which
    are returned."""
    changed = [
        row.pk
        for row in rows
        if not pages.unchanged(
            f"status/incidents/{row.public_id}/index.html", "incident.html", _incident_shows(row)
        )
    ]
    loaded = {incident.pk: incident for incident in unresolved}
    wanted = {row.pk for row in rows[:FEED_INCIDENTS]}.union(changed).difference(loaded)
    if wanted:
        loaded.update(
            (incident.pk, incident)
            for incident in selectors.incidents_with_updates().filter(pk__in=wanted)
        )
    # One not loaded was deleted since the rows were read: it has no page any more.
    for incident in (loaded[pk] for pk in changed if pk in loaded):
        pages.put(
            f"status/incidents/{incident.public_id}/index.html",
            "incident.html",
            {"incident": incident},
        )
    return [loaded[row.pk] for row in rows[:FEED_INCIDENTS] if row.pk in loaded]


def render_pages(*, now: datetime, previous: dict[str, str] | None = None) -> Rendered:
    """Every page, feed and badge of a snapshot. ``previous``: the previous release's
    page fingerprints by path; a page whose fingerprint is unchanged is kept, not
    rendered (the pages of past incidents and maintenance, the older history pages),
    so a publish renders what changed, plus the few files every publish changes."""
    page = page_settings_current()
    zone = zoneinfo.ZoneInfo(page.time_zone)
    # The light rows first, the incidents loaded whole after: a page is never rendered
    # from older rows than its fingerprint (it would be kept stale).
    rows = history.history_rows(limit=HISTORY_LIMIT)
    components = list(selectors.components_all())
    uptime = uptime_days(components=components, now=now, zone=zone)
    unresolved = list(selectors.incidents_unresolved())
    maintenances = list(selectors.maintenances_with_updates().order_by("-scheduled_for")[:100])
    active = [m for m in maintenances if m.status in ("in_progress", "verifying")]
    upcoming = sorted(
        (m for m in maintenances if m.status == "scheduled"), key=lambda m: m.scheduled_for
    )
    indicator = selectors.page_indicator(components, unresolved, active)
    pages = _Pages(common_context(now, page), previous or {})

    chunks = _history_chunks(rows)
    day_pages: dict = {}  # a day → the history page that lists it first
    for number, chunk in enumerate(chunks, start=1):
        for row in chunk:
            day_pages.setdefault(row.started_at.astimezone(zone).date(), history_page_url(number))
    pages.put(
        "status/index.html",
        "index.html",
        {
            "indicator": indicator,
            "indicator_class": INDICATOR_CLASS[indicator],
            "description": selectors.INDICATOR_DESCRIPTIONS[indicator],
            "rows": _component_rows(components, uptime, day_pages),
            "unresolved": unresolved,
            "active": active,
            "upcoming": upcoming,
            "past_days": _by_day(
                [r for r in rows if r.status not in selectors.UNRESOLVED],
                now=now,
                days=PAST_DAYS,
                zone=zone,
            ),
        },
    )
    _put_history(pages, chunks, zone=zone, past_maintenances=[m for m in maintenances if m.is_over])
    recent = _put_incidents(pages, rows, unresolved)
    for maintenance in maintenances:
        rel = f"status/maintenances/{maintenance.public_id}/index.html"
        if not pages.unchanged(rel, "maintenance.html", _maintenance_shows(maintenance)):
            pages.put(rel, "maintenance.html", {"maintenance": maintenance})
    pages.put("status/subscribe/index.html", "subscribe.html", {"components": components})
    pages.put("status/404.html", "not_found.html", {})
    files = pages.rendered.files
    files["status/localtime.js"] = _static("localtime.js").encode()
    files["status/favicon.svg"] = (
        settings.BASE_DIR / "static" / "img" / "favicon.svg"
    ).read_bytes()
    files["status/badge.svg"] = badge(indicator, label=page.name).encode()
    if page.logo_path:
        files[page.logo_path] = bytes(page.logo)
    from statuspage import feeds

    files.update(feeds.render_feeds(incidents=recent, maintenances=maintenances[:20], now=now))
    # Statuspage's own feed paths, so readers pointed at a Statuspage page keep working.
    files["status/history.rss"] = files["status/feed.rss"]
    files["status/history.atom"] = files["status/feed.atom"]
    _ = documents  # the JSON documents are rendered by snapshot.render_all
    return pages.rendered


BADGE_COLOURS = {
    "none": "#16703a",
    "minor": "#8a6a00",
    "major": "#b54708",
    "critical": "#b42318",
    "maintenance": "#1f5fbf",
}


def badge(indicator: str, *, label: str) -> str:
    """A shields-style SVG: the page name, then the overall status in its colour."""
    message = selectors.INDICATOR_DESCRIPTIONS[indicator]
    # ~7 px per character of 11 px Verdana, plus padding.
    label_width, message_width = 7 * len(label) + 12, 7 * len(message) + 12
    return render_to_string(
        "statuspage/badge.svg",
        {
            "label": label,
            "message": message,
            "colour": BADGE_COLOURS[indicator],
            "width": label_width + message_width,
            "label_width": label_width,
            "message_width": message_width,
            "label_x": label_width / 2,
            "message_x": label_width + message_width / 2,
        },
    )
