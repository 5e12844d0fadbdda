"""The production nginx config (deploy/nginx-statuspage.conf), run for real in front
of a live Keel: it serves the public paths with the security headers and nothing else."""

import os
import shutil
import signal
import subprocess
import urllib.error
import urllib.request

import pytest

from benchmarks.statuspage import free_port, production_nginx_conf, wait_http
from statuspage import snapshot
from tests.conftest import require_service
from tests.factories.statuspage import ComponentFactory

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PUBLIC = [
    "/status/",
    "/status/history/",
    "/status/subscribe/",
    "/api/v2/summary.json",
    "/api/v2/components.json",
    "/static/js/keel.js",
]
PRIVATE = [
    "/admin/",
    "/admin/login/",
    "/login/",
    "/incidents/",
    "/postmortems/",
    "/cs/",
    "/api/v1/incidents/",
    "/api/schema/",
    "/api/docs/",
    "/metrics",
    "/readyz",
    "/healthz",
    "/integrations/slack/commands/",
    "/status/../admin/",
    "/api/v2/../v1/incidents/",
]


def _get(url: str):
    request = urllib.request.Request(url, headers={"Host": "localhost"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


@pytest.fixture
def nginx(live_server, tmp_path, settings):
    path = shutil.which("nginx") or "/usr/sbin/nginx"
    require_service("nginx", os.path.exists(path))
    settings.STATUSPAGE_SNAPSHOT_DIR = tmp_path / "snapshot"
    settings.WHITENOISE_USE_FINDERS = True
    ComponentFactory(slug="api", name="API")
    snapshot.snapshot_publish()
    prefix = tmp_path / "nginx"
    (prefix / "tmp").mkdir(parents=True)
    port = free_port()
    upstream = int(live_server.url.rsplit(":", 1)[1])
    conf = production_nginx_conf(prefix, port, tmp_path / "snapshot" / "current", upstream)
    if os.geteuid() == 0:
        # Workers would run as "nobody", who cannot read pytest's private tmp dir.
        conf = "user root;\n" + conf
    (prefix / "nginx.conf").write_text(conf)
    process = subprocess.Popen(
        [path, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/status/", timeout=20)
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)


def test_nginx_serves_only_the_public_paths_with_the_headers(nginx):
    problems = []
    for path in PUBLIC:
        status, headers, _ = _get(nginx + path)
        if status != 200:
            problems.append(f"{path}: {status}, expected 200")
        if path.startswith("/static/"):
            # The live test server answers static files before any middleware; in
            # production WhiteNoise sets these headers (tests/security/test_headers.py).
            continue
        for name, value in {
            "X-Frame-Options": "DENY",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
        }.items():
            if headers.get(name) != value:
                problems.append(f"{path}: {name}={headers.get(name)!r}")
        policy = headers.get("Content-Security-Policy", "")
        if "frame-ancestors 'none'" not in policy or "script-src 'self';" not in policy:
            problems.append(f"{path}: CSP {policy!r}")
    for path in PRIVATE:
        status, headers, body = _get(nginx + path)
        if status != 404:
            problems.append(f"{path}: {status}, expected 404")
        if b"keel_" in body or b"checks" in body:
            problems.append(f"{path}: body leaks {body[:80]!r}")
        if "frame-ancestors 'none'" not in headers.get("Content-Security-Policy", ""):
            problems.append(f"{path}: refused without the CSP")
    assert not problems, "\n".join(problems)


def test_snapshot_files_come_from_nginx_itself(nginx):
    status, headers, body = _get(nginx + "/api/v2/summary.json")
    assert status == 200 and b'"components"' in body
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert headers["Cache-Control"].startswith("public, max-age=30")
    status, _, _ = _get(nginx + "/")
    assert status == 200  # / redirects to /status/ (urllib follows it)
