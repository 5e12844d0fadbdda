"""Keel's outbound webhook events as versioned contracts: one JSON Schema per event
type, published in ``docs/events/<type>.json`` and in the OpenAPI document's
``webhooks`` section (``webhooks_postprocess``, a drf-spectacular hook).

Every payload carries ``type`` and ``version``. ``version`` is the event's major
version: fields may be *added* within a version (receivers ignore what they do
not know); renaming or removing a field, or changing what one means, is a new
version. The schemas are written inline (no ``$ref``), so each file stands alone
and the same object works inside the OpenAPI document.

Two families:

* team webhooks (``notifications.outbox.webhook_payload``): ``incident.*``, the
  Standard Webhooks envelope ``{type, version, timestamp, data}``;
* status-page subscriber webhooks (``statuspage.subscriptions``): Statuspage's
  shape ``{meta, page, incident | component_update + component}`` plus ``type``
  and ``version``.

Pure data: this module imports no app (the tests check the enums against the
models). Regenerate the files with ``python -m common.webhook_contracts``.
"""

import copy
import json
import sys
from pathlib import Path

DIALECT = "https://json-schema.org/draft/2020-12/schema"
DOCS_DIR = Path(__file__).resolve().parent.parent / "docs" / "events"

# The major version of each event's payload (see the module docstring).
VERSIONS: dict[str, int] = {
    "incident.declared": 1,
    "incident.stage": 1,
    "incident.severity": 1,
    "incident.manual": 1,
    "incident.reminder": 1,
    "incident_update": 1,
    "maintenance_update": 1,
    "component_update": 1,
    "endpoint.verification": 1,
    "destination.test": 1,
}

# Which ``data.update.kind`` each team event carries (kinds added after receivers
# were written kept the event type they had).
TEAM_KINDS = {
    "incident.declared": ["declared"],
    "incident.stage": ["stage", "resolved", "reopened"],
    "incident.severity": ["severity"],
    "incident.manual": ["manual", "postmortem"],
    "incident.reminder": ["reminder"],
}
STAGES = ["detect", "propagate", "judge", "recover", "analyze", "share", "retrospect"]
PUBLIC_STATUSES = ["investigating", "identified", "monitoring", "resolved"]
COMPONENT_STATUSES = [
    "operational",
    "degraded_performance",
    "partial_outage",
    "major_outage",
    "under_maintenance",
]
IMPACTS = ["none", "minor", "major", "critical", "maintenance"]
INCIDENT_STATUSES = ["investigating", "identified", "monitoring", "resolved", "postmortem"]
MAINTENANCE_STATUSES = ["scheduled", "in_progress", "verifying", "completed", "cancelled"]

DESCRIPTIONS = {
    "incident.declared": "An incident was declared (UI, API, Slack or an alert).",
    "incident.stage": "The incident moved stage; `data.update.kind` is `resolved` when "
    "service was restored and `reopened` on a regression.",
    "incident.severity": "The incident's severity changed.",
    "incident.manual": "A responder posted a status update; `data.update.kind` is "
    "`postmortem` when the postmortem was published.",
    "incident.reminder": "An audience is overdue for an update (sent to the responders).",
    "incident_update": "Status-page subscribers: a public incident was created or updated "
    "(Statuspage's incident webhook).",
    "maintenance_update": "Status-page subscribers: a scheduled maintenance was scheduled, "
    "started, completed or cancelled (Statuspage sends it in the incident shape).",
    "component_update": "Status-page subscribers: a component changed status "
    "(Statuspage's component webhook).",
    "endpoint.verification": "Status-page subscribers: sent once on subscribing; answer 2xx "
    'with the `challenge` (as the body, or as `{"challenge": ...}`) to confirm.',
    "destination.test": "Team webhooks: an admin pressed *Send test* in Settings → Audiences "
    "and destinations. No incident is behind it; answer 2xx as for any event.",
}

