"""The postmortem quality check: a checklist with reasons, shown on the page and at submit.

It advises; it does not stop a submit. The one point that blocks anything is the one
the closing rules already enforce for every severity (``services.action_items_blocker``:
every action item needs an owner and a due date before the incident closes); its
check says so in ``blocks``.

One function per rule, each ``(postmortem, facts) -> Check``; ``quality_check`` runs
them all in order. The facts are read once (``_Facts``), so the check costs a fixed
number of queries whatever the document's size.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings

from postmortems import crossing
from postmortems.models import ActionItem, Postmortem, SectionKind

TRIGGER_WORD = "trigger"


@dataclass(frozen=True)
class Check:
    key: str
    label: str
    passed: bool
    reason: str
    blocks: str = ""  # what a failure blocks ("closing the incident"), "" when advisory


@dataclass
class _Facts:
    incident: object
    sections: dict[str, list]  # kind → sections of that kind
    items: list[ActionItem]
    chosen: list

    def content(self, kind: str) -> list[dict]:
        return [s.content or {} for s in self.sections.get(kind, [])]

    def markdown(self, key: str) -> str:
        return "\n".join(
            (s.content or {}).get("text", "")
            for s in self.sections.get(SectionKind.MARKDOWN, [])
            if s.key == key
        ).strip()


def _facts(postmortem: Postmortem) -> _Facts:
    sections: dict[str, list] = {}
    for section in postmortem.sections.all():
        sections.setdefault(section.kind, []).append(section)
    items = [
        i
        for i in postmortem.action_items.select_related("owner")
        if i.status != ActionItem.Status.WONT_DO
    ]
    chosen = [o for o in postmortem.remediation_options.all() if o.chosen]
    return _Facts(incident=postmortem.incident, sections=sections, items=items, chosen=chosen)


def impact_quantified(pm: Postmortem, f: _Facts) -> Check:
    i = f.incident
    numbers = [
        i.affected_users_count,
        i.affected_users_percent,
        i.estimated_loss,
        i.sla_minutes_breached,
    ]
    if any(n is not None for n in numbers):
        return Check("impact", "Impact quantified", True, "The incident records numbers.")
    return Check(
        "impact",
        "Impact quantified",
        False,
        "Say how many users (or what share), the estimated loss or the SLA minutes breached "
        "on the incident.",
    )


def detection_discussed(pm: Postmortem, f: _Facts) -> Check:
    label = "Detection discussed"
    text = f.markdown("detection")
    if not text:
        return Check("detection", label, False, "Say how it was detected and how long it took.")
    if f.incident.detected_before_customers is None:
        return Check(
            "detection",
            label,
            False,
            "Say whether it was detected before customers noticed (on the incident).",
        )
    return Check("detection", label, True, "How, time to detect and before-customers are answered.")


def trigger_separated(pm: Postmortem, f: _Facts) -> Check:
    label = "Trigger separated from root cause"
    text = "\n".join(c.get("text", "") for c in f.content(SectionKind.ROOT_CAUSE))
    lines = [line.strip(" #*-_:") for line in text.splitlines() if line.strip(" #*-_:")]
    trigger = [line for line in lines if line.lower().startswith(TRIGGER_WORD)]
    if not trigger:
        return Check(
            "trigger",
            label,
            False,
            "Name the trigger on a line of its own (“Trigger: …”) in the root cause analysis.",
        )
    if len(lines) <= len(trigger):
        return Check(
            "trigger", label, False, "Beyond the trigger, say why it could do harm (root cause)."
        )
    return Check("trigger", label, True, "The trigger and the cause are written apart.")


def factors_and_patterns(pm: Postmortem, f: _Facts) -> Check:
    label = "Contributing factor and failure pattern"
    content = f.content(SectionKind.ROOT_CAUSE)
    factors = [x for c in content for x in c.get("contributing_factors", [])]
    patterns = [x for c in content for x in c.get("failure_patterns", [])]
    patterns += list(f.incident.failure_patterns or [])
    missing = [
        name
        for name, values in (("a contributing factor", factors), ("a failure pattern", patterns))
        if not values
    ]
    if missing:
        return Check("factors", label, False, f"Add {' and '.join(missing)}.")
    return Check(
        "factors", label, True, f"{len(factors)} factor(s), {len(set(patterns))} pattern(s)."
    )


def thresholds_crossed(pm: Postmortem, f: _Facts) -> Check:
    label = "Every threshold says when it was crossed"
    missing, computed = [], 0
    for content in f.content(SectionKind.METRICS):
        for row in content.get("rows", []):
            if row.get("threshold") is None or row.get("crossed_at"):
                continue
            series = row.get("series") or []
            if series and not crossing.crossings(series, row["threshold"]):
                computed += 1  # its series shows it never crossed: that is an answer
                continue
            missing.append(row.get("name", "?"))
    if missing:
        return Check(
            "thresholds",
            label,
            False,
            f"Say when it was crossed, or paste its series: {', '.join(missing)}.",
        )
    note = f" ({computed} never crossed, per their series)" if computed else ""
    return Check("thresholds", label, True, f"Every metric with a threshold is answered{note}.")


def remediation_reason(pm: Postmortem, f: _Facts) -> Check:
    label = "The chosen remediation has a reason"
    if not f.chosen:
        return Check("remediation", label, False, "Choose one remediation option and say why.")
    if not f.chosen[0].reason.strip():
        return Check("remediation", label, False, "Say why the chosen option was chosen.")
    return Check("remediation", label, True, f"“{f.chosen[0].title}”, with its reason.")


def action_items_owned(pm: Postmortem, f: _Facts) -> Check:
    label = "Every action item has an owner, a due date and a kind"
    missing = [i.title for i in f.items if i.owner_id is None or i.due_date is None or not i.kind]
    blocks = "closing the incident"  # services.action_items_blocker, every severity
    if missing:
        return Check(
            "action_items",
            label,
            False,
            f"Give an owner and a due date to: {', '.join(missing[:5])}"
            + (f" and {len(missing) - 5} more." if len(missing) > 5 else "."),
            blocks=blocks,
        )
    if not f.items:
        return Check("action_items", label, False, "No action items yet.")
    return Check("action_items", label, True, f"{len(f.items)} item(s), each owned and due.")


def slow_detection(incident) -> str:
    """Why detection counts as slow (customers first, or longer than the setting), or ""."""
    if incident.detected_before_customers is False:
        return "customers noticed first"
    limit = timedelta(minutes=settings.KEEL_SLOW_DETECTION_MINUTES)
    taken = incident.detected_at - incident.started_at
    if taken > limit:
        return f"it took {int(taken.total_seconds() // 60)} min to detect"
    return ""


def detect_item_when_slow(pm: Postmortem, f: _Facts) -> Check:
    label = "A detect action item when detection was slow"
    why = slow_detection(f.incident)
    if not why:
        return Check("detect_item", label, True, "Detection was not slow.")
    if any(i.kind == ActionItem.Kind.DETECT for i in f.items):
        return Check("detect_item", label, True, f"Detection was slow ({why}); a detect item.")
    return Check(
        "detect_item", label, False, f"Detection was slow ({why}): add a *detect* action item."
    )


RULES: list[Callable[[Postmortem, _Facts], Check]] = [
    impact_quantified,
    detection_discussed,
    trigger_separated,
    factors_and_patterns,
    thresholds_crossed,
    remediation_reason,
    action_items_owned,
    detect_item_when_slow,
]


def quality_check(postmortem: Postmortem) -> list[Check]:
    """Every rule's verdict on ``postmortem``, in the order shown."""
    facts = _facts(postmortem)
    return [rule(postmortem, facts) for rule in RULES]


def open_points(checks: list[Check]) -> list[Check]:
    return [c for c in checks if not c.passed]
