"""Writes of the postmortems app. Each function is one transaction that writes the
state and its history rows (naming the actor); stage moves go through
``incidents.services.incident_move`` and notifications through
``notifications.services.update_post`` (outbox rows, sent after commit).
"""

from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from common.exceptions import ApplicationError, Conflict, InvalidInput, NotAllowed
from incidents import lifecycle
from incidents import selectors as incident_selectors
from incidents import services as incident_services
from incidents.lifecycle import Stage
from incidents.models import Decision, Incident, Team, TimelineEvent
from incidents.permissions import can_drive_incidents, is_admin
from postmortems import sections as kinds
from postmortems.models import (
    NAME_MAX,
    PUBLIC_SUMMARY_MAX,
    SEARCH_DOCUMENT_MAX,
    ActionItem,
    ActionItemReminder,
    Postmortem,
    PostmortemTemplate,
    RemediationOption,
    Review,
    Section,
    SectionKind,
    TemplateSection,
)

User = get_user_model()
Source = TimelineEvent.Source
MAX_TEMPLATE_SECTIONS = 50
MAX_REVIEWERS = 20


class VersionConflict(Conflict):
    code = "version_conflict"


class WrongStatus(Conflict):
    code = "wrong_status"


def _require_editor(actor) -> None:
    if not can_drive_incidents(actor):
        raise NotAllowed("Only responders and admins can write postmortems.")


def _audit(instance, *, actor, reason: str) -> None:
    instance._history_user = actor
    instance._change_reason = reason[:100]


def _username(user) -> str:
    return user.get_full_name() or user.get_username() if user else "someone"


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


# --- pre-fill ------------------------------------------------------------------------


