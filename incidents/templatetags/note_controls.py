"""A note's Edit and Strike through controls on the incident page.

``{% note_controls %}`` writes them for every note of the timeline (50 on a page), so
they are written here in Python rather than included as a template: the template
engine spent about a third of the page's rendering on these small forms.

The edit form carries the note's whole text, so the page does not: Edit is a link to
the form (``incidents.views.note_edit`` answers GET with it). With HTMX the link is
replaced by the form in place; without JavaScript it opens a page with the form. The
strike form is fetched the same way when its disclosure opens (``note_strike``). The
form the reader just posted with errors is written in place, open, with its errors
(``incidents/partials/field_errors.html``, as the other forms show them).
``{% note_edit_form %}`` and ``{% note_strike_form %}`` write a form alone, for the
views' answers.
"""

from django import template
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()

_EDIT_LINK = """<a class="note-control" href="{edit_url}" hx-get="{edit_url}" hx-target="this" \
hx-swap="outerHTML">Edit<span class="visually-hidden"> this note</span></a>"""

_EDIT_FORM = """<details class="disclosure disclosure-inline"{edit_open}>
    <summary>Edit<span class="visually-hidden"> this note</span></summary>
    <form class="stack compact" method="post" action="{edit_url}"{htmx}>
      {csrf}
      <div class="field{edit_error_class}">
        <label for="edit-{pk}-text">Note</label>
        <textarea name="edit-{pk}-text" id="edit-{pk}-text" rows="3" maxlength="10000" \
required{autofocus}>{text}</textarea>
        {edit_errors}
        <p class="help">The earlier text stays in the history.</p>
      </div>
      <div class="actions"><button type="submit" class="button button-small">Save note\
</button></div>
    </form>
  </details>"""

_HTMX_POST = """
          hx-post="{url}" hx-target="#incident-live" hx-swap="outerHTML" \
hx-disabled-elt="find button\""""

_STRIKE_FORM = """<form class="stack compact" method="post" action="{strike_url}"{htmx}>
      {csrf}
      <div class="field">
        <label for="strike-{pk}-reason">Why <span class="optional">optional</span></label>
        <input type="text" name="strike-{pk}-reason" id="strike-{pk}-reason" maxlength="1000">
        {strike_errors}
        <p class="help">The note stays, struck through, with who and when.</p>
      </div>
      <div class="actions"><button type="submit" class="button button-small">Strike through\
</button></div>
    </form>"""

# The strike form is fetched when its disclosure opens (HTMX); without JavaScript the
# link opens it on a page of its own (``incidents.views.note_strike`` answers GET).
_STRIKE_ON_DEMAND = """<div class="form-on-demand" hx-get="{strike_url}" \
hx-trigger="toggle from:closest details once" hx-swap="innerHTML"><a href="{strike_url}">\
Strike through on a page of its own</a></div>"""

_CONTROLS = """<div class="note-controls">
  {edit}
  <details class="disclosure disclosure-inline"{strike_open}>
    <summary>Strike through<span class="visually-hidden"> this note</span></summary>
    {strike}
  </details>
</div>"""


def _csrf_input(context) -> str:
    """The page's CSRF input, made once per render (as ``{% csrf_token %}`` writes it)."""
    cache = context.render_context
    if "note_controls_csrf" not in cache:
        token = context.get("csrf_token")
        cache["note_controls_csrf"] = (
            format_html('<input type="hidden" name="csrfmiddlewaretoken" value="{}">', token)
            if token and token != "NOTPROVIDED"
            else ""
        )
    return cache["note_controls_csrf"]


# An event id no incident has: the note URLs are reversed once per render with it and
# filled in per note (50 notes on a page, two URLs each; ``reverse`` was a tenth of the
# timeline's writing).
_ANY_EVENT = 987654321987


def _note_url(context, name: str, incident, event) -> str:
    """``reverse(name, args=(incident.pk, event.pk))``, reversed once per render."""
    cache = context.render_context.setdefault("note_controls_urls", {})
    key = (name, incident.pk)
    if key not in cache:
        parts = reverse(name, args=(incident.pk, _ANY_EVENT)).split(str(_ANY_EVENT))
        cache[key] = parts if len(parts) == 2 else None
    parts = cache[key]
    if parts is None:
        return reverse(name, args=(incident.pk, event.pk))
    return f"{parts[0]}{int(event.pk)}{parts[1]}"


def _errors(field) -> str:
    return render_to_string("incidents/partials/field_errors.html", {"field": field})


def _htmx_post(url: str) -> SafeString:
    return format_html(_HTMX_POST, url=url)


def _edit_form(context, incident, event, form, *, in_page: bool, opened: bool) -> SafeString:
    """The edit form of ``event``: on the incident page (posting with HTMX into the live
    region) or on a page of its own (a plain POST); ``form`` is the bound form, if any."""
    url = _note_url(context, "incidents:note_edit", incident, event)
    text = event.text
    if form is not None and form["text"].value() is not None:
        text = form["text"].value()
    return format_html(
        _EDIT_FORM,
        pk=event.pk,
        edit_url=url,
        htmx=_htmx_post(url) if in_page else "",
        csrf=_csrf_input(context),
        text=text,
        autofocus=" autofocus" if opened else "",
        edit_open=" open" if opened else "",
        edit_error_class=" has-error" if form is not None and form["text"].errors else "",
        edit_errors=_errors(form["text"]) if form is not None else "",
    )


def _strike_form(context, incident, event, form, *, in_page: bool) -> SafeString:
    """The strike form of ``event``, as ``_edit_form`` writes the edit form."""
    url = _note_url(context, "incidents:note_strike", incident, event)
    return format_html(
        _STRIKE_FORM,
        pk=event.pk,
        strike_url=url,
        htmx=_htmx_post(url) if in_page else "",
        csrf=_csrf_input(context),
        strike_errors=_errors(form["reason"]) if form is not None else "",
    )


@register.simple_tag(takes_context=True)
def note_edit_form(context, incident, event, *, in_page: bool = True) -> SafeString:
    """The edit form of ``event`` alone, open: what the Edit link brings."""
    return _edit_form(context, incident, event, None, in_page=in_page, opened=True)


@register.simple_tag(takes_context=True)
def note_strike_form(context, incident, event, *, in_page: bool = True) -> SafeString:
    """The strike form of ``event`` alone: what its disclosure fetches when opened."""
    return _strike_form(context, incident, event, None, in_page=in_page)


@register.simple_tag(takes_context=True)
def note_controls(context, incident, event) -> str:
    """The controls of ``event`` (a note); with the reader's last attempt and its errors
    when the form they posted (``form_event_id``) was this note's."""
    mine = context.get("form_event_id") == event.pk
    edit_form = context.get("note_edit_form") if mine else None
    strike_form = context.get("note_strike_form") if mine else None
    if edit_form is not None:
        edit = _edit_form(
            context, incident, event, edit_form, in_page=True, opened=bool(edit_form.errors)
        )
    else:
        edit = format_html(
            _EDIT_LINK, edit_url=_note_url(context, "incidents:note_edit", incident, event)
        )
    if strike_form is not None:
        strike = _strike_form(context, incident, event, strike_form, in_page=True)
    else:
        strike_url = _note_url(context, "incidents:note_strike", incident, event)
        strike = format_html(_STRIKE_ON_DEMAND, strike_url=strike_url)
    return format_html(
        _CONTROLS,
        edit=edit,
        strike=strike,
        strike_open=" open" if strike_form is not None and strike_form.errors else "",
    )
