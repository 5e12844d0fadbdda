"""The one way Keel reads JSON it did not write: bounded before the parser runs.

``parse_json`` checks the size and the nesting depth of the raw text first
(Python's decoder recurses: JSON nested 1,000 deep raises RecursionError, a
500), then parses strictly (no NaN/Infinity: PostgreSQL's jsonb refuses them),
then looks for what PostgreSQL cannot store (NUL, lone surrogates, both only
reachable through ``\\u`` escapes). Callers choose per source: refuse (people
and API clients can fix their input: a 400 naming the field) or ``clean``
(machines that cannot: Alertmanager — the alert matters more than a NUL).

Used by the DRF parser (``common.parsers.JSONParser``, the default for every API
view), the Slack interaction payload and postmortem section series.
"""

import json
import re
from typing import Any

from django.conf import settings

from common.validators import storable, unstorable

# A string, or an unterminated one running to the end (a lone final backslash
# included): every quote starts a match that succeeds, and the possessive repeat
# never backtracks, so stripping strings is linear even for input made of quotes
# and backslashes (a failing match at each quote would make it quadratic).
_STRING = re.compile(r'"(?:[^"\\]|\\.)*+(?:"|\\?\Z)', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
# NUL and lone surrogates can only arrive as \u escapes (raw ones are invalid JSON
# or invalid UTF-8): without one of these the walk is skipped.
_SUSPECT_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")


class JSONInputError(ValueError):
    """The JSON is refused; ``field`` is the top-level key at fault ("" for the body)."""

    def __init__(self, message: str, *, field: str = "", code: str = "parse_error"):
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code


def max_depth() -> int:
    return settings.KEEL_MAX_JSON_DEPTH


def too_deep(text: str, *, limit: int) -> bool:
    """Whether ``text`` nests arrays and objects more than ``limit`` deep, found
    without parsing it (brackets inside strings do not count)."""
    if text.count("[") + text.count("{") <= limit:
        return False  # cannot be deeper than its number of openers: the common case
    depth = 0
    for char in _NOT_BRACKET.sub("", _STRING.sub("", text)):
        if char in "[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def _refuse_constant(name: str):
    raise JSONInputError(f"{name} is not valid JSON.")


def _path(parts: list) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _check(value: Any, parts: list) -> None:
    if isinstance(value, str):
        problem = unstorable(value)
        if problem:
            where = _path(parts)
            raise JSONInputError(
                f"{where or 'The body'} contains {problem}, which cannot be stored.",
                field=str(parts[0]) if parts else "",
                code="invalid_characters",
            )
    elif isinstance(value, dict):
        for key, item in value.items():
            _check(key, parts)  # a bad key is reported at its parent
            _check(item, [*parts, key])
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check(item, [*parts, index])


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, dict):
        return {storable(key): _clean(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_clean(item) for item in value]
    return value


def parse_json(
    raw: bytes | str, *, clean: bool = False, depth: int | None = None, max_bytes: int | None = None
) -> Any:
    """Parse ``raw`` or raise ``JSONInputError``; see the module doc for the checks.

    ``clean=True`` drops NUL and replaces lone surrogates instead of refusing them.
    """
    limit = max_depth() if depth is None else depth
    max_bytes = settings.KEEL_MAX_BODY_BYTES if max_bytes is None else max_bytes
    if len(raw) > max_bytes:
        raise JSONInputError(
            f"The JSON is {len(raw)} bytes; the limit is {max_bytes}.", code="request_too_large"
        )
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise JSONInputError(f"The JSON is not UTF-8: {exc.reason}.") from exc
    else:
        text = raw
    if too_deep(text, limit=limit):
        raise JSONInputError(f"The JSON nests more than {limit} levels deep.", code="json_too_deep")
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError as exc:  # the depth check above should make this unreachable
        raise JSONInputError("The JSON nests too deep.", code="json_too_deep") from exc
    except JSONInputError:
        raise
    except ValueError as exc:
        raise JSONInputError(f"The body is not valid JSON: {exc}.") from exc
    if _SUSPECT_ESCAPE.search(text):
        if clean:
            return _clean(value)
        _check(value, [])
    return value


def check_json_value(value: Any, *, path: str = "") -> None:
    """Refuse an already parsed value that PostgreSQL cannot store (``JSONInputError``)."""
    _check(value, [path] if path else [])
