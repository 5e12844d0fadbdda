"""Incident page and writes, under gunicorn on loopback, beside a minimal DRF POST.

    .venv/bin/python benchmarks/incident_page.py --port-base 19200 \\
        --database-url postgres://postgres@127.0.0.1:5432/keel_w2_bench --write-docs

1. Creates the PostgreSQL database named in ``--database-url`` (dropped at the end
   unless ``--keep``), migrates it and seeds one incident with ``--events`` timeline
   events (notes, moves, status updates; 5,000 by default), a responder with a
   session and an API token, three services and the default audiences; the status
   updates are posted to a second incident, so both page runs see the same page.
2. Counts the queries of each measured request in process (Django's test client,
   ``CaptureQueriesContext``) against the same database, and the page's CPU time per
   request there (``time.process_time``, median of 30): the figure a loaded machine
   still compares fairly.
3. Serves Keel with gunicorn (``config/gunicorn.py``, 2 gthread workers, 4 threads each)
   on 127.0.0.1 and drives it for ``--duration`` seconds per run with
   ``--connections`` keep-alive clients (Python threads, ``http.client``):
   - the incident page, signed in: p50 / p95 / p99 and its HTML size, once with the
     collector frozen after start-up (the default) and once with ``KEEL_GC_FREEZE=0``;
   - ``POST /api/v1/incidents/`` (declare), ``POST .../updates/`` (a status update) and
     the reference: a DRF APIView behind the same middleware and token authentication
     whose POST does one INSERT. Targets (issue 17): page p99 < 100 ms, declare
     >= 25 % and update >= 40 % of the reference's requests per second.

The client shares the machine's cores with the server: figures are for comparison
within one run (the load average is printed with them), not absolute capacity.
"""

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from http.client import HTTPConnection
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")
GUNICORN = str(ROOT / ".venv" / "bin" / "gunicorn")
GUNICORN_ARGS = ["--workers", "2", "--worker-class", "gthread", "--threads", "4",
                 "--config", str(ROOT / "config" / "gunicorn.py")]  # fmt: skip
DOCS = ROOT / "docs" / "benchmarks.md"
MARK = "incident-page"

BENCH_URLS = '''
from django.db import connection
from django.urls import include, path
from rest_framework.response import Response
from rest_framework.views import APIView


class ReferencePost(APIView):
    """The reference: Keel's authentication and middleware, one INSERT, a small answer."""

    def post(self, request):
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO bench_reference (body, created_at) VALUES (%s, now()) RETURNING id",
                [str(request.data.get("message", ""))[:200]],
            )
            (pk,) = cursor.fetchone()
        return Response({"id": pk}, status=201)


urlpatterns = [path("bench/reference/", ReferencePost.as_view()), path("", include("config.urls"))]
'''

BENCH_SETTINGS = """
from config.settings.base import *  # noqa: F403

ROOT_URLCONF = "incident_bench_urls"
"""

