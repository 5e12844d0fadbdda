"""Scale benchmark (issue 17): every list with 100,000 incidents and 1,000,000 events.

    .venv/bin/python benchmarks/scale.py                   # 5 s per target, 8 connections
    .venv/bin/python benchmarks/scale.py --duration 10 --incidents 100000 --events 1000000

1. Creates its own PostgreSQL database (``keel_w1_scale`` unless ``--database-url``
   says otherwise: ``keel_<helper>N_*`` or ``keel_test_<helper>N_*``), migrates it and
   builds the data set with bulk SQL (``INSERT ... SELECT ... generate_series``
   copying one ORM-made row of each kind): 100,000
   incidents over ten years (1 % private, the newest 60 open), 20 services linked
   to every incident, 1,000,000 timeline events on the newest 10,000 incidents
   (100 each), a postmortem for each of those and three action items each, and for the
   newest public incident an audit trail of 300 changes and 30 status updates delivered
   to 10 webhooks each (``trail_build``); VACUUM ANALYZE, as autovacuum would.
2. Starts Keel under gunicorn (``config.wsgi``'s settings with a URLconf that adds
   a minimal Django view and a minimal DRF view, in the same process, middleware
   and settings: the reference) on 127.0.0.1, then runs ``wrk -t2 -c8 --latency``
   against each list as a responder (session for pages, token for the API): the
   default filters, a text search, a service filter, a deep cursor and the last
   ``page``, the postmortems and action items, the busy incident's history and
   deliveries (page and API), and the two references.
3. Counts each request's queries in-process (Django's test client, the same URL),
   writes the "Scale" section of docs/benchmarks.md, drops the database and stops
   every process it started. Bounded: wrk's ``-d`` per target; the build takes
   about a minute on an idle 2-core machine.
"""

import argparse
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
GUNICORN = str(ROOT / ".venv" / "bin" / "gunicorn")
# config/gunicorn.py as production runs it (the Dockerfile, docker-compose.yml): its
# post_worker_init freezes the start-up objects out of the cyclic collector's walks.
GUNICORN_ARGS = ["--config", "config/gunicorn.py", "--workers", "2",
                 "--worker-class", "gthread", "--threads", "4",
                 "--backlog", "2048", "--keep-alive", "5"]  # fmt: skip
DOCS = ROOT / "docs" / "benchmarks.md"
TARGET_P99_MS = 100.0
# The busy incident's audit trail and deliveries (``trail_build``).
HISTORY_CHANGES = 300
STATUS_UPDATES = 30
DESTINATIONS = 10

BENCH_URLS = """
from django.http import HttpResponse
from django.urls import include, path
from rest_framework.response import Response
from rest_framework.views import APIView


def minimal(request):
    return HttpResponse("ok", content_type="text/plain")


class MinimalApi(APIView):
    def get(self, request):
        return Response({"count": 1, "next": None, "previous": None, "results": [{"id": 1}]})


urlpatterns = [
    path("bench/minimal/", minimal),
    path("bench/minimal-api/", MinimalApi.as_view()),
    path("", include("config.urls")),
]
"""

BENCH_SETTINGS = """
from config.settings.base import *  # noqa: F403

ROOT_URLCONF = "scale_bench_urls"
"""


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/keel_w1_scale"
    )
    parser.add_argument("--port", type=int, default=19100)
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--duration", type=int, default=5, help="seconds of wrk per target")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database")
    parser.add_argument("--no-docs", action="store_true", help="do not write docs/benchmarks.md")
    return parser.parse_args(argv)


# --- the database


def _admin_url(database_url: str) -> tuple[str, str]:
    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    if not re.fullmatch(r"keel_(?:test_)?[a-z]+\d+_[a-z0-9_]+", name):
        raise SystemExit(f"Refusing database name {name!r}: keel_[test_]<helper>N_* only")
    return parts._replace(path="/postgres").geturl(), name


