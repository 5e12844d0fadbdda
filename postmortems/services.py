"""Writes of the postmortems app: templates, starting a postmortem (pre-filled from
its incident), editing it, action items and their reminders. Each function is one
transaction that writes the state and its history rows (naming the actor).

The review workflow (submit, approve, request changes, publish, retro) is in
``postmortems.review``; its functions are importable from here too, so callers
keep one entry point for the app's writes.
"""

from collections.abc import Iterable
from datetime import date
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify

from common.exceptions import Conflict, InvalidInput, NotAllowed
from common.roles import is_admin
from incidents.models import Incident, Team, TimelineEvent
from notifications.models import UpdateKind
from notifications.services import action_item_assigned_notify, update_post
from postmortems import crossing, owners, prefill
from postmortems import sections as kinds
from postmortems.models import (
    NAME_MAX,
    ActionItem,
    ActionItemReminder,
    Postmortem,
    PostmortemTemplate,
    RemediationOption,
    Section,
    SectionKind,
    TemplateSection,
)
from postmortems.review import (  # noqa: F401  (the app's writes, one import away)
    approvals_withdraw,
    pending_reviewers,
    postmortem_approve,
    postmortem_publish,
    postmortem_request_changes,
    postmortem_submit,
    retro_complete,
    submit_problems,
)
from postmortems.writes import (
    VersionConflict,
    WrongStatus,
    audit,
    bump,
    display_name,
    lock,
    refresh_search_document,
    require_editor,
)

User = get_user_model()
# How one action item written alone (API, action items page) is named in messages.
NEW_ITEM = {"key": "action_item", "label": "Action item"}
Source = TimelineEvent.Source
MAX_TEMPLATE_SECTIONS = 50


# --- templates ------------------------------------------------------------------------


def _clean_template_sections(rows: Iterable[dict]) -> list[dict]:
    rows = list(rows)
    if not rows:
        raise InvalidInput("A template needs at least one section.", field="sections")
    if len(rows) > MAX_TEMPLATE_SECTIONS:
        raise InvalidInput(
            f"A template has at most {MAX_TEMPLATE_SECTIONS} sections.", field="sections"
        )
    seen: set[str] = set()
    clean = []
    for i, row in enumerate(rows):
        key = slugify(str(row.get("key") or row.get("title") or "")).replace("-", "_")[:50]
        title = str(row.get("title") or "").strip()
        kind = row.get("kind")
        help_text = str(row.get("help_text") or "").strip()
        path = f"sections[{i}]"
        if not key or not title:
            raise InvalidInput(f"{path}: a section needs a key and a title.", field="sections")
        if len(title) > NAME_MAX or len(help_text) > 1_000:
            raise InvalidInput(f"{path}: title or help text too long.", field="sections")
        if kind not in SectionKind.values:
            raise InvalidInput(
                f"{path}: unknown kind '{kind}'; kinds are {', '.join(SectionKind.values)}.",
                field="sections",
            )
        if key in seen:
            raise InvalidInput(f"{path}: the key '{key}' is used twice.", field="sections")
        seen.add(key)
        clean.append({"key": key, "title": title, "kind": kind, "help_text": help_text})
    return clean


@transaction.atomic
def template_create(
    *, name: str, sections: Iterable[dict], actor, team: Team | None = None
) -> PostmortemTemplate:
    """A new template (version 1) with its ordered sections."""
    if not is_admin(actor):
        raise NotAllowed("Only admins can manage postmortem templates.")
    name = name.strip()
    if not name or len(name) > NAME_MAX:
        raise InvalidInput(
            f"A template needs a name of at most {NAME_MAX} characters.", field="name"
        )
    clean = _clean_template_sections(sections)
    family = slugify(name)[:40] or "template"
    base, n = family, 1
    while PostmortemTemplate.objects.filter(family=family).exists():
        n += 1
        family = f"{base}-{n}"
    template = PostmortemTemplate.objects.create(
        family=family, name=name, team=team, version=1, created_by=actor
    )
    _write_template_sections(template, clean)
    return template


