import os
import socket

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from tests.factories.incidents import UserFactory


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
    return UserFactory(username="victor", role="viewer")


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
    """``as_user(user)`` → an APIClient authenticated with that user's token."""
    from rest_framework.authtoken.models import Token

    def login(user):
        token, _ = Token.objects.get_or_create(user=user)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return login
