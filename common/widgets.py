"""Typeahead pickers, as progressive enhancement of Django's native selects.

The widget renders the ordinary ``<select>`` (the real field, and the whole picker
without JavaScript) with ``data-typeahead`` attributes; ``static/js/typeahead.js``
hides it behind an ARIA combobox with chips and keeps its options selected.

* ``source``: the URL name of a JSON search (``common.search`` frame); without one the
  script filters the select's own options (small, fixed lists such as time zones).
* ``key``: which property of a search result is the option's value (``id``, or
  ``key`` when the field's ``to_field_name`` is a username or slug).
* ``params``: extra query parameters for the search (``{"role": "driver"}``).

The select keeps every option the form accepts, so the server's validation stays the
single judge: the script only offers results that are options of the select.
"""

from urllib.parse import urlencode

from django import forms
from django.urls import reverse


class _TypeaheadMixin:
    def __init__(
        self, *args, source: str = "", key: str = "id", params: dict | None = None, **kwargs
    ):
        super().__init__(*args, **kwargs)
        self.source = source
        self.key = key
        self.params = params or {}

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        widget_attrs = context["widget"]["attrs"]
        widget_attrs["data-typeahead"] = "multiple" if self.allow_multiple_selected else "single"
        if self.source:
            url = reverse(self.source)
            if self.params:
                url = f"{url}?{urlencode(self.params)}"
            widget_attrs["data-typeahead-source"] = url
            widget_attrs["data-typeahead-key"] = self.key
        return context


class TypeaheadSelect(_TypeaheadMixin, forms.Select):
    """One choice, picked by typing (the native select without JavaScript)."""


class TypeaheadSelectMultiple(_TypeaheadMixin, forms.SelectMultiple):
    """Several choices shown as chips, picked by typing (a native multi-select without
    JavaScript)."""
