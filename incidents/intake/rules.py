"""A source's rules: which alerts are ignored, which only attach, how labels map to
a severity and to services. Pure functions over the source's fields.

Matchers are Prometheus-style, one rule a line, the matchers of a line all holding:
``alertname=Watchdog``, ``severity=~info|none`` (an anchored regular expression),
``env!=staging``, ``team!~web.*``.
"""

import re
from dataclasses import dataclass
from functools import lru_cache

from common.exceptions import InvalidInput

_MATCHER = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$")
DEFAULT_SEVERITY = "SEV3"
SEVERITY_CODES = ("SEV1", "SEV2", "SEV3", "SEV4")


@dataclass(frozen=True)
class Matcher:
    label: str
    op: str
    value: str
    pattern: re.Pattern | None

    def holds(self, labels: dict) -> bool:
        actual = labels.get(self.label, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        found = self.pattern.fullmatch(actual) is not None
        return found if self.op == "=~" else not found


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


@lru_cache(maxsize=256)
def parse_matchers(text: str, *, field: str = "matchers") -> tuple[tuple[Matcher, ...], ...]:
    """Each non-blank line → its matchers (``InvalidInput`` naming ``field`` and the line)."""
    rules = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        matchers = []
        for part in line.split(","):
            found = _MATCHER.match(part)
            if found is None:
                raise InvalidInput(
                    f"Line {number}: “{part.strip()[:80]}” is not a matcher "
                    "(label=value, label!=value, label=~regex or label!~regex).",
                    field=field,
                )
            label, op, value = found.groups()
            value = _unquote(value)
            pattern = None
            if op in ("=~", "!~"):
                try:
                    pattern = re.compile(value)
                except re.error as exc:
                    raise InvalidInput(
                        f"Line {number}: {value[:80]} is not a regular expression ({exc}).",
                        field=field,
                    ) from exc
            matchers.append(Matcher(label, op, value, pattern))
        rules.append(tuple(matchers))
    return tuple(rules)


def matches(rules, labels: dict) -> bool:
    return any(all(m.holds(labels) for m in rule) for rule in rules)


@dataclass
class Rules:
    """A source's rules, parsed once per notification."""

    ignore: tuple
    attach_only: tuple
    severity_label: str
    severity_map: dict
    service_labels: tuple[str, ...]
    service_map: dict

    @classmethod
    def of(cls, source) -> "Rules":
        return cls(
            ignore=parse_matchers(source.ignore_matchers, field="ignore_matchers"),
            attach_only=parse_matchers(source.attach_only_matchers, field="attach_only_matchers"),
            severity_label=source.severity_label,
            severity_map={str(k).lower(): v for k, v in (source.severity_map or {}).items()},
            service_labels=tuple(
                name.strip() for name in source.service_labels.split(",") if name.strip()
            ),
            service_map=dict(source.service_map or {}),
        )

    def ignored(self, labels: dict) -> bool:
        return matches(self.ignore, labels)

    def declares(self, labels: dict) -> bool:
        """Whether an alert with ``labels`` may open an incident (not only attach)."""
        return not matches(self.attach_only, labels)

    def severity_code(self, labels: dict) -> str:
        """``keel_severity`` names a severity outright; else the source's severity label
        through its map; else SEV3."""
        wanted = labels.get("keel_severity", "").upper()
        if wanted not in SEVERITY_CODES:
            wanted = str(self.severity_map.get(labels.get(self.severity_label, "").lower(), ""))
        return wanted.upper() if wanted.upper() in SEVERITY_CODES else DEFAULT_SEVERITY

    def service_slugs(self, labels: dict) -> set[str]:
        """The services ``labels`` name: the first service label present, mapped."""
        for name in self.service_labels:
            value = labels.get(name)
            if value:
                return {str(self.service_map.get(value, value))}
        return set()
