"""Status page benchmark: the snapshot under wrk, four ways, in one run.

    .venv/bin/python benchmarks/statuspage.py               # 10 s per run, 64 connections
    .venv/bin/python benchmarks/statuspage.py --json out.json

All on 127.0.0.1, in a temporary directory (its own SQLite database, snapshot
and nginx prefix; nothing shared with the tests or other benchmarks):

1. Migrates a fresh SQLite database, loads a realistic page (3 groups,
   9 components with 90 days of status history, 30 incidents with updates,
   maintenances) and publishes one snapshot with Keel's own task code.
2. Serves it four ways and runs ``wrk -t2 -c64 -d10s --latency`` on
   ``/status/`` and ``/api/v2/summary.json`` against each:

   (a) nginx, minimal config, serving the same bytes copied as plain files —
       the physical limit of this machine;
   (b) the production path: ``deploy/nginx-statuspage.conf`` (the file
       docker-compose mounts) run natively as a foreground nginx with a temp
       prefix; only the port, snapshot root, upstream and pid/log/temp paths
       are rewritten;
   (c) the embedded default: Django (Keel's settings and full middleware stack)
       under gunicorn, serving the snapshot through ``statuspage.views``;
   (d) a minimal Django view returning the same bytes (read once at start),
       in the same Django project and the same gunicorn process and settings;
   (d0) for reference, a bare Django (no middleware, one URL) under the same
       gunicorn settings.

Every server runs in its own process group and is stopped on exit; every run
is bounded by wrk's -d. Targets (issue 4): (b) >= 50 % of (a) req/s;
(c) >= 70 % of (d); p99 of (b) < 10 ms.
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")
GUNICORN = str(ROOT / ".venv" / "bin" / "gunicorn")
PATHS = {"status": "/status/", "summary": "/api/v2/summary.json"}
FILES = {"status": "status/index.html", "summary": "api/v2/summary.json"}
GUNICORN_ARGS = ["--workers", "2", "--worker-class", "gthread", "--threads", "4",
                 "--backlog", "2048", "--keep-alive", "5"]  # fmt: skip

SEED = r"""
import random
from datetime import timedelta
from django.utils import timezone
from incidents.models import Incident, Severity
from django.contrib.auth import get_user_model
from statuspage import services, snapshot
from statuspage.models import (Component, ComponentGroup, ComponentStatusChange,
    PublicIncident, PublicIncidentUpdate)

rng = random.Random(4)
now = timezone.now()
user = get_user_model().objects.create(username="bench")
groups = [ComponentGroup.objects.create(name=n, position=i) for i, n in
          enumerate(["Core platform", "Integrations", "Regions"])]
names = [["API", "Dashboard", "Webhooks"], ["Slack app", "Email delivery", "SSO"],
         ["EU", "US", "APAC"]]
components = []
for group, group_names in zip(groups, names):
    for i, name in enumerate(group_names):
        c = Component.objects.create(slug=name.lower().replace(" ", "-"), name=name,
                                     group=group, position=i,
                                     description=f"{name} for every customer.")
        components.append(c)
        ComponentStatusChange.objects.create(component=c, status="operational",
                                             changed_at=now - timedelta(days=120))
severity = Severity.objects.get(code="SEV2")
statuses = ["degraded_performance", "partial_outage", "major_outage"]
for n in range(30):
    start = now - timedelta(days=rng.randint(1, 88), hours=rng.randint(0, 20))
    end = start + timedelta(minutes=rng.randint(10, 240))
    hit = rng.sample(components, rng.randint(1, 3))
    incident = Incident.objects.create(title=f"internal {n}", severity=severity,
        started_at=start, detected_at=start, created_by=user)
    public = PublicIncident.objects.create(incident=incident, name=f"Elevated errors {n}",
        status="resolved", impact=rng.choice(["minor", "major", "critical"]),
        started_at=start, resolved_at=end)
    public.components.set(hit)
    steps = [("investigating", start), ("identified", start + (end - start) / 3),
             ("monitoring", start + (end - start) / 2), ("resolved", end)]
    for k, (st, at) in enumerate(steps):
        PublicIncidentUpdate.objects.create(public_incident=public, status=st,
            body=f"Update {k}: we are looking into elevated error rates for some customers.",
            display_at=at, created_at=at)
    for c in hit:
        ComponentStatusChange.objects.create(component=c, status=rng.choice(statuses),
            changed_at=start, public_incident=public)
        ComponentStatusChange.objects.create(component=c, status="operational",
            changed_at=end, public_incident=public)
