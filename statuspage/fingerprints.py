"""Content fingerprints of the snapshot's pages: an equal fingerprint, an equal page.

A publish reuses the previous release's file of a page whose fingerprint did not
change (``statuspage.snapshot``), so a fingerprint covers everything that reaches
the page's bytes: what the page shows of its rows (as displayed: labels, not only
codes), the page-wide inputs (name, time zone, logo, stylesheet, the uptime
formula) and the renderer itself (the templates, the Python that fills them, Django's
version, the language and time zone settings). One input is left out on purpose: the
footer's "Generated" time, so a reused page says when it was rendered.
"""

import functools
import hashlib
import json

import django
from django.conf import settings

TEMPLATES = settings.BASE_DIR / "templates" / "statuspage"
# The code a page's bytes depend on besides its templates: the status page's modules
# and the shared filters and formats; a deploy that changes them renders every page.
RENDERER_SOURCES = (
    settings.BASE_DIR / "statuspage",
    settings.BASE_DIR / "common" / "templatetags",
    settings.BASE_DIR / "common" / "formatting.py",
    settings.BASE_DIR / "common" / "timezones.py",
)


def _files(path):
    if path.is_file():
        return [path]
    return sorted(p for p in path.rglob("*.py") if "migrations" not in p.parts)


@functools.cache
def renderer_version() -> str:
    """A digest of the templates, code and settings every page is rendered with (read
    once: they change only with a deploy, which starts new processes)."""
    digest = hashlib.sha256(
        f"{django.get_version()}|{settings.LANGUAGE_CODE}|{settings.TIME_ZONE}".encode()
    )
    for path in sorted(TEMPLATES.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(TEMPLATES)).encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    for source in RENDERER_SOURCES:
        for path in _files(source):
            digest.update(str(path.relative_to(settings.BASE_DIR)).encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def page_key(common: dict) -> str:
    """The page-wide part of every fingerprint: the common context but its
    ``generated_at``, and the renderer."""
    shown = {key: value for key, value in common.items() if key != "generated_at"}
    return _digest([renderer_version(), shown])


def fingerprint(key: str, *parts) -> str:
    """One page's fingerprint: the page-wide ``key`` and what the page shows."""
    return _digest([key, parts])


def _digest(value) -> str:
    # ``default=str``: datetimes as their ISO text with the offset, dates as ISO dates.
    text = json.dumps(value, default=str, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:32]