def _minutes(delta: timedelta | None) -> str:
    if delta is None:
        return "unknown"
    total = int(delta.total_seconds() // 60)
    hours, minutes = divmod(total, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


def _when(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S %Z")


def _prefill_summary(incident: Incident) -> str:
    return (incident.summary or incident.title)[: kinds.MARKDOWN_MAX]


def _prefill_impact(incident: Incident) -> str:
    lines = []
    if incident.affected_users_count is not None or incident.affected_users_percent is not None:
        parts = []
        if incident.affected_users_count is not None:
            parts.append(f"{incident.affected_users_count:,} users")
        if incident.affected_users_percent is not None:
            parts.append(f"{incident.affected_users_percent}% of users")
        lines.append(f"- **Users affected:** {', '.join(parts)}")
    services = ", ".join(s.name for s in incident.services.all())
    if services:
        lines.append(f"- **Services:** {services}")
    if incident.affected_features:
        lines.append(f"- **Features:** {incident.affected_features}")
    if incident.estimated_loss is not None:
        lines.append(f"- **Estimated loss:** {incident.estimated_loss}")
    if incident.compensation is not None:
        lines.append(f"- **Compensation:** {incident.compensation}")
    if incident.sla_minutes_breached is not None:
        lines.append(f"- **SLA minutes breached:** {incident.sla_minutes_breached}")
    lines.append(f"- **Severity:** {incident.severity.code} — {incident.severity.name}")
    return "\n".join(lines)


def _prefill_detection(incident: Incident) -> str:
    d = incident_selectors.incident_durations(incident, now=timezone.now())
    before = {True: "yes", False: "no — customers told us first", None: "unknown"}[
        incident.detected_before_customers
    ]
    return "\n".join(
        [
            f"- **Source:** {incident.get_detection_source_display()}",
            f"- **Impact began:** {_when(incident.started_at)}",
            f"- **Detected:** {_when(incident.detected_at)}",
            f"- **Time to detect:** {_minutes(d.time_to_detect)}",
            f"- **Detected before customers:** {before}",
            f"- **Time to recover (from detection):** {_minutes(d.time_to_recover)}",
        ]
    )


GENERATED_EVENT_SKIP = {
    TimelineEvent.Kind.DECLARED,
    TimelineEvent.Kind.STAGE_MOVED,
    TimelineEvent.Kind.STAGE_SKIPPED,
}


def generate_timeline(incident: Incident) -> list[dict]:
    """Stage timestamps (each reached stage once) and the incident's other events, oldest first."""
    rows = []
    if incident.started_at < incident.detected_at:
        rows.append(
            {"at": kinds.iso(incident.started_at), "text": "Impact began.", "kind": "impact"}
        )
    for stage in Stage:
        at_field, by_field = lifecycle.STAGE_FIELDS[stage]
        at = getattr(incident, at_field)
        if at is None:
            continue
        who = getattr(incident, by_field)
        text = f"{stage.label}: {lifecycle.STAGE_HELP[stage]}"
        if who is not None:
            text += f" ({_username(who)})"
        rows.append({"at": kinds.iso(at), "text": text[: kinds.LINE_MAX], "kind": "stage"})
    events = (
        TimelineEvent.objects.filter(incident=incident)
        .exclude(kind__in=GENERATED_EVENT_SKIP)
        .filter(struck_at__isnull=True)  # struck through: it was wrong
        .select_related("actor")
        .order_by("occurred_at", "id")[: kinds.MAX_TIMELINE_ENTRIES]
    )
    for event in events:
        text = event.text or event.get_kind_display()
        if event.actor is not None:
            text = f"{text} ({_username(event.actor)})"
        rows.append(
            {"at": kinds.iso(event.occurred_at), "text": text[: kinds.LINE_MAX], "kind": event.kind}
        )
    rows.sort(key=lambda row: row["at"])
    return rows[: kinds.MAX_TIMELINE_ENTRIES]


def _prefill_remediations(incident: Incident) -> list[dict]:
    """Judge-stage decisions as options; the latest decision's choice is the chosen one."""
    decisions = list(Decision.objects.filter(incident=incident).order_by("decided_at", "id"))
    rows: dict[str, dict] = {}
    for decision in decisions:
        for option in decision.options:
            title = str(option)[:NAME_MAX]
            rows.setdefault(
                title,
                {
                    "title": title,
                    "description": f"Considered on {decision.decided_at:%Y-%m-%d %H:%M} UTC.",
                    "decision": decision,
                    "chosen": False,
                    "reason": "",
                },
            )
    if decisions:
        last = decisions[-1]
        title = last.chosen[:NAME_MAX]
        for row in rows.values():
            row["chosen"] = False
        if title in rows:
            rows[title].update(chosen=True, reason=last.rationale[:2_000], decision=last)
    return list(rows.values())[: kinds.MAX_REMEDIATIONS]


def _prefill(section: TemplateSection, incident: Incident) -> tuple[dict, dict]:
    """(content, generated) for one section of a new postmortem."""
    content = kinds.empty(section.kind)
    if section.kind == SectionKind.MARKDOWN:
        filler = {
            "summary": _prefill_summary,
            "impact": _prefill_impact,
            "detection": _prefill_detection,
        }.get(section.key)
        if filler:
            content["text"] = filler(incident)
    elif section.kind == SectionKind.TIMELINE:
        content["rows"] = generate_timeline(incident)
        return content, {"rows": content["rows"], "generated_at": kinds.iso(timezone.now())}
    elif section.kind == SectionKind.ROOT_CAUSE:
        content["failure_patterns"] = list(incident.failure_patterns or [])
    elif section.kind in kinds.ROW_BACKED:
        content = {}
    return content, {}


@transaction.atomic
def postmortem_start(
    *, incident: Incident, actor, template: PostmortemTemplate | None = None
) -> Postmortem:
    """Start the incident's postmortem from ``template`` (the team's or the default
    one), pre-filled from what the incident recorded; writes the postmortem, its
    sections, the remediation options from decisions, and their history rows."""
    _require_editor(actor)
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
    _audit(postmortem, actor=actor, reason="started")
    postmortem.save()
    for template_section in template.sections.order_by("position"):
        content, generated = _prefill(template_section, incident)
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
        _audit(section, actor=actor, reason="pre-filled")
        section.save()
        if (
            template_section.kind == SectionKind.REMEDIATIONS
            and not postmortem.remediation_options.exists()
        ):
            for i, row in enumerate(_prefill_remediations(incident)):
                option = RemediationOption(postmortem=postmortem, position=i, **row)
                _audit(option, actor=actor, reason="from decision")
                option.save()
    _refresh_search_document(postmortem)
    postmortem.save(update_fields=["search_document"])
    return postmortem


# --- editing -------------------------------------------------------------------------


def _lock(postmortem: Postmortem) -> Postmortem:
    return (
        Postmortem.objects.select_for_update(of=("self",))
        .select_related("incident", "incident__severity", "last_saved_by")
        .get(pk=postmortem.pk)
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
    who = f"{_username(saver)} ({saver.get_username()})" if saver else "Someone"
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


def _bump(postmortem: Postmortem, *, actor, reason: str, fields: Iterable[str] = ()) -> None:
    postmortem.version += 1
    postmortem.last_saved_by = actor
    postmortem.last_saved_at = timezone.now()
    _refresh_search_document(postmortem)
    _audit(postmortem, actor=actor, reason=reason)
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


def _refresh_search_document(postmortem: Postmortem) -> None:
    parts = [postmortem.title]
    for section in Section.objects.filter(postmortem=postmortem).order_by("position"):
        parts.append(section.title)
        parts.append(kinds.plain_text(section.kind, section.content))
    for option in RemediationOption.objects.filter(postmortem=postmortem):
        parts += [option.title, option.description, option.pros, option.cons, option.reason]
    for item in ActionItem.objects.filter(postmortem=postmortem):
        parts += [item.title, item.description]
    postmortem.search_document = "\n".join(p for p in parts if p)[:SEARCH_DOCUMENT_MAX]


def _user_by_name(username: str | None, path: str):
    if not username:
        return None
    user = User.objects.filter(username=username, is_active=True).first()
    if user is None:
        raise InvalidInput(f"{path}: no active user '{username}'.", field=path)
    return user


def _replace_remediations(postmortem: Postmortem, rows: list[dict], *, actor, key: str) -> None:
    existing = {o.pk: o for o in postmortem.remediation_options.all()}
    unknown = [row["id"] for row in rows if row["id"] and row["id"] not in existing]
    if unknown:
        raise InvalidInput(f"{key}: unknown remediation option id(s) {unknown}.", field=key)
    keep = {row["id"] for row in rows if row["id"]}
    for pk, option in existing.items():
        if pk not in keep:
            _audit(option, actor=actor, reason="removed")
            option.delete()
    # Unchoose before choosing, so the one-chosen constraint holds at every statement.
    ordered = sorted(enumerate(rows), key=lambda pair: pair[1]["chosen"])
    for position, row in ordered:
        option = existing.get(row["id"]) or RemediationOption(postmortem=postmortem)
        option.position = position
        for name in ("title", "description", "pros", "cons", "chosen", "reason"):
            setattr(option, name, row[name])
        _audit(option, actor=actor, reason="edited")
        option.save()


def _item_values(row: dict, *, path: str, postmortem: Postmortem) -> dict:
    values = {name: row[name] for name in ("title", "term", "kind", "priority", "status")}
    values["tracker_url"] = row["tracker_url"]
    values["owner"] = _user_by_name(row["owner"], f"{path}.owner")
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


def _default_team(postmortem: Postmortem, owner) -> Team | None:
    if owner is not None:
        team = owner.teams.order_by("name").first()
        if team:
            return team
    service = (
        postmortem.incident.services.exclude(owner_team=None).select_related("owner_team").first()
    )
    return service.owner_team if service else None


def _replace_action_items(postmortem: Postmortem, rows: list[dict], *, actor, key: str) -> None:
    existing = {item.pk: item for item in postmortem.action_items.all()}
    unknown = [row["id"] for row in rows if row["id"] and row["id"] not in existing]
    if unknown:
        raise InvalidInput(f"{key}: unknown action item id(s) {unknown}.", field=key)
    keep = {row["id"] for row in rows if row["id"]}
    for pk, item in existing.items():
        if pk not in keep:
            _audit(item, actor=actor, reason="removed")
            item.delete()
    for position, row in enumerate(rows):
        item = existing.get(row["id"]) or ActionItem(postmortem=postmortem, created_by=actor)
        values = _item_values(row, path=f"{key}.rows[{position}]", postmortem=postmortem)
        _apply_item(item, values, postmortem=postmortem)
        item.position = position
        item.full_clean(exclude=["postmortem", "owner", "team", "created_by"])
        _audit(item, actor=actor, reason="edited")
        item.save()


def _touch_action_items_section(postmortem: Postmortem, *, actor) -> None:
    """An action item written outside the editor makes open editors' copies stale."""
    for section in Section.objects.filter(postmortem=postmortem, kind=SectionKind.ACTION_ITEMS):
        section.saved_version = postmortem.version + 1
        section.updated_by = actor
        _audit(section, actor=actor, reason="action item changed")
        section.save(update_fields=["saved_version", "updated_by", "updated_at"])


def _write_section(postmortem: Postmortem, section: Section, content: Any, *, actor) -> None:
    clean = kinds.validate(section.kind, content, key=section.key)
    if section.kind == SectionKind.REMEDIATIONS:
        _replace_remediations(postmortem, clean["rows"], actor=actor, key=section.key)
        clean = {}
    elif section.kind == SectionKind.ACTION_ITEMS:
        _replace_action_items(postmortem, clean["rows"], actor=actor, key=section.key)
        clean = {}
    section.content = clean
    section.updated_by = actor
    section.saved_version = postmortem.version + 1  # the version this save creates
    _audit(section, actor=actor, reason=f"edited {section.key}")
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
    _require_editor(actor)
    postmortem = _lock(postmortem)
    _require_editable(postmortem)
    _check_version(postmortem, expected_version, keys=list(sections or {}), title=title is not None)
    sections = sections or {}
    fields = []
    if title is not None:
        title = title.strip()
        if not title or len(title) > NAME_MAX:
            raise InvalidInput(f"A title of 1 to {NAME_MAX} characters.", field="title")
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
    _bump(
        postmortem, actor=actor, reason="edited " + ", ".join([*sections, *fields]), fields=fields
    )
    return postmortem


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
    _require_editor(actor)
    postmortem = _lock(postmortem)
    row = kinds.validate(SectionKind.ACTION_ITEMS, {"rows": [data]}, key="action_item")["rows"]
    if not row:
        raise InvalidInput("An action item needs a title.", field="title")
    if postmortem.action_items.count() >= kinds.MAX_ACTION_ITEMS:
        raise InvalidInput(f"At most {kinds.MAX_ACTION_ITEMS} action items.", field="title")
    item = ActionItem(postmortem=postmortem, created_by=actor)
    _apply_item(
        item, _item_values(row[0], path="action_item", postmortem=postmortem), postmortem=postmortem
    )
    item.position = postmortem.action_items.count()
    if "description" in data:
        item.description = str(data["description"] or "")[:2_000]
    item.full_clean(exclude=["postmortem", "owner", "team", "created_by"])
    _audit(item, actor=actor, reason="created")
    item.save()
    _touch_action_items_section(postmortem, actor=actor)
    _bump(postmortem, actor=actor, reason="action item added")
    return item


@transaction.atomic
def action_item_update(*, item: ActionItem, actor, data: dict) -> ActionItem:
    """Edit one action item's fields (owner by username, due date, status, ...)."""
    _require_editor(actor)
    item = (
        ActionItem.objects.select_for_update(of=("self",))
        .select_related("postmortem")
        .get(pk=item.pk)
    )
    postmortem = _lock(item.postmortem)
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
    row = kinds.validate(SectionKind.ACTION_ITEMS, {"rows": [merged]}, key="action_item")["rows"]
    if not row:
        raise InvalidInput("An action item needs a title.", field="title")
    _apply_item(
        item, _item_values(row[0], path="action_item", postmortem=postmortem), postmortem=postmortem
    )
    if "description" in data:
        description = str(data["description"] or "")
        if len(description) > 2_000:
            raise InvalidInput(
                "Ensure this field has no more than 2000 characters.", field="description"
            )
        item.description = description
    item.full_clean(exclude=["postmortem", "owner", "team", "created_by"])
    _audit(item, actor=actor, reason="edited")
    item.save()
    _touch_action_items_section(postmortem, actor=actor)
    _bump(postmortem, actor=actor, reason="action item edited")
    return item


# --- review workflow -----------------------------------------------------------------


def submit_problems(postmortem: Postmortem) -> list[str]:
    """What stops this postmortem from going to review."""
    problems = []
    has_remediations = postmortem.sections.filter(kind=SectionKind.REMEDIATIONS).exists()
    if has_remediations:
        chosen = [o for o in postmortem.remediation_options.all() if o.chosen]
        if len(chosen) != 1:
            problems.append("Choose exactly one remediation option, and say why.")
        elif not chosen[0].reason.strip():
            problems.append("Say why the chosen remediation was chosen.")
    return problems


@transaction.atomic
def postmortem_submit(
    *, postmortem: Postmortem, actor, reviewers: Iterable | None = None
) -> Postmortem:
    """draft → in review, with named reviewers."""
    _require_editor(actor)
    postmortem = _lock(postmortem)
    if postmortem.status != Postmortem.Status.DRAFT:
        raise WrongStatus(
            f"Only a draft can be submitted; this one is {postmortem.get_status_display().lower()}."
        )
    reviewers = list(reviewers) if reviewers is not None else list(postmortem.reviewers.all())
    if not reviewers:
        raise InvalidInput("Name at least one reviewer.", field="reviewers")
    if len(reviewers) > MAX_REVIEWERS:
        raise InvalidInput(f"At most {MAX_REVIEWERS} reviewers.", field="reviewers")
    if any(not r.is_active for r in reviewers):
        raise InvalidInput("Reviewers must be active users.", field="reviewers")
    problems = submit_problems(postmortem)
    if problems:
        raise InvalidInput(" ".join(problems), field="remediations", extra={"problems": problems})
    postmortem.status = Postmortem.Status.IN_REVIEW
    postmortem.submitted_at = timezone.now()
    _audit(postmortem, actor=actor, reason="submitted for review")
    postmortem.reviewers.set(reviewers)
    _bump(postmortem, actor=actor, reason="submitted for review", fields=["status", "submitted_at"])
    return postmortem


def _review(postmortem: Postmortem, *, actor, verdict: str, comment: str) -> Review:
    if postmortem.status != Postmortem.Status.IN_REVIEW:
        raise WrongStatus("Only a postmortem in review can be reviewed.")
    if not postmortem.reviewers.filter(pk=actor.pk).exists():
        raise NotAllowed("Only the named reviewers can review this postmortem.")
    comment = (comment or "").strip()
    if len(comment) > 5_000:
        raise InvalidInput("Ensure this field has no more than 5000 characters.", field="comment")
    return Review.objects.create(
        postmortem=postmortem,
        reviewer=actor,
        verdict=verdict,
        comment=comment,
        postmortem_version=postmortem.version,
    )


@transaction.atomic
def postmortem_approve(*, postmortem: Postmortem, actor, comment: str = "") -> Review:
    postmortem = _lock(postmortem)
    return _review(postmortem, actor=actor, verdict=Review.Verdict.APPROVE, comment=comment)


@transaction.atomic
def postmortem_request_changes(*, postmortem: Postmortem, actor, comment: str) -> Review:
    """A reviewer sends it back to draft, saying what to change."""
    postmortem = _lock(postmortem)
    if not (comment or "").strip():
        raise InvalidInput("Say what should change.", field="comment")
    review = _review(
        postmortem, actor=actor, verdict=Review.Verdict.REQUEST_CHANGES, comment=comment
    )
    postmortem.status = Postmortem.Status.DRAFT
    _bump(postmortem, actor=actor, reason="changes requested", fields=["status"])
    return review


def pending_reviewers(postmortem: Postmortem) -> list:
    """Named reviewers whose latest verdict since submission is not an approval."""
    latest: dict[int, str] = {}
    reviews = postmortem.reviews.all()
    if postmortem.submitted_at:
        reviews = reviews.filter(created_at__gte=postmortem.submitted_at)
    for review in reviews.order_by("created_at", "id"):
        latest[review.reviewer_id] = review.verdict
    return [r for r in postmortem.reviewers.all() if latest.get(r.pk) != Review.Verdict.APPROVE]


@transaction.atomic
def postmortem_publish(*, postmortem: Postmortem, actor, public_summary: str = "") -> Postmortem:
    """in review (every reviewer approved) → published. The incident moves to
    **share** (skipping forward if needed), the routed audiences are told through
    the outbox, and an optional customer-facing summary goes to the public."""
    from notifications.models import PublicStatus, UpdateKind
    from notifications.services import update_check, update_post

    _require_editor(actor)
    postmortem = _lock(postmortem)
    if postmortem.status != Postmortem.Status.IN_REVIEW:
        raise WrongStatus("Only a postmortem in review can be published.")
    waiting = pending_reviewers(postmortem)
    if waiting:
        names = ", ".join(sorted(r.get_username() for r in waiting))
        raise WrongStatus(
            f"Waiting for approval from {names}.", extra={"pending": names.split(", ")}
        )
    public_summary = (public_summary or "").strip()
    if len(public_summary) > PUBLIC_SUMMARY_MAX:
        raise InvalidInput(
            f"Ensure this field has no more than {PUBLIC_SUMMARY_MAX} characters.",
            field="public_summary",
        )
    if public_summary:
        # The summary joins the customers' existing public incident under its public
        # title (the internal title must never become one). Checked before anything is
        # written, by the same check the status page worker runs.
        try:
            update_check(
                incident=postmortem.incident,
                message=public_summary,
                actor=actor,
                audiences=["public"],
                public_status=PublicStatus.RESOLVED,
            )
        except ApplicationError as exc:
            raise InvalidInput(
                f"The public summary cannot be posted: {exc.message}", field="public_summary"
            ) from exc
    now = timezone.now()
    postmortem.status = Postmortem.Status.PUBLISHED
    postmortem.published_at = now
    postmortem.published_by = actor
    postmortem.public_summary = public_summary
    _bump(
        postmortem,
        actor=actor,
        reason="published",
        fields=["status", "published_at", "published_by", "public_summary"],
    )
    incident = postmortem.incident
    if incident.closed_at is None and lifecycle.index(incident.stage) < lifecycle.index(
        Stage.SHARE
    ):
        incident_services.incident_move(
            incident=incident, to=Stage.SHARE, actor=actor, note="Postmortem published."
        )
    url = settings.KEEL_PUBLIC_URL.rstrip("/") + reverse("postmortems:detail", args=[postmortem.pk])
    update_post(
        incident=incident,
        message=f"Postmortem published: {postmortem.title}\n{url}",
        actor=actor,
        audiences=None,
        kind=UpdateKind.MANUAL,
    )
    if public_summary:
        update_post(
            incident=incident,
            message=public_summary,
            actor=actor,
            audiences=["public"],
            public_status=PublicStatus.RESOLVED,
            kind=UpdateKind.MANUAL,
        )
    return postmortem


@transaction.atomic
def retro_complete(*, postmortem: Postmortem, actor) -> Postmortem:
    """The retro was held: the incident moves to **retrospect**."""
    _require_editor(actor)
    postmortem = _lock(postmortem)
    if postmortem.status != Postmortem.Status.PUBLISHED:
        raise WrongStatus("Publish the postmortem before completing the retro.")
    if postmortem.retro_completed_at is not None:
        raise WrongStatus("The retro is already complete.")
    incident = postmortem.incident
    if incident.closed_at is None and incident.stage != Stage.RETROSPECT:
        incident_services.incident_move(
            incident=incident, to=Stage.RETROSPECT, actor=actor, note="Retro held."
        )
    postmortem.retro_completed_at = timezone.now()
    _bump(postmortem, actor=actor, reason="retro complete", fields=["retro_completed_at"])
    return postmortem


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
    from notifications.models import UpdateKind
    from notifications.services import update_post

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
