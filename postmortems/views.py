from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from postmortems import selectors
from postmortems.models import Postmortem


@login_required
def postmortem_detail(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        postmortem = selectors.postmortem_detail(user=request.user, pk=pk)
    except Postmortem.DoesNotExist as exc:
        raise Http404("No such postmortem.") from exc
    return render(request, "postmortems/detail.html", {"postmortem": postmortem})
