"""Security headers on every kind of response: Django views, DRF, the admin, the
public status page (dynamic and the snapshot), static files, early refusals."""

import subprocess
import sys

import pytest
from django.test import Client

from statuspage import snapshot

PATHS = [
    ("/login/", 200),
    ("/admin/login/", 200),
    ("/incidents/", 302),
    ("/api/v1/incidents/", 401),
    ("/api/docs/", 200),
    ("/api/docs/?script=", 200),
    ("/status/", 200),
    ("/status/subscribe/", 200),
    ("/api/v2/summary.json", 200),
    ("/healthz", 200),
    ("/nothing-here/", 404),
]


@pytest.fixture(autouse=True)
def snapshot_dir(tmp_path, settings):
    """Pages of the status page publish a snapshot when there is none: into a
    temporary directory, never the shared test data dir (readiness reads its age)."""
    settings.STATUSPAGE_SNAPSHOT_DIR = tmp_path / "snapshot"
    return settings.STATUSPAGE_SNAPSHOT_DIR


def _directives(policy: str) -> dict[str, list[str]]:
    parts = [part.strip().split() for part in policy.split(";") if part.strip()]
    return {part[0]: part[1:] for part in parts}


def assert_secure(response) -> None:
    policy = _directives(response["Content-Security-Policy"])
    assert policy["script-src"] == ["'self'"]
    assert "'unsafe-inline'" not in policy["default-src"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"] and policy["base-uri"] == ["'none'"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "status"), PATHS)
def test_every_kind_of_response_carries_the_headers(snapshot_dir, path, status):
    response = Client().get(path)
    assert response.status_code == status, path
    assert_secure(response)


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/status/", "/status/history/", "/api/v2/summary.json"])
def test_the_snapshot_carries_the_headers(snapshot_dir, path):
    """Snapshot files are answered before Django's clickjacking middleware runs:
    the status page could be framed before this."""
    snapshot.snapshot_publish()
    response = Client().get(path)
    assert response.status_code == 200
    assert response["ETag"]  # served from the snapshot, not the view
    assert_secure(response)


@pytest.mark.django_db
def test_static_files_carry_the_headers(settings):
    settings.WHITENOISE_USE_FINDERS = True
    response = Client().get("/static/js/keel.js")
    assert response.status_code == 200
    assert_secure(response)


@pytest.mark.django_db
def test_a_refused_oversized_body_carries_the_headers(settings):
    response = Client().post(
        "/api/v1/incidents/",
        data=b"x",
        content_type="application/json",
        CONTENT_LENGTH=str(settings.KEEL_MAX_BODY_BYTES + 1),
    )
    assert response.status_code == 413
    assert_secure(response)


@pytest.mark.django_db
def test_pages_have_no_inline_script(client, responder):
    """The policy allows no inline script: no page may rely on one."""
    import re

    client.force_login(responder)
    for path in ["/incidents/", "/incidents/declare/", "/postmortems/", "/status/", "/login/"]:
        html = client.get(path).content.decode()
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert "src=" in tag, (path, tag)
        assert not re.search(r"\son[a-z]+\s*=", html), path


def _settings_with(env: dict) -> dict:
    code = (
        "import django, json; django.setup(); from django.conf import settings as s; "
        "print(json.dumps({k: getattr(s, k, None) for k in ['SECURE_SSL_REDIRECT', "
        "'SECURE_HSTS_SECONDS', 'SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', "
        "'SECURE_PROXY_SSL_HEADER', 'SECURE_REDIRECT_EXEMPT']}))"
    )
    from django.conf import settings

    result = subprocess.run(
        [sys.executable, "-c", code],
        env={"DJANGO_SETTINGS_MODULE": "config.settings.test", "PATH": "/usr/bin:/bin", **env},
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    import json

    return json.loads(result.stdout)


def test_keel_https_turns_on_hsts_redirect_and_secure_cookies():
    on = _settings_with({"KEEL_HTTPS": "1"})
    assert on["SECURE_SSL_REDIRECT"] is True
    assert on["SECURE_HSTS_SECONDS"] == 31536000
    assert on["SESSION_COOKIE_SECURE"] is True and on["CSRF_COOKIE_SECURE"] is True
    assert on["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    off = _settings_with({})
    assert not off["SECURE_SSL_REDIRECT"] and not off["SECURE_HSTS_SECONDS"]


@pytest.mark.django_db
def test_under_https_plain_http_redirects_and_https_gets_hsts(settings, snapshot_dir):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
    client = Client()
    plain = client.get("/login/")
    assert plain.status_code == 301 and plain["Location"].startswith("https://")
    assert_secure(plain)
    secure = client.get("/status/", HTTP_X_FORWARDED_PROTO="https")
    assert secure.status_code == 200
    assert secure["Strict-Transport-Security"] == "max-age=31536000"
    # The container's health probe speaks plain HTTP from inside: answered, not redirected.
    assert client.get("/readyz").status_code in (200, 503)
    assert client.get("/healthz").status_code == 200