def _write_template_sections(template: PostmortemTemplate, rows: list[dict]) -> None:
    TemplateSection.objects.bulk_create(
        TemplateSection(template=template, position=i, **row) for i, row in enumerate(rows)
    )


@transaction.atomic
def template_revise(
    *,
    template: PostmortemTemplate,
    sections: Iterable[dict],
    actor,
    name: str | None = None,
    team: Team | bool | None = False,
) -> PostmortemTemplate:
    """Editing a template writes a new version (sections added, removed, reordered);
    postmortems started from older versions keep theirs."""
    if not is_admin(actor):
        raise NotAllowed("Only admins can manage postmortem templates.")
    current = (
        PostmortemTemplate.objects.select_for_update()
        .filter(family=template.family, is_current=True)
        .first()
    )
    if current is None or current.pk != template.pk:
        raise VersionConflict(
            f"'{template.name}' v{template.version} is not the current version; "
            "edit the current one.",
            field="template",
        )
    clean = _clean_template_sections(sections)
    current.is_current = False
    current.save(update_fields=["is_current", "updated_at"])
    revised = PostmortemTemplate.objects.create(
        family=current.family,
        name=(name or current.name).strip()[:NAME_MAX],
        team=current.team if team is False else team,
        version=current.version + 1,
        is_current=True,
        is_default=current.is_default,
        created_by=actor,
    )
    if current.is_default:
        current.is_default = False
        current.save(update_fields=["is_default", "updated_at"])
    _write_template_sections(revised, clean)
    return revised


def template_for(incident: Incident) -> PostmortemTemplate:
    """The owning team's current template, else the default one."""
    team_ids = [s.owner_team_id for s in incident.services.all() if s.owner_team_id]
    current = PostmortemTemplate.objects.filter(is_current=True)
    if team_ids:
        team_template = current.filter(team_id__in=team_ids).order_by("pk").first()
        if team_template:
            return team_template
    template = current.filter(is_default=True).first() or current.order_by("pk").first()
    if template is None:
        raise InvalidInput("No postmortem template exists; an admin must create one.")
    return template


@transaction.atomic
def postmortem_start(
    *, incident: Incident, actor, template: PostmortemTemplate | None = None
) -> Postmortem:
    """Start the incident's postmortem from ``template`` (the team's or the default
    one), pre-filled from what the incident recorded; writes the postmortem, its
    sections, the remediation options from decisions, and their history rows."""
    require_editor(actor)
    incident = Incident.objects.select_for_update().select_related("severity").get(pk=incident.pk)
    existing = Postmortem.objects.filter(incident=incident).first()
    if existing is not None:
        raise Conflict(
            f"Incident #{incident.pk} already has a postmortem.",
            field="incident",
            extra={"postmortem": existing.pk},
        )
    template = template or template_for(incident)
    now = timezone.now()
    postmortem = Postmortem(
        incident=incident,
        template=template,
        title=incident.title[:NAME_MAX],
        created_by=actor,
        last_saved_by=actor,
        last_saved_at=now,
    )
    audit(postmortem, actor=actor, reason="started")
    postmortem.save()
    for template_section in template.sections.order_by("position"):
        content, generated = prefill.section_content(template_section, incident)
        section = Section(
            postmortem=postmortem,
            position=template_section.position,
            key=template_section.key,
            title=template_section.title,
            kind=template_section.kind,
            help_text=template_section.help_text,
            content=content,
            generated=generated,
            updated_by=actor,
        )
        audit(section, actor=actor, reason="pre-filled")
        section.save()
        if (
            template_section.kind == SectionKind.REMEDIATIONS
            and not postmortem.remediation_options.exists()
        ):
            for i, row in enumerate(prefill.remediation_rows(incident)):
                option = RemediationOption(postmortem=postmortem, position=i, **row)
                audit(option, actor=actor, reason="from decision")
                option.save()
    refresh_search_document(postmortem)
    postmortem.save(update_fields=["search_document"])
    return postmortem


