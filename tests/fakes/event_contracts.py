"""Check a webhook body Keel sent against its published schema (docs/events/).

Strictly: every object in the schema is closed (``additionalProperties: false``)
here, so a field Keel sends that the schema does not document fails too —
receivers may ignore unknown fields, but our own documentation may not miss one."""

import copy
import json
from functools import cache

from jsonschema import Draft202012Validator

from common.webhook_contracts import DOCS_DIR


def _closed(schema):
    if isinstance(schema, dict):
        schema = {key: _closed(value) for key, value in schema.items()}
        if schema.get("type") == "object" and "properties" in schema:
            schema.setdefault("additionalProperties", False)
        return schema
    if isinstance(schema, list):
        return [_closed(item) for item in schema]
    return schema


@cache
def validator(event: str) -> Draft202012Validator:
    published = json.loads((DOCS_DIR / f"{event}.json").read_text())
    return Draft202012Validator(
        _closed(copy.deepcopy(published)), format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def contract_errors(body) -> list[str]:
    """What is wrong with ``body`` as the event its ``type`` names ([] if nothing)."""
    if not isinstance(body, dict) or not isinstance(body.get("type"), str):
        return [f"no event type in {str(body)[:200]}"]
    event = body["type"]
    if not (DOCS_DIR / f"{event}.json").exists():
        return [f"{event}: no schema published in docs/events/"]
    return [
        f"{event}: {'/'.join(map(str, error.absolute_path)) or '(root)'}: {error.message}"
        for error in validator(event).iter_errors(body)
    ]
