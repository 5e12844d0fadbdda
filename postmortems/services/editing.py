"""Editing a postmortem: sections and title saved with a per-section version check,
one version bump per save, approvals of changed content withdrawn."""

from collections.abc import Iterable
from typing import Any

from django.db import transaction

from common.exceptions import InvalidInput
from postmortems import sections as kinds
from postmortems.models import NAME_MAX, Postmortem, Section, SectionKind
from postmortems.review import approvals_withdraw
from postmortems.writes import (
    VersionConflict,
    WrongStatus,
    audit,
    bump,
    display_name,
    lock,
    require_editor,
)


def _check_version(
    postmortem: Postmortem,
    expected_version: int | None,
    *,
    keys: Iterable[str] = (),
    title: bool = False,
) -> None:
    """Refuse a save when what it writes changed since ``expected_version``.

    Each section records the postmortem version it was last saved in, so the check is
    per section: two people writing different sections do not conflict, but a save of
    a section someone (or the same person in another tab) saved after the version the
    editor loaded is a ``VersionConflict`` (409) naming who saved it and when.
    """
    if expected_version is None:
        raise InvalidInput('Send the version you edited ("version").', field="version")
    if expected_version == postmortem.version:
        return
    changed = []
    if expected_version < postmortem.version:
        changed = list(
            Section.objects.filter(
                postmortem=postmortem, key__in=list(keys), saved_version__gt=expected_version
            )
            .select_related("updated_by")
            .order_by("-updated_at")
        )
    title_changed = False
    if title and not changed:
        earlier = (
            postmortem.history.filter(version__lte=expected_version)
            .order_by("-history_date")
            .values_list("title", flat=True)
            .first()
        )
        title_changed = earlier is not None and earlier != postmortem.title
    if expected_version < postmortem.version and not changed and not title_changed:
        return
    if changed:
        saver, when, what = changed[0].updated_by, changed[0].updated_at, f"“{changed[0].title}”"
    else:
        saver, when = postmortem.last_saved_by, postmortem.last_saved_at
        what = "the title" if title_changed else "this postmortem"
    who = f"{display_name(saver)} ({saver.get_username()})" if saver else "Someone"
    at = f"{when:%Y-%m-%d %H:%M:%S} UTC" if when else "an unknown time"
    raise VersionConflict(
        f"{who} saved {what} at {at} (now version {postmortem.version}; you edited version "
        f"{expected_version}). Reload to see their changes before saving yours.",
        field="version",
        extra={
            "current_version": postmortem.version,
            "last_saved_by": saver.get_username() if saver else None,
            "last_saved_at": when.isoformat() if when else None,
            "sections": [section.key for section in changed],
        },
    )


def _require_editable(postmortem: Postmortem) -> None:
    if postmortem.status == Postmortem.Status.PUBLISHED:
        raise WrongStatus("The postmortem is published; published postmortems are read-only.")


def action_items_section_touch(postmortem: Postmortem, *, actor) -> None:
    """An action item written outside the editor makes open editors' copies stale."""
    for section in Section.objects.filter(postmortem=postmortem, kind=SectionKind.ACTION_ITEMS):
        section.saved_version = postmortem.version + 1
        section.updated_by = actor
        audit(section, actor=actor, reason="action item changed")
        section.save(update_fields=["saved_version", "updated_by", "updated_at"])


def _write_section(postmortem: Postmortem, section: Section, content: Any, *, actor) -> None:
    where = {"key": section.key, "label": section.title}
    clean = kinds.validate(section.kind, content, **where)
    section.content = kinds.SPECS[section.kind].store(postmortem, clean, actor=actor, **where)
    section.updated_by = actor
    section.saved_version = postmortem.version + 1  # the version this save creates
    audit(section, actor=actor, reason=f"edited {section.key}")
    section.save()


@transaction.atomic
def postmortem_update(
    *,
    postmortem: Postmortem,
    actor,
    expected_version: int | None,
    sections: dict[str, Any] | None = None,
    title: str | None = None,
) -> Postmortem:
    """Save sections (by key) and/or the title if nobody saved since ``expected_version``;
    otherwise ``VersionConflict`` (409) names who saved last and when. One version bump."""
    require_editor(actor)
    postmortem = lock(postmortem)
    _require_editable(postmortem)
    _check_version(postmortem, expected_version, keys=list(sections or {}), title=title is not None)
    sections = sections or {}
    fields = []
    if title is not None:
        title = title.strip()
        if not title or len(title) > NAME_MAX:
            raise InvalidInput(f"Title: 1 to {NAME_MAX} characters.", field="title")
        postmortem.title = title
        fields.append("title")
    if sections:
        found = {
            s.key: s for s in Section.objects.filter(postmortem=postmortem, key__in=list(sections))
        }
        missing = sorted(set(sections) - set(found))
        if missing:
            raise InvalidInput(f"No section with key(s): {', '.join(missing)}.", field="sections")
        for key, content in sections.items():
            _write_section(postmortem, found[key], content, actor=actor)
    if not sections and not fields:
        return postmortem
    what = ", ".join([*(f"“{found[key].title}”" for key in sections), *fields])
    content_saved(
        postmortem,
        actor=actor,
        what=what,
        reason="edited " + ", ".join([*sections, *fields]),
        fields=fields,
    )
    return postmortem


def content_saved(
    postmortem: Postmortem, *, actor, what: str, reason: str, fields: Iterable[str] = ()
) -> None:
    """One new version after a save of the content; approvals of other content are
    withdrawn (``review.approvals_withdraw``), and the history row says so."""
    withdrawn = approvals_withdraw(postmortem=postmortem, actor=actor, what=what)
    if withdrawn:
        names = ", ".join(sorted(r.reviewer.get_username() for r in withdrawn))
        reason = f"{reason}; approval by {names} withdrawn: back to review"
    bump(postmortem, actor=actor, reason=reason, fields=fields)


def section_save(
    *, postmortem: Postmortem, key: str, content: Any, expected_version: int | None, actor
) -> Postmortem:
    """Save one section (the editor's autosave); see ``postmortem_update``."""
    return postmortem_update(
        postmortem=postmortem,
        actor=actor,
        expected_version=expected_version,
        sections={key: content},
    )
