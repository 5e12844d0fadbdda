"""Test settings: local services only, their own databases and Redis DB number.

Tests must never touch a non-local database (seed 003: a test run truncated a
shared database). Any ``DATABASE_URL`` whose host is not local is refused here,
before a single connection is opened.
"""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production")
os.environ.setdefault("KEEL_DATA_DIR", os.path.join(os.path.dirname(__file__), "../../data/test"))

from .base import *  # noqa: F403
from .base import DATA_DIR, DATABASES, REDIS_URL, env

LOCAL_DB_HOSTS = {"", "localhost", "127.0.0.1", "::1"}
TEST_REDIS_DB = 13


def refuse_non_local_database(databases: dict) -> None:
    """Raise unless every configured database is on this machine."""
    from django.core.exceptions import ImproperlyConfigured

    for alias, conf in databases.items():
        host = (conf.get("HOST") or "").strip()
        if host.startswith("/"):
            continue  # a Unix socket is local by construction
        if host not in LOCAL_DB_HOSTS:
            raise ImproperlyConfigured(
                f"tests refuse database {alias!r} on host {host!r}: only localhost, "
                "127.0.0.1 or a Unix socket may be used by the test suite"
            )


refuse_non_local_database(DATABASES)

if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["TEST"] = {"NAME": "keel_test"}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
else:
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "keel_test.sqlite3")}


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
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": 3600,
        "socket_connect_timeout": 2,
        "socket_timeout": 5,
    }
KEEL_REQUIRE_SERVICES = env("KEEL_REQUIRE_SERVICES", "0") == "1"

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_AUTOREFRESH = True
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
CELERY_TASK_ALWAYS_EAGER = False
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
