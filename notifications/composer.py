"""The Communications tab's composer: who each audience reaches, the component
picker, and a preview of exactly what each audience will receive.

The preview writes nothing: ``services.update_check`` (the check posting runs)
cleans the input, then each destination's message is built by the code that
builds the real one — ``rendering`` for the wording and the email subject,
``channels.slack`` for the Slack blocks, ``outbox.webhook_payload`` for webhooks,
and the status page's own template for the public incident block.
"""

import json
from urllib.parse import urlsplit

from django.utils import timezone

from common.exceptions import ApplicationError
from notifications import outbox, rendering, services
from notifications.channels import slack as slack_channel
from notifications.channels import statuspage as statuspage_channel
from notifications.forms import COMPONENT_PREFIX, StatusUpdateForm
from notifications.models import (
    IMPACT_OVERRIDES,
    Audience,
    Delivery,
    Destination,
    StatusUpdate,
    UpdateKind,
)
from notifications.slack.readable import blocks_readable

Kind = Destination.Kind
IMPACT_ORDER = [impact.value for impact in IMPACT_OVERRIDES]  # none, minor, major, critical


def public_state(incident) -> dict | None:
    """The status page's side of the composer, or None when no status page is set up."""
    try:
        return statuspage_channel.composer(incident_id=incident.pk)
    except statuspage_channel.StatusPageMissing:
        return None


def composer_form(data=None, *, public: dict | None) -> StatusUpdateForm:
    return StatusUpdateForm(data, public_statuses=public["statuses"] if public else None)


def offer_public_statuses(form: StatusUpdateForm, public: dict | None) -> None:
    """Offer in ``form`` only what the incident's public state allows (as
    ``composer_form`` does), once that state is read."""
    if public:
        form.offer_public_statuses(public["statuses"])


def _reach(destination: Destination, subscribers: int | None) -> str:
    """Who one destination reaches, in the words a responder checks before posting."""
    target = destination.target.strip()
    if destination.kind == Kind.SLACK:
        return target if target.startswith(("#", "C", "G")) else f"#{target}"
    if destination.kind == Kind.EMAIL:
        return ", ".join(address.strip() for address in target.split(",") if address.strip())
    if destination.kind == Kind.WEBHOOK:
        return urlsplit(target).hostname or target
    count = subscribers or 0
    return f"the status page and {count} confirmed subscriber{'s' if count != 1 else ''}"


def audience_rows(*, incident, form: StatusUpdateForm, public: dict | None) -> list[dict]:
    """Every active audience: ticked (the routing default until the form was posted),
    whether routing chooses it, and who each of its destinations reaches."""
    routed = {
        a.pk
        for a in services.audiences_routed(incident=incident, kind=UpdateKind.MANUAL, public=False)
    }
    routed_public = {
        a.pk
        for a in services.audiences_routed(incident=incident, kind=UpdateKind.MANUAL, public=True)
    }
    ticked = set(form.data.getlist("audiences")) if form.is_bound else None
    subscribers = public["subscribers"] if public else None
    rows = []
    for audience in Audience.objects.filter(active=True).prefetch_related("destinations"):
        default = "always" if audience.pk in routed else ""
        if not default and audience.pk in routed_public:
            default = "public"
        rows.append(
            {
                "audience": audience,
                "checked": audience.slug in ticked if ticked is not None else default == "always",
                "default": default,
                "destinations": [
                    {
                        "kind": d.kind,
                        "kind_label": d.get_kind_display(),
                        "name": d.name,
                        "reach": _reach(d, subscribers),
                        "enabled": d.enabled,
                    }
                    for d in audience.destinations.all()
                ],
            }
        )
    return rows


def picker_groups(*, form: StatusUpdateForm, public: dict | None) -> list[dict]:
    """The status page's components by group, each with the status the form holds."""
    if not public:
        return []
    chosen = form["components"].value() if form.is_bound else {}
    return [
        {
            **group,
            "components": [
                {
                    **component,
                    "field": f"{COMPONENT_PREFIX}{component['id']}",
                    "selected": chosen.get(component["id"], ""),
                }
                for component in group["components"]
            ],
        }
        for group in public["groups"]
    ]


def default_impact(groups: list[dict], public: dict | None) -> str:
    """What "From the components" gives for the statuses picked (for a new incident)."""
    statuses = (public or {}).get("component_statuses", [])
    impact_of = {status: impact for status, _, impact in statuses}
    picked = [c["selected"] for g in groups for c in g["components"] if c["selected"]]
    return max(
        (impact_of.get(status, "none") for status in picked),
        key=IMPACT_ORDER.index,
        default="none",
    )


def context(*, incident, form: StatusUpdateForm, public: dict | None) -> dict:
    groups = picker_groups(form=form, public=public)
    return {
        "form": form,
        "audience_rows": audience_rows(incident=incident, form=form, public=public),
        "public": public,
        "picker": groups,
        "default_impact": default_impact(groups, public),
    }


# ---- the preview -------------------------------------------------------------


def _destination_preview(update: StatusUpdate, destination: Destination, text: str, plan) -> dict:
    row = {"destination": destination, "kind": destination.kind, "enabled": destination.enabled}
    if destination.kind == Kind.SLACK:
        _, reply = slack_channel.reply_message(update, text)
        _, root = slack_channel.announcement_message(update.incident)
        row.update(
            where=_reach(destination, None),
            blocks=blocks_readable(reply),
            announcement=blocks_readable(root),
        )
    elif destination.kind == Kind.EMAIL:
        row.update(to=_reach(destination, None), subject=rendering.subject(update), body=text)
    elif destination.kind == Kind.WEBHOOK:
        delivery = Delivery(update=update, destination=destination, rendered_text=text)
        row.update(
            where=_reach(destination, None),
            payload=json.dumps(outbox.webhook_payload(delivery), indent=2, ensure_ascii=False),
        )
    elif destination.kind == Kind.STATUSPAGE and plan is not None:
        row.update(
            page=statuspage_channel.page_preview(
                plan=plan, public_status=update.public_status, message=update.message
            )
        )
    return row


def preview(*, incident, actor, **fields) -> dict:
    """What posting these fields would send, per audience and destination, built by the
    senders' own code from an unsaved update. Same refusals as posting; writes nothing.

    Returns ``{"audiences": [{"audience", "destinations": [...]}], "withheld",
    "components"}`` (components: now → after per status page component)."""
    cleaned = services.update_check(incident=incident, actor=actor, **fields)
    plan = cleaned.get("public_plan")
    update = StatusUpdate(
        incident=incident,
        kind=UpdateKind.MANUAL,
        message=cleaned["message"],
        public_status=fields.get("public_status", ""),
        public_title=cleaned["public_title"],
        public_impact=cleaned["public_impact"],
        components=cleaned["components"],
        next_update_at=fields.get("next_update_at"),
        created_by=actor,
        created_at=timezone.now(),
    )
    audiences = []
    for audience in cleaned["audiences"]:
        text = rendering.render(update, audience)
        audiences.append(
            {
                "audience": audience,
                "destinations": [
                    _destination_preview(update, destination, text, plan)
                    for destination in audience.destinations.all()
                ],
            }
        )
    return {
        "audiences": audiences,
        "withheld": cleaned["withheld"],
        "components": statuspage_channel.preview(plan=plan, public_status=update.public_status)
        if plan is not None
        else [],
    }


def refusal(error: ApplicationError, form: StatusUpdateForm) -> None:
    """Put a refusal next to the field it names (the whole form when it names none)."""
    form.add_error(error.field if error.field in form.fields else None, error.message)