SEED = r"""
import json, os
from datetime import timedelta
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection
from django.utils import timezone
from common.tokens import api_token_create
from incidents import services
from incidents.models import Incident, Service, Severity, TimelineEvent
from tests.factories.incidents import UserFactory

events = int(os.environ["BENCH_EVENTS"])
user = UserFactory(username="bench", role="responder", first_name="Bea", last_name="Bench")
others = [UserFactory(username=f"helper{n}", role="responder") for n in range(5)]
for n in range(3):
    Service.objects.create(name=f"Service {n}", slug=f"svc-{n}")
incident = services.incident_declare(
    title="Checkout errors", severity=Severity.objects.get(code="SEV2"), actor=user,
    services=list(Service.objects.all()), summary="Card payments fail for some customers.",
)
for stage in ("propagate", "judge"):
    incident = services.incident_move(incident=incident, to=stage, actor=user)
# The status updates go to an incident of their own: posted to the measured one, they
# would become its latest events (and its update history) before the second page run.
written = services.incident_declare(
    title="Card declines", severity=Severity.objects.get(code="SEV3"), actor=user,
    services=list(Service.objects.all()[:1]),
)
start = timezone.now() - timedelta(hours=12)
Kind = TimelineEvent.Kind
kinds = [Kind.NOTE] * 8 + [Kind.STATUS_UPDATE, Kind.ROLE_ASSIGNED]
TimelineEvent.objects.bulk_create(
    TimelineEvent(incident=incident, kind=kinds[n % len(kinds)], actor=others[n % 5],
                  occurred_at=start + timedelta(seconds=8 * n),
                  text=f"Note {n}: checked the payment gateway's error rate, still elevated.")
    for n in range(events)
)
with connection.cursor() as cursor:
    cursor.execute("ANALYZE")  # what autovacuum would have done after the bulk insert
    cursor.execute("CREATE TABLE bench_reference (id bigserial PRIMARY KEY, body text, "
                   "created_at timestamptz NOT NULL)")
session = SessionStore()
session[SESSION_KEY] = str(user.pk)
session[BACKEND_SESSION_KEY] = "common.auth_backends.ProfileModelBackend"
session[HASH_SESSION_KEY] = user.get_session_auth_hash()
session.create()
token = api_token_create(user=user, name="bench", actor=None)[1]
events = TimelineEvent.objects.filter(incident=incident).count()
print(json.dumps({"incident": incident.pk, "written": written.pk, "session": session.session_key,
                  "token": token, "events": events}))
"""

COUNT = r"""
import json, os, statistics, time
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient
from django.contrib.auth import get_user_model

seed = json.loads(os.environ["BENCH_SEED"])
user = get_user_model().objects.get(username="bench")
web = Client()
web.force_login(user)
api = APIClient(HTTP_AUTHORIZATION=f"Bearer {seed['token']}")
requests = {
    "page": lambda: web.get(f"/incidents/{seed['incident']}/"),
    "declare": lambda: api.post("/api/v1/incidents/", {"title": "Bench", "severity": "SEV3",
                                 "services": ["svc-0", "svc-1"]}, format="json"),
    "update": lambda: api.post(f"/api/v1/incidents/{seed['written']}/updates/",
                                {"message": "Still on it."}, format="json"),
    "reference": lambda: api.post("/bench/reference/", {"message": "one insert"}, format="json"),
}
page = requests["page"]
for _ in range(5):
    page()
spent = []
for _ in range(30):
    started = time.process_time()
    page()
    spent.append((time.process_time() - started) * 1000)
counts = {"page_cpu_ms": statistics.median(spent)}
for name, call in requests.items():
    call()
    with CaptureQueriesContext(connection) as queries:
        response = call()
    assert response.status_code in (200, 201), (name, response.status_code)
    counts[name] = len(queries.captured_queries)
print(json.dumps(counts))
"""


def load_average() -> str:
    return " / ".join(f"{value:.1f}" for value in os.getloadavg())


