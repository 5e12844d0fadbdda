"""Postmortem templates: ordered sections of known kinds; editing one writes a new
version, and postmortems keep the version they were started from."""

from collections.abc import Iterable

from django.db import transaction
from django.utils.text import slugify

from common.exceptions import InvalidInput
from common.roles import require_admin
from incidents.models import Incident, Team
from postmortems.models import NAME_MAX, PostmortemTemplate, SectionKind, TemplateSection
from postmortems.writes import VersionConflict

MAX_TEMPLATE_SECTIONS = 50


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
    require_admin(actor, to="manage postmortem templates")
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
    require_admin(actor, to="manage postmortem templates")
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


def template_save(
    *,
    template: PostmortemTemplate | None,
    name: str,
    sections: Iterable[dict],
    team: Team | None,
    actor,
) -> PostmortemTemplate:
    """The template page's save: a new template when ``template`` is None, otherwise
    its next version (``template_revise``)."""
    if template is None:
        return template_create(name=name, sections=sections, team=team, actor=actor)
    return template_revise(template=template, sections=sections, name=name, team=team, actor=actor)


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
