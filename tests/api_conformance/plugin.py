"""pytest plugin: every API response a test receives through Django's test client
(``APIClient`` included) is checked against the OpenAPI document.

Registered for the whole suite in tests/conftest.py (``pytest_plugins``), so every
API test module is covered without opting in: a status the schema does not
document, or a body that does not match it, fails the test at the request that
got it (``SchemaDrift``), naming the operation and the fields. The terminal
summary says how many responses were checked and which operations no test
exercised.
"""

import json

from django.test.client import Client

from tests.api_conformance.schema_check import Conformance

_state: dict = {"conformance": None, "original": None}


def document() -> dict:
    """The document /api/schema/ serves, as plain JSON."""
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiJsonRenderer

    schema = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(schema, renderer_context={}))


def conformance() -> Conformance:
    if _state["conformance"] is None:
        _state["conformance"] = Conformance(document())
    return _state["conformance"]


def check_response(method: str, path: str, response) -> None:
    if not path.startswith("/api/"):
        return
    body = b"" if getattr(response, "streaming", False) else response.content
    conformance().check(
        method=method,
        path=path,
        status=response.status_code,
        content_type=response.get("Content-Type", ""),
        body=body,
    )


def _checked_request(self, **request):
    response = _state["original"](self, **request)
    check_response(request.get("REQUEST_METHOD", "GET"), request.get("PATH_INFO", ""), response)
    return response


def pytest_configure(config):
    if _state["original"] is None:
        _state["original"] = Client.request
        Client.request = _checked_request


def pytest_unconfigure(config):
    if _state["original"] is not None:
        Client.request = _state["original"]
        _state["original"] = None


def pytest_terminal_summary(terminalreporter):
    checked = _state["conformance"]
    if checked is None or not checked.checked:
        return
    missing = sorted(checked.operations - checked.exercised)
    terminalreporter.write_line(
        f"API conformance: {checked.checked} responses checked against /api/schema/; "
        f"{len(checked.exercised)} of {len(checked.operations)} operations exercised"
        + (f" (not exercised: {', '.join(missing)})" if missing else "")
    )
