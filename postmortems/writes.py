"""What every postmortem write shares: the role check, the row lock, the audit
fields of a history row, the version bump and the fingerprint of the content.

``postmortems.services`` (templates, start, editing, action items) and
``postmortems.review`` (submit, approve, publish) both build on these, so the
review rules and the editor agree on what "a change to the content" is.
"""

import hashlib
import json
from collections.abc import Iterable

from django.utils import timezone

from common.exceptions import Conflict
from common.roles import require_responder
from postmortems import sections as kinds
from postmortems.models import (
    SEARCH_DOCUMENT_MAX,
    ActionItem,
    Postmortem,
    RemediationOption,
    Section,
)

# History reasons (``_change_reason``) of the postmortem row that mark a save of its
# content, as opposed to a step of the workflow ("submitted for review", "published").
CONTENT_SAVE_REASONS = ("edited", "action item")


class VersionConflict(Conflict):
    code = "version_conflict"


class WrongStatus(Conflict):
    code = "wrong_status"


def require_editor(actor) -> None:
    require_responder(actor, to="write postmortems")


def audit(instance, *, actor, reason: str) -> None:
    instance._history_user = actor
    instance._change_reason = reason[:100]


def display_name(user) -> str:
    return user.get_full_name() or user.get_username() if user else "someone"


def lock(postmortem: Postmortem) -> Postmortem:
    return (
        Postmortem.objects.select_for_update(of=("self",))
        .select_related("incident", "incident__severity", "last_saved_by")
        .get(pk=postmortem.pk)
    )


def bump(postmortem: Postmortem, *, actor, reason: str, fields: Iterable[str] = ()) -> None:
    """One new version of the postmortem, with its history row naming ``actor``."""
    postmortem.version += 1
    postmortem.last_saved_by = actor
    postmortem.last_saved_at = timezone.now()
    refresh_search_document(postmortem)
    audit(postmortem, actor=actor, reason=reason)
    postmortem.save(
        update_fields=[
            "version",
            "last_saved_by",
            "last_saved_at",
            "search_document",
            "updated_at",
            *fields,
        ]
    )


def refresh_search_document(postmortem: Postmortem) -> None:
    parts = [postmortem.title]
    for section in Section.objects.filter(postmortem=postmortem).order_by("position"):
        parts.append(section.title)
        parts.append(kinds.plain_text(section.content))
    for option in RemediationOption.objects.filter(postmortem=postmortem):
        parts += [option.title, option.description, option.pros, option.cons, option.reason]
    for item in ActionItem.objects.filter(postmortem=postmortem):
        parts += [item.title, item.description]
    postmortem.search_document = "\n".join(p for p in parts if p)[:SEARCH_DOCUMENT_MAX]


OPTION_FIELDS = ("position", "title", "description", "pros", "cons", "chosen", "reason")
ITEM_FIELDS = (
    "position", "title", "description", "term", "kind", "owner_id", "due_date", "priority",
    "status", "tracker_url",
)  # fmt: skip


def content_hash(postmortem: Postmortem) -> str:
    """SHA-256 of everything a reviewer reads: the title, every section's content, the
    remediation options and the action items. An approval records the hash it saw;
    any change to these (a typo fix included) gives another hash."""
    document = {
        "title": postmortem.title,
        "sections": list(
            Section.objects.filter(postmortem=postmortem)
            .order_by("position")
            .values_list("key", "title", "content")
        ),
        "options": list(
            RemediationOption.objects.filter(postmortem=postmortem)
            .order_by("position", "pk")
            .values_list(*OPTION_FIELDS)
        ),
        "items": list(
            ActionItem.objects.filter(postmortem=postmortem)
            .order_by("position", "pk")
            .values_list(*ITEM_FIELDS)
        ),
    }
    canonical = json.dumps(document, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()
