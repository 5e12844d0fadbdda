import pytest

from tests.fakes.slack import FakeSlackServer
from tests.fakes.webhooks import WebhookReceiver


@pytest.fixture
def fake_slack(settings):
    with FakeSlackServer() as server:
        settings.SLACK_BOT_TOKEN = "xoxb-test-token"
        settings.SLACK_API_BASE_URL = server.base_url
        settings.KEEL_OUTBOUND_TIMEOUT_SECONDS = 1
        yield server.fake


@pytest.fixture
def webhook_receiver(settings):
    from notifications.models import Destination

    settings.KEEL_WEBHOOKS_ALLOW_PRIVATE = True
    settings.KEEL_OUTBOUND_TIMEOUT_SECONDS = 1
    with WebhookReceiver(secret=Destination.new_secret()) as receiver:
        yield receiver
