"""The one permission decorator of Keel's pages: signed in, and of a role.

Someone not signed in goes to the login form and back (an HTMX request whose
session expired reloads the whole page to the login form, instead of swapping the
form into the page); someone signed in without the role gets 403. Pages that may
show a secret are never cached.
"""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers
from django_htmx.http import HttpResponseClientRedirect

from common.roles import can_drive_incidents, is_admin


def role_required(has_role: Callable[[object], bool], *, never_cache: bool = False):
    def decorate(view):
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not request.user.is_authenticated:
                if request.htmx:
                    back_to = request.htmx.current_url_abs_path or request.get_full_path()
                    return HttpResponseClientRedirect(redirect_to_login(back_to).url)
                return redirect_to_login(request.get_full_path())
            if not has_role(request.user):
                raise PermissionDenied
            response = view(request, *args, **kwargs)
            if never_cache:
                add_never_cache_headers(response)
            return response

        return wrapper

    return decorate


# Responders and admins: the people who drive incidents and write postmortems.
driver_required = role_required(can_drive_incidents)
# Admins only; their pages (settings, tokens, people) may hold secrets.
admin_required = role_required(is_admin, never_cache=True)