# Retry semantics of every Keel webhook, for the OpenAPI description.
DELIVERY = (
    "Signed the Standard Webhooks way: `webhook-signature` is `v1,<base64 HMAC-SHA256 of "
    '"{webhook-id}.{webhook-timestamp}.{body}">` keyed with the secret after `whsec_`. '
    "`webhook-id` is stable across retries: de-duplicate on it. Answer 2xx quickly; "
    "429 and 5xx (honouring `Retry-After`), 408, 425 and timeouts are retried with "
    "backoff; 410 unsubscribes a status-page subscriber; other answers are final."
)


def _nullable(schema: dict) -> dict:
    schema = dict(schema)
    kind = schema.get("type")
    if isinstance(kind, str):
        schema["type"] = [kind, "null"]
    if "enum" in schema:
        schema["enum"] = [*schema["enum"], None]
    return schema


def _object(properties: dict, *, optional: tuple[str, ...] = ()) -> dict:
    return {
        "type": "object",
        "required": [name for name in properties if name not in optional],
        "properties": properties,
    }


STRING = {"type": "string"}
TIME = {"type": "string", "format": "date-time"}
URL = {"type": "string", "format": "uri"}


def _team(event: str) -> dict:
    return _object(
        {
            "type": {"const": event},
            "version": {"const": VERSIONS[event]},
            "timestamp": {**TIME, "description": "When the update was posted."},
            "data": _object(
                {
                    "incident": _object(
                        {
                            "id": {"type": "integer"},
                            "title": STRING,
                            "severity": {**STRING, "examples": ["SEV1", "SEV2"]},
                            "stage": {"enum": STAGES},
                            "url": URL,
                        }
                    ),
                    "update": _object(
                        {
                            "id": {"type": "integer"},
                            "kind": {"enum": TEAM_KINDS[event]},
                            "message": STRING,
                            "text": {
                                **STRING,
                                "description": "The message in the audience's template.",
                            },
                            "public_status": _nullable({"enum": PUBLIC_STATUSES}),
                            "next_update_at": _nullable(TIME),
                        }
                    ),
                    "audience": {**STRING, "description": "The audience's slug, e.g. `cs`."},
                }
            ),
        }
    )


def _component() -> dict:
    return _object(
        {
            "id": STRING,
            "name": STRING,
            "status": {"enum": COMPONENT_STATUSES},
            "created_at": TIME,
            "updated_at": TIME,
            "position": {"type": "integer"},
            "description": _nullable(STRING),
            "showcase": {"type": "boolean"},
            "start_date": _nullable({"type": "string", "format": "date"}),
            "group_id": _nullable(STRING),
            "page_id": STRING,
            "group": {"type": "boolean"},
            "only_show_if_degraded": {"type": "boolean"},
            "components": {"type": "array", "items": STRING},
        },
        optional=("components",),
    )


def _affected() -> dict:
    return _object(
        {
            "code": STRING,
            "name": STRING,
            "old_status": {"enum": COMPONENT_STATUSES},
            "new_status": {"enum": COMPONENT_STATUSES},
        }
    )


def _incident_document(*, maintenance: bool) -> dict:
    update = _object(
        {
            "id": STRING,
            "status": {"enum": MAINTENANCE_STATUSES if maintenance else INCIDENT_STATUSES},
            "body": STRING,
            "incident_id": STRING,
            "created_at": TIME,
            "updated_at": TIME,
            "display_at": TIME,
            "affected_components": _nullable({"type": "array", "items": _affected()}),
            "deliver_notifications": {"type": "boolean"},
            "custom_tweet": {"type": "null"},
            "tweet_id": {"type": "null"},
        }
    )
    properties = {
        "id": STRING,
        "name": STRING,
        "status": {"enum": MAINTENANCE_STATUSES if maintenance else INCIDENT_STATUSES},
        "created_at": TIME,
        "updated_at": TIME,
        "monitoring_at": _nullable(TIME),
        "resolved_at": _nullable(TIME),
        "impact": {"enum": IMPACTS},
        "shortlink": URL,
        "started_at": _nullable(TIME),
        "page_id": STRING,
        "incident_updates": {"type": "array", "items": update},
        "components": {"type": "array", "items": _component()},
    }
    if maintenance:
        properties |= {"scheduled_for": TIME, "scheduled_until": TIME}
    return _object(properties)


