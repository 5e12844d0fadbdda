"""The CS desk (``/cs/``) and the status page's regeneration against the history size.

    .venv/bin/python benchmarks/cs_desk.py \\
        --database-url postgres://postgres@127.0.0.1:5432/keel_w5_bench_cs --write-docs

Creates the PostgreSQL database named in ``--database-url`` (dropped at the end
unless ``--keep``), migrates it, then grows one data set in three steps and measures
after each, in process (Django's test client for ``/cs/`` signed in as a CS viewer;
``statuspage.snapshot.render_all`` for the full regeneration, every page and JSON
file of the status page with no release to reuse; ``snapshot_publish`` after one new
public update of an open incident for a publish, which renders what changed and
hard-links the rest from the live release, and its rendering part alone),
``--repeat`` times each, with the queries counted:

1. 10 open public incidents (each with its Keel incident, an update and a status
   change of one of 9 components) and 10 past, resolved ones;
2. the same with 1,000 past public incidents (two updates and a status change each,
   spread over the last 90 days, as the history a company keeps);
3. and 100 open ones (issue 17: "state the figure with 1,000 past public incidents
   and 100 open ones").

The cost should follow the open incidents (step 1 → 3), not the history
(1 → 2). The machine is shared: the load average is printed with the figures.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.incident_page import admin_sql, load_average, manage  # noqa: E402

DOCS = ROOT / "docs" / "benchmarks.md"
MARK = "cs-desk"

MEASURE = r"""
import json, os, statistics, time
from datetime import timedelta
from django.db import connection
from django.test import Client
from django.utils import timezone
from incidents.models import Incident
from statuspage import snapshot
from statuspage.models import Component, ComponentStatusChange, PublicIncident, PublicIncidentUpdate
from tests.factories.incidents import IncidentFactory, UserFactory

steps = [(10, 10), (1000, 10), (1000, 100)]  # (past, open)
repeat = int(os.environ["BENCH_REPEAT"])
viewer = UserFactory(username="cora", role="viewer")
author = UserFactory(username="rita", role="responder")
components = [Component.objects.create(slug=f"part-{n}", name=f"Part {n}") for n in range(9)]
long_ago = timezone.now() - timedelta(days=120)
ComponentStatusChange.objects.bulk_create(
    ComponentStatusChange(component=c, status="operational", changed_at=long_ago)
    for c in components
)


def public_incident(number, *, open_):
    start = timezone.now() - timedelta(days=0 if open_ else 1 + number % 89, hours=2)
    component = components[number % len(components)]
    incident = IncidentFactory(detected_at=start, started_at=start, created_by=author)
    if not open_:
        Incident.objects.filter(pk=incident.pk).update(
            closed_at=start + timedelta(hours=1), stage="retrospect", outcome="resolved"
        )
    public = PublicIncident.objects.create(
        incident=incident, name=f"Elevated errors {incident.pk}",
        status="investigating" if open_ else "resolved", impact="minor", started_at=start,
        resolved_at=None if open_ else start + timedelta(hours=1),
    )
    public.components.set([component])
    for step, status in enumerate(["investigating", "resolved"][: 1 if open_ else 2]):
        PublicIncidentUpdate.objects.create(
            public_incident=public, status=status, body=f"Update {step}.",
            display_at=start + timedelta(minutes=30 * step),
            created_at=start + timedelta(minutes=30 * step),
        )
    ComponentStatusChange.objects.create(
        component=component, status="partial_outage", changed_at=start, public_incident=public
    )


def timed(call, before=lambda: None):
    before()
    call()
    queries = []
    before()
    # Counted at the cursor: the test client's request_started resets Django's query log.
    with connection.execute_wrapper(lambda execute, *args: queries.append(1) or execute(*args)):
        call()
    times, cpu = [], []
    for _ in range(repeat):
        before()
        started, started_cpu = time.perf_counter(), time.process_time()
        call()
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    times.sort()
    return {"queries": len(queries), "p50_ms": statistics.median(times),
            "p95_ms": times[min(len(times) - 1, int(len(times) * 0.95))],
            "cpu_ms": statistics.median(cpu)}


def one_update():  # what precedes a publish: one new public update of an open incident
    at = timezone.now()
    PublicIncidentUpdate.objects.create(
        public_incident=PublicIncident.objects.filter(resolved_at__isnull=True).first(),
        status="identified", body=f"Still on it at {at:%H:%M:%S.%f}.", display_at=at, created_at=at,
    )


def live_fingerprints():  # the page fingerprints of the live release, as a publish reads them
    manifest = json.loads((snapshot.current_release() / snapshot.MANIFEST).read_text())
    return {rel: meta["fingerprint"] for rel, meta in manifest["files"].items()
            if "fingerprint" in meta}


reusing = {}


def one_update_then_fingerprints():
    one_update()
    reusing["previous"] = live_fingerprints()


def render_reusing():  # the rendering part of a publish: what changed, the rest kept
    reusing["rendered"] = snapshot.render_all(now=timezone.now(), previous=reusing["previous"])


web = Client()
web.force_login(viewer)


