"""The CS desk's live endpoints: the version of what the desk shows, and its stream.

The desk lists the incidents the user may see (``incidents.live.list_version``)
plus what the status page and the CS brief add to them: public incidents, their
updates and the support briefs (edited in the admin, so they reach open desks by
polling or with the next change of their incident).
"""

from datetime import datetime

from django.contrib.auth.decorators import login_required
from django.db.models import Max
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from incidents import live
from incidents.live_streams import etag_response, list_stream_for
from statuspage.cs import desk_incidents
from statuspage.models import PublicIncident, PublicIncidentUpdate, SupportBrief


def cs_version(user, now: datetime | None = None) -> str:
    """Changes whenever the CS desk of ``user`` would show something new (four queries):
    any change to the incidents they may see, and to the public incidents, public
    updates and support briefs of the incidents on the desk (an incident that leaves
    the desk changes its own row), whatever the size of the history."""
    on_desk = desk_incidents(user=user, now=now or timezone.now()).values("pk")
    public = PublicIncident.objects.filter(incident__in=on_desk).aggregate(
        stamp=Max("updated_at"), top=Max("pk")
    )
    updates = PublicIncidentUpdate.objects.filter(public_incident__incident__in=on_desk).aggregate(
        stamp=Max("updated_at")
    )
    briefs = SupportBrief.objects.filter(incident__in=on_desk).aggregate(stamp=Max("updated_at"))
    return live.token(
        live.list_version(user), public["stamp"], public["top"], updates["stamp"], briefs["stamp"]
    )


@login_required
@require_GET
def cs_state(request: HttpRequest) -> HttpResponse:
    version = cs_version(request.user)
    return etag_response(request, version, {"version": version})


@login_required
@require_GET
def cs_stream(request: HttpRequest) -> HttpResponse:
    return list_stream_for(request, version=lambda: cs_version(request.user))