def _meta() -> dict:
    return _object(
        {
            "unsubscribe": {**URL, "description": "One-click unsubscribe link."},
            "manage": {**URL, "description": "Choose components or unsubscribe."},
            "documentation": URL,
        },
        optional=("documentation",),
    )


def _page() -> dict:
    return _object(
        {
            "id": STRING,
            "status_indicator": {"enum": IMPACTS},
            "status_description": STRING,
        }
    )


def _subscriber(event: str) -> dict:
    head = {"type": {"const": event}, "version": {"const": VERSIONS[event]}}
    if event == "endpoint.verification":
        return _object(
            {
                **head,
                "challenge": STRING,
                "page": _object({"id": STRING, "name": STRING}),
                "meta": _meta(),
            },
            optional=("meta",),
        )
    if event == "component_update":
        change = _object(
            {
                "id": STRING,
                "component_id": STRING,
                "created_at": TIME,
                "old_status": {"enum": COMPONENT_STATUSES},
                "new_status": {"enum": COMPONENT_STATUSES},
            }
        )
        body = {"component_update": change, "component": _component()}
    else:
        body = {"incident": _incident_document(maintenance=event == "maintenance_update")}
    return _object({**head, "meta": _meta(), "page": _page(), **body})


def _destination_test() -> dict:
    event = "destination.test"
    return _object(
        {
            "type": {"const": event},
            "version": {"const": VERSIONS[event]},
            "timestamp": {**TIME, "description": "When the test was requested."},
            "data": _object(
                {
                    "destination": _object(
                        {"id": {"type": "integer"}, "name": STRING, "audience": STRING}
                    ),
                    "message": STRING,
                    "requested_by": STRING,
                }
            ),
        }
    )


def schema(event: str) -> dict:
    """The JSON Schema (2020-12) of one event type's payload."""
    if event == "destination.test":
        body = _destination_test()
    else:
        body = _team(event) if event in TEAM_KINDS else _subscriber(event)
    return {
        "$schema": DIALECT,
        "title": f"Keel webhook event {event} v{VERSIONS[event]}",
        "description": DESCRIPTIONS[event],
        **body,
    }


def schemas() -> dict[str, dict]:
    return {event: schema(event) for event in VERSIONS}


def _webhook(event: str) -> dict:
    body = copy.deepcopy(schema(event))
    body.pop("$schema")
    team = event in TEAM_KINDS or event == "destination.test"
    family = "Team webhooks" if team else "Status-page subscriber webhooks"
    headers = [
        ("webhook-id", "The delivery's id: stable across retries, de-duplicate on it."),
        ("webhook-timestamp", "Unix seconds when this attempt was signed."),
        ("webhook-signature", "`v1,<base64 signature>`, space-separated when several."),
    ]
    return {
        "post": {
            "operationId": "webhook_" + event.replace(".", "_"),
            "summary": f"{event} (version {VERSIONS[event]})",
            "description": f"{DESCRIPTIONS[event]}\n\n{DELIVERY}",
            "tags": [family],
            "parameters": [
                {
                    "name": name,
                    "in": "header",
                    "required": True,
                    "schema": {"type": "string"},
                    "description": text,
                }
                for name, text in headers
            ],
            "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
            "responses": {
                "2XX": {"description": "Received."},
                "410": {"description": "Gone: a status-page subscriber is unsubscribed."},
            },
        }
    }


def webhooks_postprocess(result, generator, request, public):
    """drf-spectacular hook: every event under the document's ``webhooks`` (an
    OpenAPI 3.1 field; a 3.0 document gets them as ``x-webhooks``)."""
    key = "webhooks" if str(result.get("openapi", "")).startswith("3.1") else "x-webhooks"
    result[key] = {**result.get(key, {}), **{event: _webhook(event) for event in VERSIONS}}
    return result


def write_docs(directory: Path = DOCS_DIR) -> list[Path]:
    """Write ``docs/events/<type>.json``; returns the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for event, body in schemas().items():
        path = directory / f"{event}.json"
        path.write_text(json.dumps(body, indent=2, ensure_ascii=False) + "\n")
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write_docs(Path(sys.argv[1]) if len(sys.argv) > 1 else DOCS_DIR):
        print(path)
