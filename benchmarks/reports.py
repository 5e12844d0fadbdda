"""Server time of the reports page over 10,000 incidents, and its query count.

Runs against a throwaway test database (test settings: local databases only) and
measures the Django request/response cycle in-process with the test client — no
network, no browser. The data: 10,000 incidents over the last 80 days (three
services, four severities, failure patterns, categories, 90% recovered), 5,000
decisions, 20,000 status updates with a sent delivery each, 3,000 postmortems
(published) with 6,000 action items. The tables are ANALYZEd after the bulk writes (as
autovacuum would; without statistics PostgreSQL plans for a few hundred rows).

The reference, measured in the same run on the same database: reading the 10,000
incidents' ids and detection times (``values_list``), the floor under any page that
looks at every incident.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/keel \\
        .venv/bin/python -m benchmarks.reports        # PostgreSQL
    .venv/bin/python -m benchmarks.reports            # SQLite

Environment: ``BENCH_PROFILE=1`` (print a profile of one page first), ``BENCH_RUNS``
(default 10), ``BENCH_INCIDENTS`` (default 10000), ``KEEL_TEST_DATABASE_NAME`` (default
``keel_test_bench_reports``).
"""

import os
import random
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
os.environ.setdefault("KEEL_TEST_DATABASE_NAME", "keel_test_bench_reports")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402
from django.utils import timezone  # noqa: E402

RUNS = int(os.environ.get("BENCH_RUNS", "10"))
INCIDENTS = int(os.environ.get("BENCH_INCIDENTS", "10000"))
TARGET_MS = 500
PATTERNS = ["cascading", "partial", "dependency", "capacity", "change", "silent"]
CATEGORIES = ["technical.software", "technical.network", "human", "uncontrollable", ""]
SOURCES = ["monitoring", "customer_report", "internal", "deploy_check"]