def desk():
    response = web.get("/cs/")
    assert response.status_code == 200, response.status_code
    return response


rows = []
past = open_ = 0
for want_past, want_open in steps:
    for number in range(past, want_past):
        public_incident(number, open_=False)
    for number in range(open_, want_open):
        public_incident(number, open_=True)
    past, open_ = want_past, want_open
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    rows.append({
        "past": past, "open": open_, "load": " / ".join(f"{v:.1f}" for v in os.getloadavg()),
        "desk": timed(desk), "desk_kib": len(desk().content) / 1024,
        "regenerate": timed(lambda: snapshot.render_all(now=timezone.now())),
        "publish": timed(snapshot.snapshot_publish, before=one_update),
        "render_reusing": timed(render_reusing, before=one_update_then_fingerprints),
        "files": {"rendered": len(reusing["rendered"].files),
                  "kept": len(reusing["rendered"].kept)},
    })
print(json.dumps(rows))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True, help="the database to create")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--write-docs", action="store_true", help="update docs/benchmarks.md")
    parser.add_argument("--keep", action="store_true", help="keep the database and work dir")
    options = parser.parse_args()

    name = urlsplit(options.database_url).path.lstrip("/")
    work = Path(tempfile.mkdtemp(prefix="keel-cs-bench-"))
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "CELERY_BROKER_URL")}
    env.update(
        DATABASE_URL=options.database_url, DJANGO_SETTINGS_MODULE="config.settings.base",
        PYTHONPATH=str(ROOT), KEEL_DATA_DIR=str(work / "data"), STATIC_ROOT=str(work / "static"),
        KEEL_EMBEDDED="1", DEBUG="0", LOG_LEVEL="WARNING", ALLOWED_HOSTS="testserver",
    )  # fmt: skip
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    admin_sql(options.database_url, f'DROP DATABASE IF EXISTS "{name}"')
    admin_sql(options.database_url, f'CREATE DATABASE "{name}"')
    try:
        manage(env, "migrate", "-v0")
        manage(env, "collectstatic", "--noinput", "-v0")
        output = manage(env, "shell", "-c", MEASURE, timeout=1800,
                        BENCH_REPEAT=str(options.repeat))  # fmt: skip
        rows = json.loads(output.strip().splitlines()[-1])
    finally:
        if not options.keep:
            admin_sql(options.database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            shutil.rmtree(work, ignore_errors=True)
    text = markdown(rows, started, options)
    print(text)
    if options.write_docs:
        write_docs(text)
    return 0


def markdown(rows: list[dict], started: str, options) -> str:
    code = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                          text=True).stdout.strip()  # fmt: skip
    lines = [
        f"<!-- {MARK}:start -->",
        f"### Run of {started} (code `{code}`)",
        "",
        f"- machine: {os.cpu_count()} CPUs (read the load average for what else ran); "
        f"load average (1/5/15 min) {load_average()} at the end",
        f"- command: `.venv/bin/python benchmarks/cs_desk.py {' '.join(sys.argv[1:])}`",
        f"- in process, one client, {options.repeat} timed runs per figure after a warm-up",
        "",
        "| past public incidents | open | `/cs/` queries | `/cs/` p50 / p95 ms | `/cs/` CPU ms "
        "| body | full regeneration queries | full regeneration p50 / p95 ms "
        "| full regeneration CPU ms | publish after one update queries "
        "| publish p50 / p95 ms | publish CPU ms | of which rendering CPU ms "
        "| files rendered / kept | load (1 min) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
        "| ---: | ---: | --- |",
    ]
    for row in rows:
        desk, regenerate, publish = row["desk"], row["regenerate"], row["publish"]
        lines.append(
            f"| {row['past']:,} | {row['open']} | {desk['queries']} | "
            f"{desk['p50_ms']:.1f} / {desk['p95_ms']:.1f} | {desk['cpu_ms']:.1f} | "
            f"{row['desk_kib']:.0f} KiB | {regenerate['queries']} | "
            f"{regenerate['p50_ms']:.1f} / {regenerate['p95_ms']:.1f} | "
            f"{regenerate['cpu_ms']:.1f} | {publish['queries']} | "
            f"{publish['p50_ms']:.1f} / {publish['p95_ms']:.1f} | {publish['cpu_ms']:.1f} | "
            f"{row['render_reusing']['cpu_ms']:.1f} | "
            f"{row['files']['rendered']} / {row['files']['kept']} | "
            f"{row['load'].split(' / ')[0]} |"
        )
    lines.append(f"<!-- {MARK}:end -->")
    return "\n".join(lines)


def write_docs(text: str) -> None:
    docs = DOCS.read_text()
    start, end = f"<!-- {MARK}:start -->", f"<!-- {MARK}:end -->"
    if start in docs:
        before, rest = docs.split(start, 1)
        docs = before + text + rest.split(end, 1)[1]
    else:
        docs = docs.rstrip() + "\n\n## CS desk and status page regeneration\n\n" + text + "\n"
    DOCS.write_text(docs)


if __name__ == "__main__":
    sys.exit(main())
