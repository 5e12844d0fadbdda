"""Example request bodies for the OpenAPI document (incidents API)."""

from drf_spectacular.utils import OpenApiExample

DECLARE = OpenApiExample(
    "Declare a SEV2",
    value={
        "title": "Checkout API returns 502 for a third of requests",
        "summary": "Error rate on checkout rose from 0.1% to 31% at 14:02 UTC.",
        "severity": "SEV2",
        "services": ["checkout"],
        "started_at": "2026-03-04T14:02:00Z",
        "detection_source": "monitoring",
    },
    request_only=True,
)
STAGE_MOVE = OpenApiExample(
    "Move to judge",
    value={"stage": "judge", "note": "Scope known: EU checkout only."},
    request_only=True,
)
DECISION = OpenApiExample(
    "Record a roll-back decision",
    value={
        "options": ["Roll back 2026.03.04-1", "Fix forward", "Fail over to eu-west-2"],
        "chosen": "Roll back 2026.03.04-1",
        "rationale": "The errors began with the deploy; the rollback takes 4 minutes.",
    },
    request_only=True,
)
ALERTMANAGER = OpenApiExample(
    "Alertmanager firing group",
    value={
        "version": "4",
        "groupKey": '{}:{alertname="CheckoutErrors"}',
        "status": "firing",
        "receiver": "keel",
        "groupLabels": {"alertname": "CheckoutErrors"},
        "commonLabels": {"alertname": "CheckoutErrors", "service": "checkout", "severity": "page"},
        "commonAnnotations": {"summary": "Checkout 5xx above 5%"},
        "externalURL": "http://alertmanager:9093",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "CheckoutErrors", "service": "checkout"},
                "annotations": {"summary": "Checkout 5xx above 5%"},
                "startsAt": "2026-03-04T14:02:00Z",
                "fingerprint": "c0ffee0123456789",
            }
        ],
    },
    request_only=True,
)