def build(user) -> None:
    from incidents.models import Decision, Incident, Severity
    from notifications.models import Audience, Delivery, Destination, StatusUpdate
    from postmortems.models import ActionItem, Postmortem, PostmortemTemplate
    from tests.factories.incidents import ServiceFactory, TeamFactory

    rng = random.Random(16)
    now = timezone.now()
    team = TeamFactory(name="Payments", slug="payments")
    services = [ServiceFactory(name=f"Service {n}", owner_team=team) for n in range(3)]
    severities = list(Severity.objects.order_by("rank"))
    incidents = []
    for n in range(INCIDENTS):
        detected = now - timedelta(minutes=rng.randint(60, 80 * 24 * 60))
        recovered = detected + timedelta(minutes=rng.randint(5, 600)) if n % 10 else None
        incidents.append(
            Incident(
                title=f"Incident {n}",
                severity=rng.choice(severities),
                stage="recover" if recovered else "judge",
                started_at=detected - timedelta(minutes=rng.randint(0, 60)),
                detected_at=detected,
                judged_at=detected + timedelta(minutes=rng.randint(1, 30)) if n % 5 else None,
                recovered_at=recovered,
                detection_source=rng.choice(SOURCES),
                category=rng.choice(CATEGORIES),
                failure_patterns=rng.sample(PATTERNS, rng.randint(0, 2)),
                sla_minutes_breached=rng.randint(0, 120),
                estimated_loss=rng.randint(0, 10_000),
                created_by=user,
                detected_by=user,
            )
        )
    incidents = Incident.objects.bulk_create(incidents, batch_size=1000)
    through = Incident.services.through
    through.objects.bulk_create(
        [through(incident_id=i.pk, service_id=rng.choice(services).pk) for i in incidents],
        batch_size=2000,
    )
    Decision.objects.bulk_create(
        [
            Decision(
                incident=i,
                options=["a", "b"],
                chosen="a",
                rationale="r",
                decided_by=user,
                decided_at=i.detected_at + timedelta(minutes=3),
            )
            for i in incidents[::2]
        ],
        batch_size=2000,
    )
    responders = Audience.objects.get(slug="responders")
    destination = Destination.objects.create(
        audience=responders, kind="slack", name="#incidents", target="C0"
    )
    updates = StatusUpdate.objects.bulk_create(
        [
            StatusUpdate(incident=i, message="m", created_at=i.detected_at + timedelta(minutes=k))
            for i in incidents
            for k in (4, 40)
        ],
        batch_size=2000,
    )
    Delivery.objects.bulk_create(
        [
            Delivery(
                update=u,
                destination=destination,
                status="sent",
                next_attempt_at=u.created_at,
                sent_at=u.created_at + timedelta(seconds=5),
            )
            for u in updates
        ],
        batch_size=2000,
    )
    template = PostmortemTemplate.objects.get(family="default", is_current=True)
    postmortems = Postmortem.objects.bulk_create(
        [
            Postmortem(
                incident=i,
                template=template,
                title=i.title,
                status="published",
                published_at=i.recovered_at + timedelta(days=1),
            )
            for i in incidents[: INCIDENTS * 3 // 10]
            if i.recovered_at
        ],
        batch_size=2000,
    )
    ActionItem.objects.bulk_create(
        [
            ActionItem(
                postmortem=p,
                title=f"Item {k}",
                owner=user,
                team=team,
                due_date=(p.published_at + timedelta(days=7)).date(),
                status="done" if k else "open",
                completed_at=p.published_at + timedelta(days=3) if k else None,
            )
            for p in postmortems
            for k in (0, 1)
        ],
        batch_size=2000,
    )


@dataclass
class Timing:
    """Wall-clock milliseconds of each run, and the median of this process's CPU
    milliseconds (less sensitive to a loaded machine, but without PostgreSQL's own
    work, which runs in its server process)."""

    wall: list[float]
    cpu: float

    @property
    def median(self) -> float:
        return statistics.median(self.wall)

    @property
    def max(self) -> float:
        return max(self.wall)


def _timed(action) -> Timing:
    action()  # warm caches (templates, URL resolver, query plans)
    wall, cpu = [], []
    for _ in range(RUNS):
        started, started_cpu = time.perf_counter(), time.process_time()
        action()
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    return Timing(wall=wall, cpu=statistics.median(cpu))


def _default_filters(forms) -> dict:
    form = forms.ReportFilterForm({})
    form.is_valid()
    return form.filters()


def main() -> int:
    from incidents.models import Incident
    from tests.factories.incidents import UserFactory

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        user = UserFactory(username="bench", role="admin")
        started = time.perf_counter()
        build(user)
        with connection.cursor() as cursor:
            # What autovacuum (PostgreSQL) would do after the bulk writes: planner
            # statistics for tables that just grew from nothing to 10,000s of rows.
            cursor.execute("ANALYZE")
        build_s = time.perf_counter() - started
        client = Client()
        client.force_login(user)

        def page():
            response = client.get("/reports/")
            assert response.status_code == 200, response.status_code
            return response

        if os.environ.get("BENCH_PROFILE"):
            import cProfile
            import pstats

            profile = cProfile.Profile()
            profile.runcall(page)
            pstats.Stats(profile).sort_stats("tottime").print_stats(25)
        load = " / ".join(f"{value:.1f}" for value in os.getloadavg())
        report = _timed(page)
        reference = _timed(lambda: list(Incident.objects.values_list("pk", "detected_at")))
        from reports import figures, forms, selectors

        filters = _default_filters(forms)
        facts_times = _timed(lambda: selectors.report_facts(user=user, filters=filters))
        facts = selectors.report_facts(user=user, filters=filters)
        figure_times = _timed(lambda: figures.report_build(facts))
        with CaptureQueriesContext(connection) as queries:
            size = len(page().content)
        print(
            f"database: {connection.vendor}; {INCIDENTS} incidents (built in {build_s:.1f} s); "
            f"runs: {RUNS}"
        )
        print(f"load average before the runs: {load}")
        print(
            f"{'what':<34} {'median ms':>9} {'max ms':>7} {'CPU ms':>7} {'queries':>7} {'KiB':>5}"
        )
        print(
            f"{'/reports/ (last 90 days)':<34} {report.median:>9.1f} "
            f"{report.max:>7.1f} {report.cpu:>7.1f} {len(queries):>7} {size / 1024:>5.0f}"
        )
        for label, times in (
            ("  of which: read the facts", facts_times),
            ("  of which: compute the figures", figure_times),
        ):
            print(f"{label:<34} {times.median:>9.1f} {times.max:>7.1f} {times.cpu:>7.1f}")
        print(
            f"{'reference: read ids + times':<34} {reference.median:>9.1f} "
            f"{reference.max:>7.1f} {reference.cpu:>7.1f} {1:>7} {'':>5}"
        )
        if os.environ.get("BENCH_PROFILE"):
            for query in sorted(queries.captured_queries, key=lambda q: -float(q["time"]))[:6]:
                print(f"  {float(query['time']) * 1000:7.1f} ms  {query['sql'][:150]}")
        median = report.median
        verdict = "within" if median < TARGET_MS else "OVER"
        print(f"median {median:.1f} ms: {verdict} the {TARGET_MS} ms target")
        return 0 if median < TARGET_MS else 1
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    sys.exit(main())
