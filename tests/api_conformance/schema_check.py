"""Check one API response against the OpenAPI document Keel serves at /api/schema/.

``Conformance(document).check(method, path, status, content_type, body)`` finds
the operation (path template + method), requires the status to be documented and,
for JSON, the body to validate against that response's schema. The document is
OpenAPI 3.0 (drf-spectacular); it is turned into JSON Schema 2020-12 once:
``nullable`` becomes a ``null`` type, and every object that lists its
``properties`` gets ``unevaluatedProperties: false``, so a field the code adds
without documenting it is drift too, not only a missing or mistyped one.
"""

import json
import re
from dataclasses import dataclass, field

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

DOCUMENT_URI = "urn:keel:openapi"
ERROR_REF = "#/components/schemas/Error"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


class SchemaDrift(AssertionError):
    """A response the API gave is not the one its schema documents."""


def to_json_schema(node):
    """OpenAPI 3.0 schema objects → JSON Schema 2020-12 (refs into the document)."""
    if isinstance(node, list):
        return [to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {
        key: to_json_schema(value)
        for key, value in node.items()
        if key not in ("nullable", "example", "discriminator", "xml", "externalDocs")
    }
    if isinstance(converted.get("$ref"), str) and converted["$ref"].startswith("#/"):
        converted["$ref"] = DOCUMENT_URI + converted["$ref"]
    if "properties" in converted and "additionalProperties" not in converted:
        converted["unevaluatedProperties"] = False
    if node.get("nullable"):
        if isinstance(converted.get("type"), str):
            converted["type"] = [converted["type"], "null"]
            if "enum" in converted and None not in converted["enum"]:
                converted["enum"] = [*converted["enum"], None]
        else:
            converted = {"anyOf": [converted, {"type": "null"}]}
    return converted


@dataclass
class Operation:
    method: str
    template: str
    operation_id: str
    responses: dict


@dataclass
class Conformance:
    document: dict
    checked: int = 0
    exercised: set = field(default_factory=set)

    def __post_init__(self):
        schemas = self.document.get("components", {}).get("schemas", {})
        converted = {"components": {"schemas": to_json_schema(schemas)}}
        resource = Resource.from_contents(converted, default_specification=DRAFT202012)
        self._registry = Registry().with_resource(DOCUMENT_URI, resource)
        self._validators: dict = {}
        self._paths = []
        for template, item in self.document["paths"].items():
            pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
            operations = {
                method.upper(): Operation(
                    method.upper(), template, item[method]["operationId"], item[method]["responses"]
                )
                for method in METHODS
                if method in item
            }
            self._paths.append((template.count("{"), re.compile(f"^{pattern}$"), operations))
        # A literal segment beats a parameter (``/updates/preview/`` before ``/{id}/``).
        self._paths.sort(key=lambda entry: entry[0])

    @property
    def operations(self) -> set[str]:
        return {op.operation_id for _, _, ops in self._paths for op in ops.values()}

    def operations_for(self, path: str) -> dict | None:
        for _, pattern, operations in self._paths:
            if pattern.match(path):
                return operations
        return None

    def _validator(self, schema: dict) -> Draft202012Validator:
        key = json.dumps(schema, sort_keys=True)
        if key not in self._validators:
            self._validators[key] = Draft202012Validator(
                to_json_schema(schema), registry=self._registry
            )
        return self._validators[key]

    def check(self, *, method: str, path: str, status: int, content_type: str, body: bytes):
        """Raise ``SchemaDrift`` unless the response is one the document describes.
        Paths the document does not describe (HTML pages, /api/v2/*.json feeds, the
        schema itself) are not checked."""
        operations = self.operations_for(path)
        if operations is None:
            return
        method = method.upper()
        where = f"{method} {path} → {status}"
        operation = operations.get("GET" if method == "HEAD" else method)
        if operation is None:
            # DRF authenticates before it looks for the method's handler: an undocumented
            # method answers 401/403 (or 405) with the one error body; OPTIONS is DRF's
            # metadata, the same on every view.
            if method == "OPTIONS":
                return
            if status not in (401, 403, 405):
                raise SchemaDrift(f"{where}: the schema documents no {method} on this path")
            self._check_body(where, "an undocumented method", {"$ref": ERROR_REF}, body)
            return
        self.checked += 1
        self.exercised.add(operation.operation_id)
        response = operation.responses.get(str(status)) or operation.responses.get("default")
        if response is None:
            documented = ", ".join(sorted(operation.responses))
            raise SchemaDrift(
                f"{where}: status {status} is not documented for {operation.operation_id} "
                f"(documented: {documented}); body: {body[:300]!r}"
            )
        content = response.get("content") or {}
        if method == "HEAD" or status == 204:
            return
        if not content:
            if body:
                raise SchemaDrift(f"{where}: documented without a body, got {body[:200]!r}")
            return
        media = content_type.split(";")[0].strip().lower()
        if media not in content:
            raise SchemaDrift(
                f"{where}: Content-Type {media!r} is not documented ({', '.join(content)})"
            )
        if media != "application/json" and not media.endswith("+json"):
            return
        schema = content[media].get("schema")
        if schema is not None:
            self._check_body(where, operation.operation_id, schema, body)

    def _check_body(self, where: str, what: str, schema: dict, body: bytes) -> None:
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise SchemaDrift(f"{where}: the body is not JSON: {body[:200]!r}") from exc
        errors = sorted(self._validator(schema).iter_errors(data), key=lambda e: list(e.path))
        if errors:
            lines = [
                f"  at {'/'.join(str(part) for part in error.absolute_path) or '(root)'}: "
                f"{error.message[:300]}"
                for error in errors[:5]
            ]
            raise SchemaDrift(
                f"{where}: the body does not match the schema of {what}:\n" + "\n".join(lines)
            )
