"""/healthz stays open; /readyz's details and /metrics need the metrics token or an
allowed network; without them /readyz says only ok/unavailable and /metrics refuses."""

import json
import re

import pytest

from incidents import services
from notifications import services as notification_services
from tests.factories.incidents import severity

TOKEN = "metrics-token-for-tests-0123456789"
DOWN_BROKER = "redis://127.0.0.1:1/0"


@pytest.fixture
def ops_settings(settings):
    settings.KEEL_METRICS_TOKEN = TOKEN
    settings.KEEL_OPS_ALLOW_CIDRS = []
    return settings


@pytest.fixture
def private_incident(responder):
    incident = services.incident_declare(
        title="PRIVATE-MARKER-7f3 breach", severity=severity("SEV1"), actor=responder
    )
    incident.private = True
    incident.save(update_fields=["private"])
    return incident


def _leaks(body: str) -> list[str]:
    """Hosts, ports or error strings a failed readiness check might echo."""
    return re.findall(r"127\.0\.0\.1|:1/0|refused|Error|redis://|postgres", body)


@pytest.mark.django_db
def test_healthz_stays_open(client, ops_settings):
    assert client.get("/healthz").json() == {"status": "ok"}


@pytest.fixture
def worker_seen(transactional_db):
    """A worker ran the heartbeat task just now (committed: the checks run in threads)."""
    notification_services.worker_heartbeat_record(hostname="celery@test")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_anonymous_readyz_answers_only_the_verdict(client, ops_settings, worker_seen):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_anonymous_readyz_on_failure_names_no_host_port_or_error(client, ops_settings):
    ops_settings.CELERY_BROKER_URL = DOWN_BROKER
    ops_settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable"}
    assert _leaks(response.content.decode()) == []
    # The same failure, read with the token, names the broker.
    detailed = client.get("/readyz", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert detailed.status_code == 503
    assert detailed.json()["checks"]["broker"]["ok"] is False


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_readyz_details_with_the_token(client, ops_settings, worker_seen):
    body = client.get("/readyz", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").json()
    assert body["status"] == "ready" and body["checks"]["database"]["ok"] is True


@pytest.mark.django_db
def test_anonymous_metrics_is_401_and_counts_nothing(client, ops_settings, private_incident):
    response = client.get("/metrics")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="ops"'
    assert "keel_" not in response.content.decode()
    assert "PRIVATE-MARKER" not in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "header",
    [
        "Bearer wrong",
        f"Token {TOKEN}",
        f"Bearer {TOKEN}x",
        "Bearer ",
        # An API token is not an ops token.
        "Bearer keel_abc",
    ],
)
def test_metrics_with_a_wrong_token_is_403(client, ops_settings, header):
    response = client.get("/metrics", HTTP_AUTHORIZATION=header)
    assert response.status_code == 403
    assert json.loads(response.content)["code"] == "permission_denied"


@pytest.mark.django_db
def test_no_token_configured_refuses_every_bearer(client, settings):
    settings.KEEL_METRICS_TOKEN = ""
    settings.KEEL_OPS_ALLOW_CIDRS = []
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 403
    assert client.get("/metrics").status_code == 401


@pytest.mark.django_db
def test_metrics_with_the_token(client, ops_settings, private_incident):
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert "keel_open_incidents" in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("cidrs", "address", "expected"),
    [
        (["10.0.0.0/8"], "10.1.2.3", 200),
        (["10.0.0.0/8"], "11.0.0.1", 401),
        (["10.0.0.0/8", "2001:db8::/32"], "2001:db8::5", 200),
        (["127.0.0.1/32"], "::ffff:127.0.0.1", 200),
        ([], "127.0.0.1", 401),
    ],
)
def test_metrics_from_an_allowed_network(client, settings, cidrs, address, expected):
    settings.KEEL_METRICS_TOKEN = ""
    settings.KEEL_OPS_ALLOW_CIDRS = cidrs
    assert client.get("/metrics", REMOTE_ADDR=address).status_code == expected


@pytest.mark.django_db
def test_a_forged_forwarded_for_does_not_reach_an_allowed_network(client, settings):
    settings.KEEL_OPS_ALLOW_CIDRS = ["10.0.0.0/8"]
    settings.KEEL_TRUSTED_PROXY_COUNT = 1
    # Behind one proxy, the rightmost entry is what the proxy saw; the rest is forged.
    forged = client.get("/metrics", HTTP_X_FORWARDED_FOR="10.0.0.1, 198.51.100.7")
    assert forged.status_code == 401
    assert client.get("/metrics", HTTP_X_FORWARDED_FOR="198.51.100.7, 10.0.0.1").status_code == 200


@pytest.mark.django_db
def test_wrong_ops_tokens_are_throttled_per_address(client, ops_settings):
    ops_settings.KEEL_TOKEN_FAILURE_LIMIT = 2
    for _ in range(2):
        assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer guess").status_code == 403
    # Past the limit even the right token is refused from this address.
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 403
    other = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}", REMOTE_ADDR="10.9.9.9")
    assert other.status_code == 200


def test_a_bad_network_in_the_settings_fails_fast(settings):
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env={
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "KEEL_OPS_ALLOW_CIDRS": "10.0.0.0/8,not-a-network",
            "PATH": "/usr/bin:/bin",
        },
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "KEEL_OPS_ALLOW_CIDRS" in result.stderr
