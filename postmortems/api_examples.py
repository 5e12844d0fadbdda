"""Example request bodies for the OpenAPI document (postmortems API)."""

from drf_spectacular.utils import OpenApiExample

CREATE = OpenApiExample(
    "Start the postmortem of incident 42",
    value={"incident": 42},
    request_only=True,
)
UPDATE = OpenApiExample(
    "Save the summary and the root cause",
    value={
        "version": 3,
        "sections": {
            "summary": {"text": "A bad config push made checkout return 502 for 38 minutes."},
            "root_cause": {"text": "The config validator skipped the upstream pool size."},
        },
    },
    request_only=True,
)
PUBLISH = OpenApiExample(
    "Publish with a customer summary",
    value={"public_summary": "Between 14:02 and 14:40 UTC some checkouts failed."},
    request_only=True,
)
