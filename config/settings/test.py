"""Test settings: local services only, their own databases and Redis DB number.

Tests must never touch a non-local database (seed 003: a test run truncated a
shared database). Any ``DATABASE_URL`` whose host is not local is refused here,
before a single connection is opened.
"""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production")
# The test runner creates, migrates and drops databases on a loaded CI machine: the web's
# 10 s statement bound is for people waiting, not for CREATE/DROP DATABASE.
os.environ.setdefault("DB_STATEMENT_TIMEOUT_MS", "60000")
os.environ.setdefault("KEEL_DATA_DIR", os.path.join(os.path.dirname(__file__), "../../data/test"))

from .base import *  # noqa: F403
from .base import DATA_DIR, DATABASES, REDIS_BROKER_TRANSPORT_OPTIONS, REDIS_URL, env

LOCAL_DB_HOSTS = {"", "localhost", "127.0.0.1", "::1"}
# KEEL_TEST_REDIS_DB lets two suites share one Redis server without colliding.
TEST_REDIS_DB = int(env("KEEL_TEST_REDIS_DB", "13"))


def _hosts_libpq_would_use(conf: dict, environ) -> list[str]:
    """Every host a PostgreSQL connection could reach: HOST, then what libpq falls
    back to or prefers — ``host``/``hostaddr`` in OPTIONS (``?host=`` in the URL) and
    the PGHOST/PGHOSTADDR environment — each possibly a comma-separated list."""
    host = (conf.get("HOST") or "").strip()
    options = conf.get("OPTIONS") or {}
    candidates = [host]
    if "postgresql" in conf.get("ENGINE", ""):
        candidates.append(str(options.get("host") or ""))
        candidates.append(str(options.get("hostaddr") or ""))
        if not host and not options.get("host"):
            candidates.append(environ.get("PGHOST", ""))
        candidates.append(environ.get("PGHOSTADDR", ""))
    return [part.strip() for value in candidates for part in value.split(",")]


def refuse_non_local_database(databases: dict, environ=os.environ) -> None:
    """Raise unless every configured database is on this machine."""
    from django.core.exceptions import ImproperlyConfigured

    for alias, conf in databases.items():
        options = conf.get("OPTIONS") or {}
        if "postgresql" in conf.get("ENGINE", "") and (
            options.get("service") or environ.get("PGSERVICE")
        ):
            # A pg_service.conf entry can name any host; we cannot vouch for it.
            raise ImproperlyConfigured(
                f"tests refuse database {alias!r} through a libpq service: name the "
                "local host in DATABASE_URL instead"
            )
        for host in _hosts_libpq_would_use(conf, environ):
            if host.startswith("/"):
                continue  # a Unix socket is local by construction
            if host.lower() not in LOCAL_DB_HOSTS:
                raise ImproperlyConfigured(
                    f"tests refuse database {alias!r} on host {host!r}: only localhost, "
                    "127.0.0.1 or a Unix socket may be used by the test suite"
                )


refuse_non_local_database(DATABASES)

# KEEL_TEST_DATABASE_NAME lets two suites share one machine without colliding;
# the test runner drops that database, so it must be recognisably a test one.
_test_name = env("KEEL_TEST_DATABASE_NAME", "keel_test")
if not _test_name.startswith("keel_test"):
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(
        f"KEEL_TEST_DATABASE_NAME must start with 'keel_test', got {_test_name!r}"
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["TEST"] = {"NAME": _test_name}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
else:
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / f"{_test_name}.sqlite3")}


def _test_redis_url(url: str | None) -> str | None:
    """The same Redis server, but a DB number of the tests' own."""
    if not url:
        return None
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.hostname not in {"localhost", "127.0.0.1", "::1"}:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(f"tests refuse Redis on host {parts.hostname!r}")
    return urlunsplit((parts.scheme, parts.netloc, f"/{TEST_REDIS_DB}", "", ""))


REDIS_URL = _test_redis_url(REDIS_URL)
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = dict(REDIS_BROKER_TRANSPORT_OPTIONS)
KEEL_REQUIRE_SERVICES = env("KEEL_REQUIRE_SERVICES", "0") == "1"

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_AUTOREFRESH = True
# Integration tests point their worker processes at a real SMTP server (tests/fakes/smtp.py).
EMAIL_BACKEND = env("KEEL_TEST_EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend")
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
CELERY_TASK_ALWAYS_EAGER = False
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
# The locmem cache lives as long as the test process: with production limits, every
# suite's posts to the subscribe form from 127.0.0.1 would add up to a 429 somewhere
# unrelated. tests/security/test_subscribe_abuse.py sets the real limits it checks.
KEEL_SUBSCRIBE_PER_ADDRESS = 10_000
KEEL_SUBSCRIBE_PER_CLIENT = 10_000
KEEL_SUBSCRIBE_GLOBAL = 100_000