services.maintenance_schedule(name="Database upgrade", scheduled_for=now + timedelta(days=2),
    scheduled_until=now + timedelta(days=2, hours=2), components=components[:2],
    body="Writes pause for up to a minute.")
print(snapshot.snapshot_publish())
"""

BENCH_SETTINGS = """
from config.settings.base import *  # noqa: F403

ROOT_URLCONF = "statuspage_bench_urls"
"""

BENCH_URLS = """
from pathlib import Path

from django.conf import settings
from django.http import HttpResponse
from django.urls import include, path

_current = Path(settings.STATUSPAGE_SNAPSHOT_DIR) / "current"
BODIES = {
    "status": ((_current / "status/index.html").read_bytes(), "text/html; charset=utf-8"),
    "summary.json": ((_current / "api/v2/summary.json").read_bytes(), "application/json"),
}


def minimal(request, name):
    body, content_type = BODIES[name]
    return HttpResponse(body, content_type=content_type)


urlpatterns = [
    path("bench/minimal/<str:name>", minimal),
    path("", include("config.urls")),
]
"""

BARE_DJANGO = """
from pathlib import Path
import os

from django.conf import settings

settings.configure(
    DEBUG=False, ALLOWED_HOSTS=["*"], ROOT_URLCONF=__name__, MIDDLEWARE=[],
    SECRET_KEY="bench-only", INSTALLED_APPS=[],
)
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.urls import path  # noqa: E402

_current = Path(os.environ["BENCH_SNAPSHOT"]) / "current"
BODIES = {
    "status": ((_current / "status/index.html").read_bytes(), "text/html; charset=utf-8"),
    "summary.json": ((_current / "api/v2/summary.json").read_bytes(), "application/json"),
}


def minimal(request, name):
    body, content_type = BODIES[name]
    return HttpResponse(body, content_type=content_type)


urlpatterns = [path("bench/minimal/<str:name>", minimal)]
application = get_wsgi_application()
"""

PLAIN_NGINX = """
worker_processes auto;
pid {prefix}/plain.pid;
error_log {prefix}/plain-error.log warn;
events {{ worker_connections 4096; }}
http {{
    include /etc/nginx/mime.types;
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 100000;
    client_body_temp_path {prefix}/tmp;
    proxy_temp_path {prefix}/tmp;
    fastcgi_temp_path {prefix}/tmp;
    uwsgi_temp_path {prefix}/tmp;
    scgi_temp_path {prefix}/tmp;
    server {{
        listen 127.0.0.1:{port};
        root {root};
    }}
}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except Exception:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up within {timeout} s")


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read()


def production_nginx_conf(prefix: Path, port: int, root: Path, upstream: int) -> str:
    conf = (ROOT / "deploy" / "nginx-statuspage.conf").read_text()
    replacements = [
        (r"^user nginx;\n", ""),
        (r"listen 80;", f"listen 127.0.0.1:{port};"),
        (r"/data/statuspage/current", str(root)),
        (r"server web:8000;", f"server 127.0.0.1:{upstream};"),
        (r"pid /var/run/nginx.pid;", f"pid {prefix}/prod.pid;"),
        (r"error_log /dev/stderr warn;", f"error_log {prefix}/prod-error.log warn;"),
    ]
    for pattern, new in replacements:
        conf, count = re.subn(pattern, new, conf, flags=re.M)
        if not count:
            raise RuntimeError(f"deploy/nginx-statuspage.conf no longer contains {pattern!r}")
    temp = "".join(
        f"    {name}_temp_path {prefix}/tmp;\n"
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return conf.replace("http {\n", "http {\n" + temp, 1)


def wrk(url: str, duration: int, connections: int) -> dict:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "5s", url],
        capture_output=True,
        text=True,
        timeout=duration + 30,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": rps,
        "p99_ms": float(p99.group(1)) * scale,
        "non_2xx": int(errors.group(1)) if errors else 0,
        "socket_errors": socket_errors.group(1) if socket_errors else "",
    }