def database_create(database_url: str) -> None:
    import psycopg

    admin, name = _admin_url(database_url)
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def database_drop(database_url: str) -> None:
    import psycopg

    admin, name = _admin_url(database_url)
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _copy_rows(cursor, model, template_pk: int, source: str, overrides: dict) -> int:
    """``INSERT INTO model SELECT`` the template row once per row of ``source`` (SQL
    that may name ``g`` and ``t``, the template), with ``overrides`` as SQL."""
    table = model._meta.db_table
    columns = [field.column for field in model._meta.concrete_fields if not field.primary_key]
    # %% : the statement has one parameter, so a literal % (modulo) must be doubled.
    values = [overrides.get(column, f't."{column}"').replace("%", "%%") for column in columns]
    names = ", ".join(f'"{column}"' for column in columns)
    cursor.execute(
        f'INSERT INTO "{table}" ({names}) SELECT {", ".join(values)} FROM "{table}" t, '
        f"{source.replace('%', '%%')} WHERE t.{model._meta.pk.column} = %s",
        [template_pk],
    )
    return cursor.rowcount


def build(n_incidents: int, n_events: int) -> dict:
    """The data set; returns the users and what the targets need."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db import connection, transaction
    from django.utils import timezone

    from common import roles
    from incidents.models import Incident, Service, Severity, Team, TimelineEvent
    from postmortems.models import ActionItem, Postmortem, PostmortemTemplate

    User = get_user_model()
    now = timezone.now()
    with transaction.atomic():
        responders = Group.objects.get_or_create(name=roles.RESPONDERS)[0]
        people = []
        for i in range(50):
            user = User.objects.create_user(f"bench{i}", password="bench-pass-123")
            user.groups.add(responders)
            people.append(user)
        team = Team.objects.create(name="Platform", slug="platform")
        services = [
            Service.objects.create(name=f"Service {i}", slug=f"svc-{i}", owner_team=team)
            for i in range(20)
        ]
        severity_ids = list(Severity.objects.order_by("rank").values_list("pk", flat=True))[:4]
        template = Incident.objects.create(
            title="Template",
            summary="",
            severity_id=severity_ids[0],
            started_at=now,
            detected_at=now,
            created_by=people[0],
            commander=people[0],
            stage="judge",
        )
        user_ids = "ARRAY[" + ",".join(str(u.pk) for u in people) + "]"
        sev = "ARRAY[" + ",".join(str(s) for s in severity_ids) + "]"
        closed = "g > 60"
        detected = "(now() - g * interval '52 minutes')"
        with connection.cursor() as cursor:
            started = time.monotonic()
            made = _copy_rows(
                cursor,
                Incident,
                template.pk,
                f"generate_series(1, {n_incidents}) g",
                {
                    "title": "(ARRAY['Checkout','Payments','Login','Search','Email','Webhooks',"
                    "'DNS','Database','Cache','Queue'])[1 + g % 10] || ' ' || "
                    "(ARRAY['errors','latency','outage','timeouts','degraded'])[1 + (g / 10) % 5]"
                    " || ' ' || g",
                    "summary": "'Elevated error rates for some customers; ref ' || md5(g::text)",
                    "severity_id": f"({sev})[1 + g % {len(severity_ids)}]",
                    "private": "g % 100 = 0",
                    "started_at": f"{detected} - interval '5 minutes'",
                    "detected_at": detected,
                    "created_at": detected,
                    "updated_at": detected,
                    "created_by_id": f"({user_ids})[1 + g % 50]",
                    "commander_id": f"({user_ids})[1 + (g + 7) % 50]",
                    "detected_by_id": f"({user_ids})[1 + g % 50]",
                    "stage": f"CASE WHEN {closed} THEN 'retrospect' ELSE 'judge' END",
                    "closed_at": f"CASE WHEN {closed} THEN {detected} + interval '2 hours' END",
                    "outcome": f"CASE WHEN {closed} THEN 'resolved' ELSE '' END",
                },
            )
            cursor.execute(
                "INSERT INTO incidents_incident_services (incident_id, service_id) "
                "SELECT i.id, (%s::bigint[])[1 + i.id %% 20] FROM incidents_incident i",
                [[s.pk for s in services]],
            )
            cursor.execute(
                "INSERT INTO incidents_incident_responders (incident_id, user_id) "
                "SELECT i.id, (%s::bigint[])[1 + (i.id + 3) %% 50] FROM incidents_incident i "
                "WHERE i.private",
                [[u.pk for u in people]],
            )
            # Events: the newest incidents, n_events / 10,000 each.
            with_events = min(10_000, n_incidents)
            per = max(1, n_events // with_events)
            event = TimelineEvent.objects.create(
                incident=template, kind=TimelineEvent.Kind.NOTE, occurred_at=now, text="A note."
            )
            events = _copy_rows(
                cursor,
                TimelineEvent,
                event.pk,
                f"(SELECT id, detected_at FROM incidents_incident WHERE id <> {template.pk} "
                f"ORDER BY detected_at DESC LIMIT {with_events}) i, generate_series(1, {per}) g",
                {
                    "incident_id": "i.id",
                    "occurred_at": "i.detected_at + g * interval '1 minute'",
                    "text": "'Note ' || g || ': checked the dashboards, error rate ' || g % 17",
                },
            )
            pm_template = PostmortemTemplate.objects.order_by("pk").first()
            postmortem = Postmortem.objects.create(
                incident=template,
                template=pm_template,
                title="Template postmortem",
                created_by=people[0],
            )
            postmortems = _copy_rows(
                cursor,
                Postmortem,
                postmortem.pk,
                f"(SELECT id, title, detected_at FROM incidents_incident WHERE closed_at IS NOT "
                f"NULL ORDER BY detected_at DESC LIMIT {with_events}) i",
                {
                    "incident_id": "i.id",
                    "title": "'Postmortem: ' || i.title",
                    "created_at": "i.detected_at + interval '1 day'",
                    "updated_at": "i.detected_at + interval '1 day'",
                    "search_document": "'Connection pools exhausted by retries; ' || i.title",
                },
            )
            item = ActionItem.objects.create(
                postmortem=postmortem,
                title="Template item",
                owner=people[1],
                team=team,
                due_date=now.date(),
            )
            items = _copy_rows(
                cursor,
                ActionItem,
                item.pk,
                "(SELECT id, created_at FROM postmortems_postmortem) p, generate_series(1, 3) g",
                {
                    "postmortem_id": "p.id",
                    "title": "'Follow-up ' || g || ' of ' || p.id",
                    "position": "g",
                    "owner_id": f"({user_ids})[1 + (p.id + g) % 50]",
                    "due_date": "(p.created_at + g * interval '14 days')::date",
                },
            )
            busy = trail_build(people=people)
    # What autovacuum does after a bulk insert (autovacuum_vacuum_insert_threshold): the
    # statistics, and the visibility map that lets the lists' index-only scans skip
    # the table. VACUUM runs outside a transaction.
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    seconds = time.monotonic() - started
    print(
        f"built {made + 1} incidents, {events + 1} events, {postmortems + 1} postmortems, "
        f"{items + 1} action items in {seconds:.0f} s",
        file=sys.stderr,
    )
    return {
        "user": people[1],
        "incidents": made + 1,
        "events": events + 1,
        "postmortems": postmortems + 1,
        "items": items + 1,
        "build_seconds": seconds,
        "busy": busy,
    }


def trail_build(*, people, changes: int = HISTORY_CHANGES, updates: int = STATUS_UPDATES) -> int:
    """The newest public incident's audit trail and deliveries, for the history and
    deliveries lists: ``changes`` history records (its title and severity changed in
    turn, by turns of people) and ``updates`` status updates, each delivered to
    ``DESTINATIONS`` webhooks (sent, failed, dead in turn); bulk inserts, bounded.
    Returns the incident's id."""
    from datetime import timedelta

    from incidents.models import Incident, Severity
    from notifications.models import Audience, Delivery, Destination, StatusUpdate

    incident = Incident.objects.filter(private=False).order_by("-detected_at", "-pk").first()
    severities = list(Severity.objects.order_by("rank"))[:4]
    History = Incident.history.model
    fields = [field.attname for field in Incident._meta.concrete_fields]
    records = []
    for n in range(changes):
        record = History(**{name: getattr(incident, name) for name in fields})
        record.title = f"{incident.title} (revision {n})" if n % 2 else incident.title
        record.severity_id = severities[n % len(severities)].pk
        record.history_date = incident.detected_at + timedelta(minutes=n)
        record.history_type = "+" if n == 0 else "~"
        record.history_user_id = people[n % len(people)].pk
        record.history_change_reason = f"edit {n}"
        records.append(record)
    History.objects.bulk_create(records, batch_size=500)
    audience = Audience.objects.order_by("pk").first()
    destinations = Destination.objects.bulk_create(
        Destination(
            audience=audience,
            kind=Destination.Kind.WEBHOOK,
            name=f"Webhook {n}",
            target=f"http://127.0.0.1:9/{n}",
        )
        for n in range(DESTINATIONS)
    )
    posted = StatusUpdate.objects.bulk_create(
        StatusUpdate(
            incident=incident,
            message=f"Update {n}: still investigating the error rate.",
            created_by=people[n % len(people)],
            created_at=incident.detected_at + timedelta(minutes=5 * n),
        )
        for n in range(updates)
    )
    states = [Delivery.Status.SENT, Delivery.Status.FAILED, Delivery.Status.DEAD]
    Delivery.objects.bulk_create(
        (
            Delivery(
                update=update,
                destination=destination,
                status=states[(u + d) % len(states)],
                attempts=1 + (u + d) % 3,
                next_attempt_at=update.created_at,
                sent_at=update.created_at if (u + d) % len(states) == 0 else None,
                last_error="" if (u + d) % len(states) == 0 else "HTTP 503 from the receiver",
                rendered_text=update.message,
            )
            for u, update in enumerate(posted)
            for d, destination in enumerate(destinations)
        ),
        batch_size=500,
    )
    return incident.pk


