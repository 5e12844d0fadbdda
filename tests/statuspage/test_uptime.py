"""The 90-day uptime bars: the published formula, from the status change log."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from statuspage import pages, uptime
from statuspage.models import ComponentStatusChange, PublicIncident
from tests.factories.incidents import IncidentFactory
from tests.factories.statuspage import ComponentFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
TODAY = NOW.date()


def at(days_ago: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime.combine(TODAY - timedelta(days=days_ago), datetime.min.time(), UTC) + timedelta(
        hours=hour, minutes=minute
    )


def log(component, *rows):
    for when, status in rows:
        ComponentStatusChange.objects.create(component=component, status=status, changed_at=when)


def days_of(component):
    history = uptime.uptime_days(components=[component], now=NOW)[component.pk]
    return {d.day: d for d in history.days}, history


def test_major_outage_counts_fully_partial_30_percent_degraded_not_at_all():
    api = ComponentFactory(slug="api")
    log(
        api,
        (at(10), "operational"),
        (at(5, 6), "major_outage"),
        (at(5, 12), "operational"),
        (at(4, 0), "partial_outage"),
        (at(4, 10), "operational"),
        (at(3, 0), "degraded_performance"),
        (at(2, 0), "under_maintenance"),
        (at(1, 0), "operational"),
    )
    days, history = days_of(api)

    assert days[TODAY - timedelta(days=5)].uptime == pytest.approx(1 - 6 / 24)
    assert days[TODAY - timedelta(days=5)].worst == "major_outage"
    assert days[TODAY - timedelta(days=4)].uptime == pytest.approx(1 - 0.3 * 10 / 24)
    assert days[TODAY - timedelta(days=4)].css == "partial_outage"
    assert days[TODAY - timedelta(days=3)].uptime == 1.0
    assert days[TODAY - timedelta(days=3)].css == "degraded_performance"
    assert days[TODAY - timedelta(days=2)].uptime == 1.0
    assert days[TODAY - timedelta(days=2)].css == "under_maintenance"
    assert days[TODAY - timedelta(days=6)].uptime == 1.0
    # Before the first recorded status: no data, and not counted in the 90-day figure.
    assert days[TODAY - timedelta(days=11)].uptime is None
    assert len(history.days) == 90 and history.days[-1].day == TODAY
    observed = 10 * 86400 + 12 * 3600
    down = 6 * 3600 + 0.3 * 10 * 3600
    assert history.uptime == pytest.approx(1 - down / observed)


def test_today_is_observed_until_now_and_state_carries_over_from_before_the_window():
    api = ComponentFactory(slug="api")
    log(api, (at(200), "operational"), (at(0, 6), "major_outage"))
    days, _ = days_of(api)
    assert days[TODAY].uptime == pytest.approx(0.5)  # 6 h up, 6 h down, until noon
    assert days[TODAY - timedelta(days=89)].uptime == 1.0


def test_a_closed_day_does_not_change_later():
    api = ComponentFactory(slug="api")
    log(api, (at(3), "operational"), (at(2, 12), "major_outage"), (at(2, 18), "operational"))
    before, _ = days_of(api)
    log(api, (at(0, 1), "major_outage"))
    after, _ = days_of(api)
    day = TODAY - timedelta(days=2)
    assert before[day].uptime == after[day].uptime == pytest.approx(0.75)


def test_a_day_links_to_its_incidents_and_says_so_in_its_tooltip():
    api = ComponentFactory(slug="api", name="API")
    log(api, (at(3), "operational"), (at(2, 12), "major_outage"), (at(2, 18), "operational"))
    public = PublicIncident.objects.create(
        incident=IncidentFactory(), name="API down", started_at=at(2, 12), resolved_at=at(2, 18)
    )
    public.components.add(api)
    days, _ = days_of(api)
    day = days[TODAY - timedelta(days=2)]
    assert day.incidents == [{"id": public.public_id, "name": "API down"}]
    assert pages._day_link(day, {}) == f"/status/incidents/{public.public_id}/"
    title = pages._day_title(day)
    assert "75.00% uptime" in title and "Major outage 6h 0m" in title
    assert "Incident: API down" in title
    quiet = days[TODAY - timedelta(days=1)]
    assert pages._day_link(quiet, {}) == "" and pages._day_title(quiet).endswith(": 100% uptime")


def test_uptime_takes_a_fixed_number_of_queries(django_assert_num_queries):
    components = [ComponentFactory(slug=f"c{i}") for i in range(5)]
    for component in components:
        log(component, (at(30), "operational"), (at(3), "major_outage"), (at(2), "operational"))
    with django_assert_num_queries(3):
        uptime.uptime_days(components=components, now=NOW)


def test_a_group_bar_combines_its_children():
    api, web = ComponentFactory(slug="api"), ComponentFactory(slug="web")
    log(api, (at(3), "operational"), (at(2, 0), "major_outage"), (at(2, 12), "operational"))
    log(web, (at(3), "operational"), (at(2, 0), "degraded_performance"), (at(1), "operational"))
    histories = uptime.uptime_days(components=[api, web], now=NOW)
    combined = uptime.uptime_combined([histories[api.pk], histories[web.pk]])
    day = {d.day: d for d in combined.days}[TODAY - timedelta(days=2)]
    assert day.uptime == pytest.approx(1 - 12 / 48)  # 12 h down out of 2 x 24 h observed
    assert day.css == "major_outage"
    assert {d.day: d for d in combined.days}[TODAY - timedelta(days=10)].uptime is None


def test_every_child_of_a_group_has_its_own_bars_beside_the_groups():
    from tests.factories.statuspage import ComponentGroupFactory

    group = ComponentGroupFactory(name="Platform")
    for slug, name in [("api", "API"), ("web", "Dashboard")]:
        component = ComponentFactory(slug=slug, name=name, group=group, showcase=True)
        log(component, (at(3), "operational"))
    page = pages.render_pages(now=NOW).files["status/index.html"].decode()
    for name in ("Platform", "API", "Dashboard"):
        assert f'aria-label="{name}: daily uptime, last 90 days, oldest first"' in page


def test_past_incidents_are_listed_on_every_day_they_were_active():
    over_midnight = PublicIncident.objects.create(
        incident=IncidentFactory(),
        name="Overnight",
        status="resolved",
        started_at=at(3, 22),
        resolved_at=at(1, 2),
    )
    older = PublicIncident.objects.create(
        incident=IncidentFactory(),
        name="Long ago, still shown where it overlaps",
        status="resolved",
        started_at=at(40),
        resolved_at=at(13, 1),
    )
    days = pages._by_day([over_midnight, older], now=NOW, days=pages.PAST_DAYS)
    listed = {d["day"]: [i.name for i in d["incidents"]] for d in days}
    assert [TODAY - timedelta(days=n) for n in (3, 2, 1)] == [
        day for day, names in sorted(listed.items()) if "Overnight" in names
    ]
    assert [day for day, names in listed.items() if older.name in names] == [
        TODAY - timedelta(days=13)
    ]
    assert len(days) == pages.PAST_DAYS and days[0]["day"] == TODAY


def test_the_days_are_the_pages_time_zone_days():
    """Tokyo is UTC+9: an outage from 15:00 to 21:00 UTC falls on the next Tokyo day."""
    tokyo = ZoneInfo("Asia/Tokyo")
    api = ComponentFactory(slug="api")
    log(api, (at(10), "operational"), (at(2, 15), "major_outage"), (at(2, 21), "operational"))
    history = uptime.uptime_days(components=[api], now=NOW, zone=tokyo)[api.pk]
    days = {d.day: d for d in history.days}

    assert history.days[-1].day == TODAY  # 21:00 in Tokyo
    assert days[TODAY - timedelta(days=1)].uptime == pytest.approx(1 - 6 / 24)
    assert days[TODAY - timedelta(days=2)].uptime == 1.0
    # Today in Tokyo began at 15:00 UTC yesterday: 21 hours observed until noon UTC.
    assert sum(days[TODAY].seconds.values()) == pytest.approx(21 * 3600)


def test_a_day_with_a_daylight_saving_change_is_25_hours_long():
    new_york = ZoneInfo("America/New_York")  # clocks go back on 1 November 2026
    api = ComponentFactory(slug="api")
    log(api, (at(30), "operational"))
    history = uptime.uptime_days(components=[api], now=NOW, zone=new_york)[api.pk]
    days = {d.day: d for d in history.days}
    assert sum(days[date(2026, 11, 1)].seconds.values()) == 25 * 3600
    assert sum(days[date(2026, 11, 2)].seconds.values()) == 24 * 3600


def test_the_page_draws_its_bars_in_its_own_time_zone(admin_user):
    from statuspage import catalog

    catalog.page_settings_update(actor=admin_user, name="Keel", time_zone="Asia/Tokyo")
    api = ComponentFactory(slug="api", name="API")
    log(api, (at(10), "operational"), (at(2, 15), "major_outage"), (at(2, 21), "operational"))
    page = pages.render_pages(now=NOW).files["status/index.html"].decode()
    tokyo_day = TODAY - timedelta(days=1)
    assert f'title="{tokyo_day:%d %b %Y}: 75.00% uptime · Major outage 6h 0m"' in page