# --- editing -------------------------------------------------------------------------


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


def _replace_remediations(
    postmortem: Postmortem, rows: list[dict], *, actor, key: str, label: str
) -> None:
    existing = {o.pk: o for o in postmortem.remediation_options.all()}
    unknown = [row["id"] for row in rows if row["id"] and row["id"] not in existing]
    if unknown:
        raise InvalidInput(
            f"{label}: these options no longer exist (removed meanwhile?): {unknown}. "
            "Reload the postmortem.",
            field=key,
        )
    keep = {row["id"] for row in rows if row["id"]}
    for pk, option in existing.items():
        if pk not in keep:
            audit(option, actor=actor, reason="removed")
            option.delete()
    # Unchoose before choosing, so the one-chosen constraint holds at every statement.
    ordered = sorted(enumerate(rows), key=lambda pair: pair[1]["chosen"])
    for position, row in ordered:
        option = existing.get(row["id"]) or RemediationOption(postmortem=postmortem)
        option.position = position
        for name in ("title", "description", "pros", "cons", "chosen", "reason"):
            setattr(option, name, row[name])
        audit(option, actor=actor, reason="edited")
        option.save()


def _item_values(row: dict, *, path: str, where: str) -> dict:
    """Model values of a validated row; ``where`` names the row as the user sees it."""
    values = {name: row[name] for name in ("title", "term", "kind", "priority", "status")}
    values["tracker_url"] = row["tracker_url"]
    values["owner"] = owners.owner_find(
        row["owner"], where=f"{where}, Owner", field=f"{path}.owner"
    )
    values["due_date"] = date.fromisoformat(row["due_date"]) if row["due_date"] else None
    return values


def _apply_item(item: ActionItem, values: dict, *, postmortem: Postmortem) -> None:
    for name, value in values.items():
        setattr(item, name, value)
    if item.team_id is None:
        item.team = _default_team(postmortem, item.owner)
    if item.status == ActionItem.Status.DONE and item.completed_at is None:
        item.completed_at = timezone.now()
    elif item.status != ActionItem.Status.DONE:
        item.completed_at = None


def _tell_new_owner(item: ActionItem, *, previous_owner_id: int | None, actor) -> None:
    """An item that changed hands is announced to its new owner (a personal notice,
    after commit through the outbox; not when they took it themselves)."""
    if item.owner_id is None or item.owner_id == previous_owner_id:
        return
    action_item_assigned_notify(item=item, actor=actor)


def _default_team(postmortem: Postmortem, owner) -> Team | None:
    if owner is not None:
        team = owner.teams.order_by("name").first()
        if team:
            return team
    service = (
        postmortem.incident.services.exclude(owner_team=None).select_related("owner_team").first()
    )
    return service.owner_team if service else None


def _replace_action_items(
    postmortem: Postmortem, rows: list[dict], *, actor, key: str, label: str
) -> None:
    existing = {item.pk: item for item in postmortem.action_items.all()}
    unknown = [row["id"] for row in rows if row["id"] and row["id"] not in existing]
    if unknown:
        raise InvalidInput(
            f"{label}: these action items no longer exist (removed meanwhile?): {unknown}. "
            "Reload the postmortem.",
            field=key,
        )
    keep = {row["id"] for row in rows if row["id"]}
    for pk, item in existing.items():
        if pk not in keep:
            audit(item, actor=actor, reason="removed")
            item.delete()
    for position, row in enumerate(rows):
        item = existing.get(row["id"]) or ActionItem(postmortem=postmortem, created_by=actor)
        previous_owner_id = item.owner_id
        values = _item_values(
            row, path=f"{key}.rows[{position}]", where=f"{label}, row {position + 1}"
        )
        _apply_item(item, values, postmortem=postmortem)
        item.position = position
        item.full_clean(exclude=["postmortem", "owner", "team", "created_by"])
        audit(item, actor=actor, reason="edited")
        item.save()
        _tell_new_owner(item, previous_owner_id=previous_owner_id, actor=actor)