def deep_cursor(user, offset: int) -> str:
    """The API's ``next`` cursor after ``offset`` rows of the default list."""
    from common import keyset
    from incidents import selectors

    row = selectors.incident_list(user=user).values_list("detected_at", "pk")[offset]
    return keyset.cursor_after("incidents", row)


# --- load


def wrk(url: str, *, duration: int, connections: int, header: str) -> dict:
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{duration}s",
            "--latency",
            "--timeout",
            "5s",
            "-H",
            header,
            url,
        ],
        capture_output=True,
        text=True,
        timeout=duration + 30,
        check=True,
    ).stdout

    def percentile(label: str) -> float:
        found = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        return float(found.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[found.group(2)]

    requests = re.search(r"(\d+) requests in", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    timeouts = re.search(r"timeout (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_ms": percentile("50"),
        "p99_ms": percentile("99"),
        "requests": int(requests.group(1)) if requests else 0,
        "non_2xx": int(errors.group(1)) if errors else 0,
        "timeouts": int(timeouts.group(1)) if timeouts else 0,
    }


def query_count(client, url: str) -> tuple[int, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    return len(captured.captured_queries), response.status_code


def wait_http(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer in {timeout:.0f} s")


def machine() -> dict:
    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "commit": commit,
    }


def load_average() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


# --- the report


def markdown(args, info: dict, data: dict, rows: list[dict], loads: tuple[str, str]) -> str:
    reference = {row["name"]: row for row in rows if row["kind"] == "reference"}
    lines = [
        "<!-- scale:start -->",
        "## Scale: every list with 100,000 incidents and 1,000,000 events",
        "",
        "`benchmarks/scale.py` (`--help` for the flags) builds its own PostgreSQL database "
        "with bulk SQL, serves Keel under gunicorn (2 gthread workers, 4 threads each) on "
        "127.0.0.1 and runs `wrk -t2 -c8 --latency` against each list as a responder "
        "(a session for pages, a token for the API), next to a minimal Django view and a "
        "minimal DRF view served by the same processes, settings and middleware. *ratio* = "
        "req/s over the minimal view of the same kind (page → Django, API → DRF). Queries: "
        "one request's, counted in-process with the same URL. Target (issue 17): p99 < "
        f"{TARGET_P99_MS:.0f} ms at 8 concurrent clients.",
        "",
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; code: `{info['commit']}`; "
        f"machine: {info['nproc']} CPUs, {info['cpu']}; Python {info['python']}",
        f"- load average (1, 5, 15 min) before: {loads[0]}; after: {loads[1]} — the machine "
        "is shared with other jobs, so the figures are upper bounds",
        f"- data: {data['incidents']:,} incidents, {data['events']:,} timeline events, "
        f"{data['postmortems']:,} postmortems, {data['items']:,} action items, "
        f"{HISTORY_CHANGES} history records and {STATUS_UPDATES * DESTINATIONS} deliveries "
        "on one incident "
        f"(built in {data['build_seconds']:.0f} s); {args.duration} s of wrk per row",
        f"- command: `.venv/bin/python benchmarks/scale.py {' '.join(sys.argv[1:])}`".rstrip(),
        "",
        "| list | path | p50 | p99 | req/s | ratio | queries | non-2xx |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        base = reference["page" if row["kind"] == "page" else "api"]
        ratio = f"{row['rps'] / base['rps']:.0%}" if row["kind"] != "reference" else "—"
        mark = "" if row["p99_ms"] < TARGET_P99_MS else " ✗"
        lines.append(
            f"| {row['label']} | `{row['shown']}` | {row['p50_ms']:.1f} ms | "
            f"{row['p99_ms']:.1f} ms{mark} | {row['rps']:.0f} | {ratio} | {row['queries']} | "
            f"{row['non_2xx'] + row['timeouts']} |"
        )
    lines += ["<!-- scale:end -->"]
    return "\n".join(lines)


def write_docs(block: str) -> None:
    text = DOCS.read_text()
    pattern = re.compile(r"<!-- scale:start -->.*?<!-- scale:end -->", re.S)
    text = (
        pattern.sub(lambda _: block, text)
        if pattern.search(text)
        else (text.rstrip("\n") + "\n\n" + block + "\n")
    )
    DOCS.write_text(text)
    print(f"wrote {DOCS.relative_to(ROOT)}", file=sys.stderr)


# --- main


def bench_env(work: Path, *, settings: str, database_url: str) -> dict:
    """The environment of a benchmark's Keel processes: its settings module and URLconf
    in ``work``, its own database and data directory, production's DEBUG and logging."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": settings,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "bench-only-secret-key-not-for-production",
        "KEEL_DATA_DIR": str(work / "data"),
        "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "DEBUG": "0",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": f"{work}{os.pathsep}{ROOT}",
    }


def main(argv=None) -> int:
    args = parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="keel-scale-bench-"))
    (work / "scale_bench_urls.py").write_text(BENCH_URLS)
    (work / "scale_bench_settings.py").write_text(BENCH_SETTINGS)
    env = bench_env(work, settings="scale_bench_settings", database_url=args.database_url)
    for key in ("REDIS_URL", "CELERY_BROKER_URL"):
        env.pop(key, None)
    os.environ.clear()
    # This process builds the data set: statements far longer than a request's bound
    # (the server under test keeps the web's).
    os.environ.update(env, DB_STATEMENT_TIMEOUT_MS="900000")
    sys.path.insert(0, str(work))
    database_create(args.database_url)
    server = None
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection
        from django.test import Client

        from common.tokens import api_token_create

        call_command("migrate", verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        data = build(args.incidents, args.events)
        user = data["user"]
        key = api_token_create(user=user, name="bench", actor=None)[1]
        browser = Client()
        browser.force_login(user)
        session = browser.cookies["sessionid"].value
        deep = deep_cursor(user, args.incidents * 95 // 100)  # near the end of what it sees
        from incidents import selectors

        last_page = -(-selectors.incident_list(user=user).count() // 50)
        busy = data["busy"]
        targets = [
            ("page", "incidents", "/incidents/"),
            ("page", "incidents, text search", "/incidents/?q=payments+outage"),
            ("page", "incidents, service filter", "/incidents/?service=svc-3"),
            ("page", "incidents, open", "/incidents/?status=open"),
            ("page", "incidents, deep cursor", f"/incidents/?cursor={deep}"),
            ("page", "postmortems", "/postmortems/"),
            ("page", "action items", "/postmortems/action-items/"),
            ("api", "incidents", "/api/v1/incidents/"),
            ("api", "incidents, text search", "/api/v1/incidents/?search=payments+outage"),
            ("api", "incidents, service filter", "/api/v1/incidents/?service=svc-3"),
            ("api", "incidents, deep cursor", f"/api/v1/incidents/?cursor={deep}"),
            ("api", f"incidents, page {last_page}", f"/api/v1/incidents/?page={last_page}"),
            ("api", "postmortems", "/api/v1/postmortems/"),
            ("api", "action items", "/api/v1/action-items/"),
            ("page", "incident history", f"/incidents/{busy}/history/"),
            ("page", "communications (deliveries)", f"/incidents/{busy}/communications/"),
            ("api", "incident history", f"/api/v1/incidents/{busy}/history/"),
            ("api", "incident deliveries", f"/api/v1/incidents/{busy}/deliveries/"),
            ("reference", "page", "/bench/minimal/"),
            ("reference", "api", "/bench/minimal-api/"),
        ]
        api_client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
        connection.close()
        log = (work / "gunicorn.log").open("w")
        server = subprocess.Popen(
            [GUNICORN, "config.wsgi", "--bind", f"127.0.0.1:{args.port}", *GUNICORN_ARGS],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_http(f"http://127.0.0.1:{args.port}/healthz")
        before = load_average()
        rows = []
        for kind, label, path in targets:
            header = (
                f"Cookie: sessionid={session}" if kind != "api" else f"Authorization: Bearer {key}"
            )
            url = f"http://127.0.0.1:{args.port}{path}"
            wrk(url, duration=1, connections=2, header=header)  # warm-up
            result = wrk(url, duration=args.duration, connections=args.connections, header=header)
            client = api_client if kind == "api" else browser
            queries, status = query_count(client, path) if kind != "reference" else (0, 200)
            name = label if kind == "reference" else ""
            shown = re.sub(r"cursor=[^&]+", "cursor=…", path)
            rows.append(
                {
                    "kind": kind,
                    "label": f"{kind}: {label}",
                    "name": name,
                    "shown": shown,
                    "queries": queries,
                    "status": status,
                    **result,
                }
            )
            print(
                f"{kind:9} {label:28} p50 {result['p50_ms']:7.1f} ms  p99 {result['p99_ms']:7.1f}"
                f" ms  {result['rps']:7.0f}/s  {queries} queries  status {status}  "
                f"non-2xx {result['non_2xx']}  load {load_average()}",
                file=sys.stderr,
            )
        after = load_average()
        block = markdown(args, machine(), data, rows, (before, after))
        print(block)
        if not args.no_docs:
            write_docs(block)
    finally:
        if server is not None and server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
        try:
            from django.db import connections

            connections.close_all()
        except Exception:  # Django may not be set up yet: nothing to close
            pass
        if not args.keep_db:
            database_drop(args.database_url)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
