"""``{% note_controls %}``: a note's Edit and Strike through forms on the incident page.

Plain POSTs; with HTMX they swap ``#incident-live``. Every note of the timeline has
them (50 on a page), so they are written here in Python rather than included as a
template: the template engine spent about a third of the page's rendering on these
two small forms (two URLs, two CSRF inputs and some twenty lookups per note). The
form with errors (the one the reader just posted) shows them with
``incidents/partials/field_errors.html``, as the other forms do.
"""

from django import template
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html

register = template.Library()

_CONTROLS = """<div class="note-controls">
  <details class="disclosure disclosure-inline"{edit_open}>
    <summary>Edit<span class="visually-hidden"> this note</span></summary>
    <form class="stack compact" method="post" action="{edit_url}"
          hx-post="{edit_url}" hx-target="#incident-live" hx-swap="outerHTML" \
hx-disabled-elt="find button">
      {csrf}
      <div class="field{edit_error_class}">
        <label for="edit-{pk}-text">Note</label>
        <textarea name="edit-{pk}-text" id="edit-{pk}-text" rows="3" maxlength="10000" \
required>{text}</textarea>
        {edit_errors}
        <p class="help">The earlier text stays in the history.</p>
      </div>
      <div class="actions"><button type="submit" class="button button-small">Save note\
</button></div>
    </form>
  </details>
  <details class="disclosure disclosure-inline"{strike_open}>
    <summary>Strike through<span class="visually-hidden"> this note</span></summary>
    <form class="stack compact" method="post" action="{strike_url}"
          hx-post="{strike_url}" hx-target="#incident-live" hx-swap="outerHTML" \
hx-disabled-elt="find button">
      {csrf}
      <div class="field">
        <label for="strike-{pk}-reason">Why <span class="optional">optional</span></label>
        <input type="text" name="strike-{pk}-reason" id="strike-{pk}-reason" maxlength="1000">
        {strike_errors}
        <p class="help">The note stays, struck through, with who and when.</p>
      </div>
      <div class="actions"><button type="submit" class="button button-small">Strike through\
</button></div>
    </form>
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


def _errors(field) -> str:
    return render_to_string("incidents/partials/field_errors.html", {"field": field})


@register.simple_tag(takes_context=True)
def note_controls(context, incident, event) -> str:
    """The forms of ``event`` (a note); with the reader's last attempt and its errors
    when the form they posted (``form_event_id``) was this note's."""
    mine = context.get("form_event_id") == event.pk
    edit_form = context.get("note_edit_form") if mine else None
    strike_form = context.get("note_strike_form") if mine else None
    text = event.text
    if edit_form is not None and edit_form["text"].value() is not None:
        text = edit_form["text"].value()
    return format_html(
        _CONTROLS,
        pk=event.pk,
        edit_url=reverse("incidents:note_edit", args=(incident.pk, event.pk)),
        strike_url=reverse("incidents:note_strike", args=(incident.pk, event.pk)),
        csrf=_csrf_input(context),
        text=text,
        edit_open=" open" if edit_form is not None and edit_form.errors else "",
        edit_error_class=" has-error" if edit_form is not None and edit_form["text"].errors else "",
        edit_errors=_errors(edit_form["text"]) if edit_form is not None else "",
        strike_open=" open" if strike_form is not None and strike_form.errors else "",
        strike_errors=_errors(strike_form["reason"]) if strike_form is not None else "",
    )