def _touch_action_items_section(postmortem: Postmortem, *, actor) -> None:
    """An action item written outside the editor makes open editors' copies stale."""
    for section in Section.objects.filter(postmortem=postmortem, kind=SectionKind.ACTION_ITEMS):
        section.saved_version = postmortem.version + 1
        section.updated_by = actor
        audit(section, actor=actor, reason="action item changed")
        section.save(update_fields=["saved_version", "updated_by", "updated_at"])


def _write_section(postmortem: Postmortem, section: Section, content: Any, *, actor) -> None:
    where = {"key": section.key, "label": section.title}
    clean = kinds.validate(section.kind, content, **where)
    if section.kind == SectionKind.REMEDIATIONS:
        _replace_remediations(postmortem, clean["rows"], actor=actor, **where)
        clean = {}
    elif section.kind == SectionKind.ACTION_ITEMS:
        _replace_action_items(postmortem, clean["rows"], actor=actor, **where)
        clean = {}
    elif section.kind == SectionKind.METRICS:
        incident = postmortem.incident
        crossing.metric_rows_fill(
            clean["rows"], impact_began=incident.started_at, recovered=incident.recovered_at
        )
    section.content = clean
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
    _content_saved(
        postmortem,
        actor=actor,
        what=what,
        reason="edited " + ", ".join([*sections, *fields]),
        fields=fields,
    )
    return postmortem


