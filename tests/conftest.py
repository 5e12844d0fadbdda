import os
import socket

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from tests.factories.incidents import UserFactory

# Every API response a test receives is checked against /api/schema/ (status + body).
pytest_plugins = ["tests.api_conformance.plugin"]


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require_service(name: str, available: bool) -> None:
    """Skip with a reason, or fail when CI demands real services (KEEL_REQUIRE_SERVICES=1)."""
    if available:
        return
    if os.environ.get("KEEL_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{name} is required (KEEL_REQUIRE_SERVICES=1) but not available")
    pytest.skip(f"{name} is not available")


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django's test databases, and at the end no session left on them: a live
    server's thread still streaming a closed tab's live page, or a killed worker's
    connection, kept PostgreSQL from dropping the test database ("being accessed by
    other users"), which then stayed behind. Only this run's own databases are touched."""
    yield
    from django.db import connections

    with django_db_blocker.unblock():
        for connection in connections.all():
            if connection.vendor != "postgresql":
                continue
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            connection.close()


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """Rate-limit counters live in the cache: start every test with none, so failed
    logins or token checks in one test never throttle another. Only the tests'
    in-process cache is cleared, never a shared Redis."""
    from django.core.cache import caches
    from django.core.cache.backends.locmem import LocMemCache

    if isinstance(caches["default"], LocMemCache):
        caches["default"].clear()


@pytest.fixture(autouse=True)
def _free_live_stream_slots():
    """The live pages' stream slots are per process (``incidents.live``): a test client
    never closes a streaming response, so slots taken by one test would count against
    the next one's cap (and answer it 503). Every test starts with all slots free."""
    from incidents import live

    live._slots.clear()


@pytest.fixture(autouse=True)
def own_snapshot_dir(settings, tmp_path):
    """Each test publishes the status page into a directory of its own: a snapshot
    left in the shared data dir goes stale and fails a later test's /readyz."""
    settings.STATUSPAGE_SNAPSHOT_DIR = tmp_path / "statuspage-snapshot"


@pytest.fixture
def postgres_only():
    require_service(
        "PostgreSQL", settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
    )


@pytest.fixture
def redis_url():
    url = settings.REDIS_URL
    require_service("Redis", bool(url) and _reachable("127.0.0.1", 6379))
    return url


@pytest.fixture
def responder(db):
    return UserFactory(username="rita", role="responder")


@pytest.fixture
def viewer(db):
    # Named, not Faker's: a random name could match what a test searches for.
    return UserFactory(username="victor", first_name="Victor", last_name="Viewer", role="viewer")


@pytest.fixture
def admin_user(db):
    user = UserFactory(username="ada", role="admin")
    user.is_superuser = True
    user.save(update_fields=["is_superuser"])
    return user


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def as_user(api_client):
    """``as_user(user)`` → an APIClient authenticated with an API token of that user
    (one token per user per test, minted through ``common.tokens``)."""
    from tests.factories.common import api_key

    keys: dict[int, str] = {}

    def login(user, scheme: str = "Token"):
        if user.pk not in keys:
            keys[user.pk] = api_key(user)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"{scheme} {keys[user.pk]}")
        return client

    return login


def pytest_collection_modifyitems(config, items):
    """Every transactional test must also restore the seeded rows.

    A transactional test flushes the database when it ends; without
    ``serialized_rollback`` Django then re-creates content types with new ids, and
    the next test that restores the serialized rows collides with them (and the
    data migrations' severities and audiences are gone for everyone after it).
    """
    for item in items:
        marker = item.get_closest_marker("django_db")
        if (
            marker
            and marker.kwargs.get("transaction")
            and not marker.kwargs.get("serialized_rollback")
        ):
            raise pytest.UsageError(
                f"{item.nodeid}: use @pytest.mark.django_db(transaction=True, "
                "serialized_rollback=True)"
            )
