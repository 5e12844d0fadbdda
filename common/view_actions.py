"""The one way a server-rendered page runs a write: a form (or a button) → one
service call → a message and a redirect, or the page again with the refusal on
the field it names. HTMX pages that answer with a live region (the incident page)
build on the same rule in ``incidents.views._act``; a page of its own with one form
is ``form_page``."""

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from common.exceptions import ApplicationError, InvalidInput


def form_errors_from(form, exc: ApplicationError | ValidationError) -> None:
    """A service's refusal as field-level errors of ``form`` (the page's words)."""
    if isinstance(exc, ApplicationError):
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        return
    for field, errors in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, errors)


def form_submit(
    request: HttpRequest,
    form,
    write: Callable[[dict], Any],
    *,
    done: Callable[[Any], str] | str,
    then: str | Callable[[Any], str],
    again: Callable[..., HttpResponse],
    level: int = messages.SUCCESS,
) -> HttpResponse:
    """Validate ``form`` and run ``write(cleaned_data)``. Done: the message ``done``
    (or ``done(result)``, at ``level``) and a redirect to ``then``. Refused:
    ``again(form)`` draws the page once more, with the errors on their fields and
    status 400."""
    if form.is_valid():
        try:
            result = write(form.cleaned_data)
        except (InvalidInput, ValidationError) as exc:
            form_errors_from(form, exc)
        else:
            messages.add_message(request, level, done(result) if callable(done) else done)
            return redirect(then(result) if callable(then) else then)
    return again(form, status=400)


def form_page(
    request: HttpRequest,
    form,
    *,
    save: Callable[[dict], HttpResponse],
    template: str,
    context: dict | None = None,
) -> HttpResponse:
    """A page of its own with one form: GET shows it; a valid POST runs ``save`` (one
    service call, then a redirect with a message); an invalid POST or a domain error
    shows the form again with its errors and status (400, or the error's own)."""
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                return save(form.cleaned_data)
            except ApplicationError as error:
                form_errors_from(form, error)
                status = error.status_code
    return render(request, template, {**(context or {}), "form": form}, status=status)


def act(
    request: HttpRequest,
    write: Callable[[], Any],
    *,
    then: str,
    done: str = "",
    refused_then: str | None = None,
) -> HttpResponse:
    """A button's write (move, remove, resend …): its refusal becomes a message, not
    an error page; either way the browser goes back to ``then`` (or ``refused_then``)."""
    try:
        write()
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect(refused_then or then)
    if done:
        messages.success(request, done)
    return redirect(then)