def manage(env: dict, *args: str, timeout: int = 600, **extra: str) -> str:
    done = subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env={**env, **extra},
                          capture_output=True, text=True, timeout=timeout)  # fmt: skip
    if done.returncode:
        raise RuntimeError(f"manage.py {args[0]} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def admin_sql(database_url: str, statement: str) -> None:
    import psycopg

    parts = urlsplit(database_url)
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(statement)


class Server:
    def __init__(self, env: dict, port: int, log: Path):
        self.log = log.open("w")
        self.proc = subprocess.Popen([GUNICORN, "config.wsgi", "--bind", f"127.0.0.1:{port}",
                                      *GUNICORN_ARGS], cwd=ROOT, env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                connection = HTTPConnection("127.0.0.1", port, timeout=2)
                connection.request("GET", "/healthz")
                connection.getresponse().read()
                return
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError("gunicorn did not answer within 60 s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.log.close()


def drive(port: int, method: str, path: str, headers: dict, body: bytes | None,
          *, duration: float, connections: int) -> dict:  # fmt: skip
    """``connections`` keep-alive clients for ``duration`` seconds; every answer timed."""
    stop_at = time.monotonic() + duration
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    sizes: list[int] = []
    lock = threading.Lock()

    def client() -> None:
        connection = HTTPConnection("127.0.0.1", port, timeout=10)
        while time.monotonic() < stop_at:
            started = time.perf_counter()
            try:
                connection.request(method, path, body=body, headers=headers)
                response = connection.getresponse()
                payload = response.read()
            except OSError:
                connection.close()
                connection = HTTPConnection("127.0.0.1", port, timeout=10)
                with lock:
                    statuses[0] = statuses.get(0, 0) + 1
                continue
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                latencies.append(elapsed)
                statuses[response.status] = statuses.get(response.status, 0) + 1
                sizes.append(len(payload))
        connection.close()

    threads = [threading.Thread(target=client) for _ in range(connections)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.monotonic() - started
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(len(latencies) * p))] if latencies else 0.0

    return {
        "requests": len(latencies),
        "rps": len(latencies) / wall,
        "p50_ms": statistics.median(latencies) if latencies else 0.0,
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
        "bytes": int(statistics.median(sizes)) if sizes else 0,
        "statuses": statuses,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True, help="the database to create")
    parser.add_argument("--port-base", type=int, default=19200)
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--write-docs", action="store_true", help="update docs/benchmarks.md")
    parser.add_argument("--keep", action="store_true", help="keep the database and work dir")
    options = parser.parse_args()

    name = urlsplit(options.database_url).path.lstrip("/")
    work = Path(tempfile.mkdtemp(prefix="keel-incident-bench-"))
    (work / "incident_bench_urls.py").write_text(BENCH_URLS)
    (work / "incident_bench_settings.py").write_text(BENCH_SETTINGS)
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "CELERY_BROKER_URL")}
    env.update(
        DATABASE_URL=options.database_url, DJANGO_SETTINGS_MODULE="incident_bench_settings",
        PYTHONPATH=f"{work}{os.pathsep}{ROOT}", KEEL_DATA_DIR=str(work / "data"),
        STATIC_ROOT=str(work / "static"), KEEL_EMBEDDED="1", DEBUG="0", LOG_LEVEL="WARNING",
        ALLOWED_HOSTS="127.0.0.1,testserver",
    )  # fmt: skip
    results: dict = {"started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")}
    admin_sql(options.database_url, f'DROP DATABASE IF EXISTS "{name}"')
    admin_sql(options.database_url, f'CREATE DATABASE "{name}"')
    try:
        manage(env, "migrate", "-v0")
        manage(env, "collectstatic", "--noinput", "-v0")
        seed = json.loads(manage(env, "shell", "-c", SEED, BENCH_EVENTS=str(options.events))
                          .strip().splitlines()[-1])  # fmt: skip
        results["queries"] = json.loads(
            manage(env, "shell", "-c", COUNT, BENCH_SEED=json.dumps(seed)).strip().splitlines()[-1]
        )
        results["page_cpu_ms"] = results["queries"].pop("page_cpu_ms")
        results["events"] = seed["events"]
        results["load_before"] = load_average()
        page = ("GET", f"/incidents/{seed['incident']}/",
                {"Cookie": f"sessionid={seed['session']}"}, None)  # fmt: skip
        api = {"Authorization": f"Bearer {seed['token']}", "Content-Type": "application/json"}
        writes = {
            "declare": ("POST", "/api/v1/incidents/", api, json.dumps(
                {"title": "Bench", "severity": "SEV3", "services": ["svc-0", "svc-1"]}).encode()),
            "update": ("POST", f"/api/v1/incidents/{seed['written']}/updates/", api,
                       json.dumps({"message": "Still on it."}).encode()),
            "reference": ("POST", "/bench/reference/", api,
                          json.dumps({"message": "one insert"}).encode()),
        }  # fmt: skip
        runs = results["runs"] = {}
        for label, freeze in (("page, gc frozen", "1"), ("page, gc as Python sets it", "0")):
            server = Server({**env, "KEEL_GC_FREEZE": freeze}, options.port_base, work / "g.log")
            try:
                drive(options.port_base, *page, duration=2, connections=options.connections)
                runs[label] = drive(options.port_base, *page, duration=options.duration,
                                    connections=options.connections)  # fmt: skip
                if freeze == "1":
                    for key in ("reference", "declare", "update", "reference (again)"):
                        request = writes[key.removesuffix(" (again)")]
                        runs[key] = drive(options.port_base, *request, duration=options.duration,
                                          connections=options.connections)  # fmt: skip
            finally:
                server.stop()
            print(label, json.dumps(runs[label]), file=sys.stderr)
        results["load_after"] = load_average()
        reference = (runs["reference"]["rps"] + runs["reference (again)"]["rps"]) / 2
        results["ratios"] = {k: runs[k]["rps"] / reference for k in ("declare", "update")}
    finally:
        if not options.keep:
            admin_sql(options.database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            shutil.rmtree(work, ignore_errors=True)
    results["command"] = " ".join(["benchmarks/incident_page.py", *sys.argv[1:]])
    text = markdown(results, options)
    print(text)
    if options.json:
        Path(options.json).write_text(json.dumps(results, indent=2))
    if options.write_docs:
        write_docs(text)
    return 0


def markdown(results: dict, options) -> str:
    runs, queries = results["runs"], results["queries"]
    code = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                          text=True).stdout.strip()  # fmt: skip
    lines = [
        f"<!-- {MARK}:start -->",
        f"### Run of {results['started']} (code `{code}`)",
        "",
        f"- machine: {os.cpu_count()} CPUs (read the load average for what else ran); "
        f"load average (1/5/15 min) {results['load_before']} before, "
        f"{results['load_after']} after",
        f"- command: `.venv/bin/python {results['command']}`",
        f"- {results['events']:,} timeline events on the incident; {options.connections} "
        f"keep-alive clients for {options.duration:g} s per row; gunicorn "
        f"`{' '.join(GUNICORN_ARGS[:-2])}`",
        "",
        "| request | queries | req/s | p50 ms | p95 ms | p99 ms | body | statuses |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    query_of = {
        "page, gc frozen": "page",
        "page, gc as Python sets it": "page",
        "reference (again)": "reference",
    }
    for label, run in runs.items():
        statuses = ", ".join(f"{code}: {n}" for code, n in sorted(run["statuses"].items()))
        lines.append(
            f"| {label} | {queries[query_of.get(label, label)]} | {run['rps']:.1f} | "
            f"{run['p50_ms']:.1f} | {run['p95_ms']:.1f} | {run['p99_ms']:.1f} | "
            f"{run['bytes'] / 1024:.1f} KiB | {statuses} |"
        )
    ratios = results["ratios"]
    page = runs["page, gc frozen"]
    lines += [
        "",
        f"- page CPU in process (Django test client, median of 30): "
        f"{results['page_cpu_ms']:.1f} ms per request",
        f"- page p99 {page['p99_ms']:.1f} ms (target < 100 ms): "
        f"{'met' if page['p99_ms'] < 100 else 'NOT met'}",
        "- ratios against the mean of the two reference runs:",
        f"- declare {ratios['declare']:.0%} of the reference (target ≥ 25 %): "
        f"{'met' if ratios['declare'] >= 0.25 else 'NOT met'}",
        f"- status update {ratios['update']:.0%} of the reference (target ≥ 40 %): "
        f"{'met' if ratios['update'] >= 0.40 else 'NOT met'}",
        f"<!-- {MARK}:end -->",
    ]
    return "\n".join(lines)


def write_docs(text: str) -> None:
    docs = DOCS.read_text()
    start, end = f"<!-- {MARK}:start -->", f"<!-- {MARK}:end -->"
    if start in docs:
        before, rest = docs.split(start, 1)
        docs = before + text + rest.split(end, 1)[1]
    else:
        docs = docs.rstrip() + "\n\n## Incident page and writes (5,000 events)\n\n" + text + "\n"
    DOCS.write_text(docs)


if __name__ == "__main__":
    sys.exit(main())