class Servers:
    def __init__(self):
        self.procs: list[subprocess.Popen] = []

    def start(self, args, **kwargs) -> subprocess.Popen:
        proc = subprocess.Popen(
            args,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=kwargs.pop("stderr", subprocess.DEVNULL),
            **kwargs,
        )
        self.procs.append(proc)
        return proc

    def stop(self):
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--keep", action="store_true", help="keep the temp directory")
    options = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="keel-statuspage-bench-"))
    work.chmod(0o755)  # nginx workers run as an unprivileged user when started as root
    (work / "tmp").mkdir()
    data = work / "data"
    env = {
        **os.environ,
        "KEEL_DATA_DIR": str(data),
        "KEEL_EMBEDDED": "1",
        "DATABASE_URL": "",
        "REDIS_URL": "",
        "CELERY_BROKER_URL": "",
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
        "STATUSPAGE_SNAPSHOT_DIR": str(data / "statuspage"),
        "PYTHONPATH": f"{work}{os.pathsep}{ROOT}",
        "BENCH_SNAPSHOT": str(data / "statuspage"),
    }
    for key in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"):
        env.pop(key)
    (work / "statuspage_bench_settings.py").write_text(BENCH_SETTINGS)
    (work / "statuspage_bench_urls.py").write_text(BENCH_URLS)
    (work / "bare_django.py").write_text(BARE_DJANGO)

    print(f"work dir {work}", file=sys.stderr)
    subprocess.run([PYTHON, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True,
                   timeout=300)  # fmt: skip
    subprocess.run([PYTHON, "manage.py", "shell", "-c", SEED], cwd=ROOT, env=env, check=True,
                   timeout=300)  # fmt: skip
    snapshot_root = data / "statuspage" / "current"
    plain_root = work / "plain"
    for rel in FILES.values():
        target = plain_root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(snapshot_root / rel, target)
    plain_paths = {"status": "/status/index.html", "summary": "/api/v2/summary.json"}

    ports = {name: free_port() for name in ("a", "b", "c", "d0")}
    (work / "plain.conf").write_text(
        PLAIN_NGINX.format(prefix=work, port=ports["a"], root=plain_root)
    )
    (work / "prod.conf").write_text(
        production_nginx_conf(work, ports["b"], snapshot_root, ports["c"])
    )
    servers = Servers()
    results: dict = {"settings": {}, "runs": {}}
    try:
        for conf in ("plain.conf", "prod.conf"):
            servers.start(["nginx", "-p", str(work), "-c", str(work / conf),
                           "-g", "daemon off;"])  # fmt: skip
        gunicorn_env = {**env, "DJANGO_SETTINGS_MODULE": "statuspage_bench_settings"}
        servers.start([GUNICORN, "config.wsgi", "--bind", f"127.0.0.1:{ports['c']}",
                       *GUNICORN_ARGS], cwd=ROOT, env=gunicorn_env)  # fmt: skip
        servers.start([GUNICORN, "bare_django", "--bind", f"127.0.0.1:{ports['d0']}",
                       *GUNICORN_ARGS], cwd=work, env=env)  # fmt: skip
        targets = {
            "a": {k: f"http://127.0.0.1:{ports['a']}{plain_paths[k]}" for k in PATHS},
            "b": {k: f"http://127.0.0.1:{ports['b']}{PATHS[k]}" for k in PATHS},
            "c": {k: f"http://127.0.0.1:{ports['c']}{PATHS[k]}" for k in PATHS},
            "d": {
                "status": f"http://127.0.0.1:{ports['c']}/bench/minimal/status",
                "summary": f"http://127.0.0.1:{ports['c']}/bench/minimal/summary.json",
            },
            "d0": {
                "status": f"http://127.0.0.1:{ports['d0']}/bench/minimal/status",
                "summary": f"http://127.0.0.1:{ports['d0']}/bench/minimal/summary.json",
            },
        }
        for urls in targets.values():
            for url in urls.values():
                wait_http(url)
        # Same bytes everywhere, or the comparison means nothing.
        for key in PATHS:
            bodies = {name: fetch(urls[key]) for name, urls in targets.items()}
            reference = (snapshot_root / FILES[key]).read_bytes()
            for name, body in bodies.items():
                if body != reference:
                    raise RuntimeError(f"({name}) {key}: not the snapshot's bytes")
            results["settings"][f"{key}_bytes"] = len(reference)
        results["settings"].update(
            duration_s=options.duration,
            connections=options.connections,
            wrk_threads=2,
            gunicorn=" ".join(GUNICORN_ARGS),
            cpus=os.cpu_count(),
        )
        for name, urls in targets.items():
            for key, url in urls.items():
                # A short warm-up (caches, gunicorn threads), then the measured run.
                wrk(url, 2, options.connections)
                result = wrk(url, options.duration, options.connections)
                results["runs"][f"{name}/{key}"] = result
                print(f"({name}) {key}: {result['rps']:.0f} req/s, p99 {result['p99_ms']:.2f} ms"
                      f"{'  non-2xx ' + str(result['non_2xx']) if result['non_2xx'] else ''}",
                      file=sys.stderr)  # fmt: skip
    finally:
        servers.stop()
        if not options.keep:
            shutil.rmtree(work, ignore_errors=True)

    runs = results["runs"]
    ratios = {}
    for key in PATHS:
        ratios[f"b/a {key}"] = runs[f"b/{key}"]["rps"] / runs[f"a/{key}"]["rps"]
        ratios[f"c/d {key}"] = runs[f"c/{key}"]["rps"] / runs[f"d/{key}"]["rps"]
        ratios[f"c/d0 {key}"] = runs[f"c/{key}"]["rps"] / runs[f"d0/{key}"]["rps"]
    results["ratios"] = ratios
    print(markdown(results))
    if options.json:
        Path(options.json).write_text(json.dumps(results, indent=2))
    return 0


def markdown(results: dict) -> str:
    runs = results["runs"]
    labels = {
        "a": "(a) nginx, plain static file",
        "b": "(b) production: deploy/nginx-statuspage.conf on the snapshot",
        "c": "(c) embedded: Django + gunicorn serving the snapshot",
        "d": "(d) minimal Django view, same project and gunicorn",
        "d0": "(d0) bare Django (no middleware), same gunicorn settings",
    }
    lines = [
        "| server | /status/ req/s | /status/ p99 | summary.json req/s | summary.json p99 |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, label in labels.items():
        s, j = runs[f"{name}/status"], runs[f"{name}/summary"]
        lines.append(
            f"| {label} | {s['rps']:,.0f} | {s['p99_ms']:.2f} ms | {j['rps']:,.0f} | "
            f"{j['p99_ms']:.2f} ms |"
        )
    r = results["ratios"]
    lines += [
        "",
        "| ratio | /status/ | summary.json | target |",
        "| --- | ---: | ---: | --- |",
        f"| (b) / (a) | {r['b/a status']:.0%} | {r['b/a summary']:.0%} | ≥ 50 % |",
        f"| (c) / (d) | {r['c/d status']:.0%} | {r['c/d summary']:.0%} | ≥ 70 % |",
        f"| (c) / (d0) | {r['c/d0 status']:.0%} | {r['c/d0 summary']:.0%} | (reference) |",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
