"""RSS 2.0 and Atom feeds of public incidents and maintenance.

Built with Django's syndication feed generators (``django.utils.feedgenerator``,
what ``django.contrib.syndication`` renders with) so they can be written into
the snapshot without a request.

Content types: an RSS ``<description>`` and an Atom ``<summary type="html">`` are
HTML, so :func:`_html` escapes the user text in them once (the generator then
XML-escapes the result): a reader shows ``<script>`` in a message as text. Titles
are plain text in both formats and are only XML-escaped.
"""

from datetime import datetime

from django.conf import settings
from django.utils import feedgenerator
from django.utils.html import escape

from statuspage.page_settings import page_name


def _html(text: str) -> str:
    """Plain text as the HTML of a feed summary: escaped once, line breaks kept."""
    return escape(text).replace("\n", "<br>\n")


def _entries(incidents, maintenances):
    base = settings.KEEL_PUBLIC_URL
    for incident in incidents:
        updates = list(incident.updates.all())
        latest = updates[0] if updates else None
        body = "\n\n".join(
            f"{u.get_status_display()} ({u.display_at:%Y-%m-%d %H:%M} UTC): {u.body}"
            for u in updates
        )
        yield {
            "title": incident.name,
            "link": f"{base}/status/incidents/{incident.public_id}/",
            "description": _html(body or incident.get_status_display()),
            "unique_id": f"{base}/status/incidents/{incident.public_id}/",
            "pubdate": incident.started_at,
            "updateddate": latest.display_at if latest else incident.updated_at,
            "categories": [incident.status, f"impact:{incident.impact}"],
        }
    for maintenance in maintenances:
        updates = list(maintenance.updates.all())
        latest = updates[0] if updates else None
        body = (
            f"Scheduled {maintenance.scheduled_for:%Y-%m-%d %H:%M} to "
            f"{maintenance.scheduled_until:%Y-%m-%d %H:%M} UTC."
        )
        if latest:
            body += f"\n\n{latest.get_status_display()}: {latest.body}"
        yield {
            "title": f"[Maintenance] {maintenance.name}",
            "link": f"{base}/status/maintenances/{maintenance.public_id}/",
            "description": _html(body),
            "unique_id": f"{base}/status/maintenances/{maintenance.public_id}/",
            "pubdate": maintenance.created_at,
            "updateddate": latest.display_at if latest else maintenance.updated_at,
            "categories": [maintenance.status, "maintenance"],
        }


def render_feeds(*, incidents, maintenances, now: datetime) -> dict[str, bytes]:
    files = {}
    base = settings.KEEL_PUBLIC_URL
    name = page_name()
    for rel, generator in (
        ("status/feed.rss", feedgenerator.Rss201rev2Feed),
        ("status/feed.atom", feedgenerator.Atom1Feed),
    ):
        feed = generator(
            title=f"{name} status",
            link=f"{base}/status/",
            description=f"Incidents and maintenance of {name}.",
            language="en",
            feed_url=f"{base}/{rel}",
            feed_guid=f"{base}/{rel}",
        )
        entries = sorted(
            _entries(incidents, maintenances), key=lambda e: e["updateddate"], reverse=True
        )
        for entry in entries:
            feed.add_item(**entry)
        files[rel] = feed.writeString("utf-8").encode()
    return files
