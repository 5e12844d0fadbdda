"""Who may see an incident, and who may be *told* about it. One module, one rule.

Seeing: private incidents (e.g. security) are visible only to their participants
(creator, commander, past and present role holders, responders) and admins.

Telling: every message that leaves Keel about an incident (Slack, email lists,
webhooks, the status page, reminders, alert and Slack side effects) is a Delivery
written by ``notifications.services``, and that module asks :func:`may_tell_audiences`
before it writes one. For a private incident the answer is yes only when a person
who may see the incident deliberately addressed audiences in a status update they
wrote (named by hand, ``kind`` manual, a human source, an actor who is a
participant or admin).
Routing, automatic updates (declare, stage, severity), reminders, alerts and any
future producer that does not pass those three facts get no audience: the update
stays on the incident's page and timeline, where only participants can read it.
"""

from django.contrib.admin.utils import unquote
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404

from common.roles import is_admin
from incidents.models import Incident, RoleAssignment, TimelineEvent

# Sources that are a person acting; an alert or the beat is never "a responder addressing".
HUMAN_SOURCES = frozenset(
    {TimelineEvent.Source.WEB, TimelineEvent.Source.API, TimelineEvent.Source.SLACK}
)
# Update kinds a person writes; the others are produced by Keel itself. Strings, so
# ``incidents`` needs no import of ``notifications.models.UpdateKind``.
ADDRESSED_KINDS = frozenset({"manual"})


def incidents_visible_to(user) -> QuerySet[Incident]:
    """Every incident ``user`` may see: private ones only for participants and admins."""
    queryset = Incident.objects.all()
    if user is None or not user.is_authenticated:
        return queryset.none()
    if is_admin(user):
        return queryset
    return queryset.filter(Q(private=False) | _participant(user))


def incidents_listed_to(user) -> QuerySet[Incident]:
    """``incidents_visible_to``'s incidents, written for the long lists: every incident
    but the private ones hidden from ``user`` (``NOT IN`` the few private incidents,
    read through their covering partial index). A list's index walk, its count and a
    service's links then judge a row by its id alone, never reading the incident's row
    (the per-row rule read 5,000 rows for a service linked to 5,000 incidents)."""
    if user is None or not user.is_authenticated:
        return Incident.objects.none()
    if is_admin(user):
        return Incident.objects.all()
    return Incident.objects.exclude(pk__in=private_incidents_hidden_from(user).values("pk"))


def _participant(user) -> Q:
    """The incidents ``user`` takes part in. Past and present role holders (commander,
    responders, ...) are participants; the current commander and responders count
    even where no RoleAssignment row exists."""
    participant = RoleAssignment.objects.filter(incident=OuterRef("pk"), user=user)
    responding = Incident.responders.through.objects.filter(incident=OuterRef("pk"), user=user)
    return Q(created_by=user) | Q(commander=user) | Exists(participant) | Exists(responding)


def private_incidents_hidden_from(user) -> QuerySet[Incident]:
    """The private incidents an authenticated ``user`` may not see: the complement of
    ``incidents_visible_to`` for them. A list of rows that belong to incidents (action
    items, postmortems) excludes these instead of joining every row to a visible
    incident: the few private incidents are read through their partial index
    (``incident_private_people``) rather than the whole history. Every private incident is
    hidden from an anonymous user (who sees nothing at all: callers refuse them first)."""
    if user is None or not user.is_authenticated:
        return Incident.objects.filter(private=True)
    if is_admin(user):
        return Incident.objects.none()
    return Incident.objects.filter(private=True).exclude(_participant(user))


def can_see(user, incident: Incident) -> bool:
    """Whether ``user`` may see ``incident`` (one query unless it is public)."""
    if not incident.private:
        return user is not None and user.is_authenticated
    return incidents_visible_to(user).filter(pk=incident.pk).exists()


def may_tell_audiences(
    *, incident: Incident, kind: str, actor, source: str, addressed: bool
) -> bool:
    """Whether an update about ``incident`` may reach any audience (every audience is
    a shared destination: a team channel, an email list, a webhook, the public).

    Public incidents: yes. Private incidents: only when the audiences were named by
    hand (``addressed``, not chosen by routing) in an update of an addressing kind,
    from a human source, by an actor who may see the incident. Every argument is
    required so a new producer has to say what it is; an unknown source or kind
    counts as automatic."""
    if not incident.private:
        return True
    return (
        addressed
        and kind in ADDRESSED_KINDS
        and source in HUMAN_SOURCES
        and actor is not None
        and can_see(actor, incident)
    )


class VisibleIncidentsMixin:
    """The rule in the back office: an admin page of rows that belong to an incident
    (``incident_path``) lists only the incidents the signed-in user may see, and its
    history pages answer 404 for the others. Every app's admin uses it."""

    incident_path = "incident"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        visible = incidents_visible_to(request.user).values("pk")
        return queryset.filter(**{f"{self.incident_path}__in": visible})

    def _require_visible(self, request, object_id) -> None:
        # simple-history falls back to the latest historical row when get_queryset
        # hides an object, which would leak private incidents through /history/.
        try:
            visible = self.get_queryset(request).filter(pk=unquote(object_id)).exists()
        except (ValidationError, ValueError):  # not an id of this model (e.g. a bad UUID)
            visible = False
        if not visible:
            raise Http404

    def history_view(self, request, object_id, extra_context=None):
        self._require_visible(request, object_id)
        return super().history_view(request, object_id, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        self._require_visible(request, object_id)
        return super().history_form_view(request, object_id, version_id, extra_context)