def _content_saved(
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


@transaction.atomic
def action_item_create(*, postmortem: Postmortem, actor, data: dict) -> ActionItem:
    """Add one action item (allowed after publishing: items are tracked to done)."""
    require_editor(actor)
    postmortem = lock(postmortem)
    row = kinds.validate(SectionKind.ACTION_ITEMS, {"rows": [data]}, **NEW_ITEM)["rows"]
    if not row:
        raise InvalidInput("Action item, Action: required.", field="title")
    if postmortem.action_items.count() >= kinds.MAX_ACTION_ITEMS:
        raise InvalidInput(f"Action items: at most {kinds.MAX_ACTION_ITEMS}.", field="title")
    item = ActionItem(postmortem=postmortem, created_by=actor)
    _apply_item(
        item, _item_values(row[0], path="action_item", where="Action item"), postmortem=postmortem
    )
    item.position = postmortem.action_items.count()
    if "description" in data:
        item.description = str(data["description"] or "")[:2_000]
    item.full_clean(exclude=["postmortem", "owner", "team", "created_by"])
    audit(item, actor=actor, reason="created")
    item.save()
    _tell_new_owner(item, previous_owner_id=None, actor=actor)
    _touch_action_items_section(postmortem, actor=actor)
    _content_saved(
        postmortem, actor=actor, what=f"action item “{item.title}”", reason="action item added"
    )
    return item


@transaction.atomic
def action_item_update(*, item: ActionItem, actor, data: dict) -> ActionItem:
    """Edit one action item's fields (owner by username, due date, status, ...)."""
    require_editor(actor)
    item = (
        ActionItem.objects.select_for_update(of=("self",))
        .select_related("postmortem")
        .get(pk=item.pk)
    )
    postmortem = lock(item.postmortem)
    previous_owner_id = item.owner_id
    current = {
        "title": item.title,
        "term": item.term,
        "kind": item.kind,
        "owner": item.owner.get_username() if item.owner else None,
        "due_date": item.due_date.isoformat() if item.due_date else None,
        "priority": item.priority,
        "status": item.status,
        "tracker_url": item.tracker_url,
    }
    unknown = set(data) - set(current) - {"description"}
    if unknown:
        raise InvalidInput(f"Not editable: {', '.join(sorted(unknown))}.", field=sorted(unknown)[0])
    merged = {**current, **{k: v for k, v in data.items() if k != "description"}}
    row = kinds.validate(SectionKind.ACTION_ITEMS, {"rows": [merged]}, **NEW_ITEM)["rows"]
    if not row:
        raise InvalidInput("Action item, Action: required.", field="title")
    _apply_item(
        item, _item_values(row[0], path="action_item", where="Action item"), postmortem=postmortem
    )
    if "description" in data:
        description = str(data["description"] or "")
        if len(description) > 2_000:
            raise InvalidInput(
                "Action item, Description: at most 2000 characters.", field="description"
            )
        item.description = description
    item.full_clean(exclude=["postmortem", "owner", "team", "created_by"])
    audit(item, actor=actor, reason="edited")
    item.save()
    _tell_new_owner(item, previous_owner_id=previous_owner_id, actor=actor)
    _touch_action_items_section(postmortem, actor=actor)
    _content_saved(
        postmortem, actor=actor, what=f"action item “{item.title}”", reason="action item edited"
    )
    return item


# --- closing rules (registered from PostmortemsConfig.ready) ----------------------


def has_published_postmortem(incident) -> bool:
    if getattr(incident, "pk", None) is None:  # unsaved: nothing can be published for it
        return False
    return Postmortem.objects.filter(
        incident_id=incident.pk, status=Postmortem.Status.PUBLISHED
    ).exists()


def action_items_blocker(incident) -> str | None:
    """Every action item (except won't-do) needs an owner and a due date before closing."""
    if getattr(incident, "pk", None) is None:
        return None
    missing = (
        ActionItem.objects.filter(postmortem__incident_id=incident.pk)
        .exclude(status=ActionItem.Status.WONT_DO)
        .filter(Q(owner__isnull=True) | Q(due_date__isnull=True))
        .count()
    )
    if missing:
        return f"{missing} action item(s) need an owner and a due date."
    return None


# --- reminders ---------------------------------------------------------------------


def action_items_remind(*, today: date | None = None) -> int:
    """Beat: tell owners about items due today or overdue, once per item per day, through
    the outbox (a status update to the incident's responders). Returns items reminded.

    For a private incident the visibility gate in ``notifications.services.update_post``
    sends the reminder to no audience: it stays on the incident's page and timeline."""

    today = today or timezone.localdate()
    due = (
        ActionItem.objects.filter(due_date__lte=today, owner__isnull=False)
        .exclude(status__in=[ActionItem.Status.DONE, ActionItem.Status.WONT_DO])
        .exclude(reminders__sent_on=today)
        .select_related("owner", "postmortem__incident")
        .order_by("postmortem__incident_id", "due_date", "pk")
    )
    by_incident: dict[int, list[ActionItem]] = {}
    for item in due:
        by_incident.setdefault(item.postmortem.incident_id, []).append(item)
    reminded = 0
    for items in by_incident.values():
        with transaction.atomic():
            fresh = []
            for item in items:
                _, created = ActionItemReminder.objects.get_or_create(
                    action_item=item, sent_on=today, defaults={"overdue": item.due_date < today}
                )
                if created:
                    fresh.append(item)
            if not fresh:
                continue
            lines = []
            for item in fresh:
                state = (
                    f"overdue since {item.due_date:%Y-%m-%d}"
                    if item.due_date < today
                    else "due today"
                )
                lines.append(f"• @{item.owner.get_username()}: “{item.title}” is {state}.")
            update_post(
                incident=fresh[0].postmortem.incident,
                message="Action item reminder\n" + "\n".join(lines),
                actor=None,
                audiences=["responders"],
                kind=UpdateKind.REMINDER,
                source=Source.SYSTEM,
            )
            reminded += len(fresh)
    return reminded
