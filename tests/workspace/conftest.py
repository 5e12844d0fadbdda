import pytest

from tests.fakes.slack import FakeSlackServer

# Marker strings: if one of them shows up in a page, a log, a history row or an
# API response, a secret leaked.
BOT_TOKEN = "xoxb-1111-MARKERBOTTOKEN7q3z"
SIGNING_SECRET = "MARKERSIGNINGsecret42"


@pytest.fixture
def slack_unconfigured(settings):
    """A fresh install's Slack: nothing in the environment, the fake server as Slack."""
    with FakeSlackServer() as server:
        settings.SLACK_BOT_TOKEN = None
        settings.SLACK_SIGNING_SECRET = None
        settings.SLACK_API_BASE_URL = server.base_url
        settings.KEEL_OUTBOUND_TIMEOUT_SECONDS = 1
        yield server.fake


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client
