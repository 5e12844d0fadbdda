"""The "publish to status page" channel: applies a public status update to the
statuspage models (no network call), then the snapshot task republishes.

``notifications`` never imports ``statuspage``: the status page app registers its
two functions here at start-up (``StatuspageConfig.ready``):

- ``check`` — the one validation of a public update, called by ``update_post``
  (form, API, Slack, postmortem publishing) before anything is written, and
  again here by the worker before publishing;
- ``publish`` — applies the update to the page;
- ``preview`` — what a checked update will do to each component (now → after, why);
- ``composer`` — what the composer offers for one incident: the components by group
  with their status, the public statuses allowed now, whether a title is needed, the
  number of confirmed subscribers;
- ``page_preview`` — the public incident block of a checked update, rendered by the
  status page's own template.

Outcomes: SENT with the published update's public id; PERMANENT when the update
cannot ever be published (the check refuses it: that should have been refused at
the request, so it only happens when the page changed in between, e.g. a
component was deleted); RETRY while an earlier public update of the same incident
is still waiting, so the page never shows updates out of order.
"""

from collections.abc import Callable

from common.exceptions import ApplicationError
from notifications.channels.base import Outcome, SendResult
from notifications.models import Delivery, Destination, StatusUpdate

_registered: dict[str, Callable] = {}


class StatusPageMissing(ApplicationError):
    code = "statuspage_missing"


def register(
    *,
    check: Callable,
    publish: Callable,
    preview: Callable,
    composer: Callable,
    page_preview: Callable,
) -> None:
    """Called once by the status page app at start-up."""
    _registered.update(
        check=check,
        publish=publish,
        preview=preview,
        composer=composer,
        page_preview=page_preview,
    )


def composer(*, incident_id: int) -> dict:
    """``{"groups", "incident", "statuses", "needs_title", "subscribers"}``, see
    ``statuspage.composer.composer_state``."""
    return _get("composer")(incident_id=incident_id)


def page_preview(*, plan, public_status: str, message: str) -> dict:
    """``{"html", "css", "impact", "impact_label", "email_subject", "email_body",
    "subscribers"}``: the incident block as the page will show it, the subscribers' email."""
    return _get("page_preview")(plan=plan, public_status=public_status, message=message)


def preview(*, plan, public_status: str) -> list[dict]:
    """``[{"slug", "id", "name", "now", "after", "because", "override"}]`` per component."""
    return _get("preview")(plan=plan, public_status=public_status)


def _get(name: str) -> Callable:
    try:
        return _registered[name]
    except KeyError:
        raise StatusPageMissing(
            "The status page app is not installed, so nothing can be published to it."
        ) from None


def check(
    *,
    incident_id: int,
    public_status: str,
    public_title: str = "",
    components=None,
    resolved_action: str = "",
    before=None,
    components_by_name: bool = False,
    impact: str = "",
):
    """Run the status page's check of a public update (see ``statuspage.validation``).

    Returns its plan (``.components`` are normalised to ``{slug: status}``);
    raises an ``ApplicationError`` naming the field at fault.
    """
    return _get("check")(
        incident_id=incident_id,
        public_status=public_status,
        public_title=public_title,
        components=components,
        resolved_action=resolved_action,
        before=before,
        components_by_name=components_by_name,
        impact=impact,
    )


def check_update(update):
    """The same check for a StatusUpdate already written (the worker, a replay)."""
    return check(
        incident_id=update.incident_id,
        public_status=update.public_status,
        public_title=update.public_title,
        components=update.components,
        resolved_action=update.public_resolved_action,
        before=update,
        impact=update.public_impact,
    )


def send(delivery) -> SendResult:
    update = delivery.update
    if not update.public_status:
        return SendResult(Outcome.PERMANENT, error="Not a public update: it has no public status.")
    earlier = (
        StatusUpdate.objects.filter(
            incident_id=update.incident_id,
            public_update__isnull=True,
            deliveries__destination__kind=Destination.Kind.STATUSPAGE,
            deliveries__status__in=[
                Delivery.Status.PENDING,
                Delivery.Status.SENDING,
                Delivery.Status.FAILED,
            ],
        )
        .exclude(pk=update.pk)
        .filter(created_at__lt=update.created_at)
    )
    if earlier.exists():
        return SendResult.retry(
            "An earlier public update of this incident is not published yet.", 2.0
        )
    try:
        published = _get("publish")(update=update)
    except ApplicationError as exc:
        return SendResult(Outcome.PERMANENT, error=exc.message)
    return SendResult.sent(published.public_id)
