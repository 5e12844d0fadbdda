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

``Select`` and ``SelectMultiple`` (and the typeahead pickers) write their markup in
Python, exactly as Django's ``select.html`` and ``select_option.html`` templates do:
two template includes per option were most of a filter form's rendering (a list
page's five filters, with a few dozen options, cost ~10 ms).
"""

from urllib.parse import urlencode

from django import forms
from django.forms.renderers import DjangoTemplates
from django.urls import reverse
from django.utils.formats import localize
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

_SELECT_TEMPLATE = "django/forms/widgets/select.html"
_OPTION_TEMPLATE = "django/forms/widgets/select_option.html"


def _attributes(attrs: dict) -> str:
    """As ``django/forms/widgets/attrs.html``: `` name="value"``, `` name`` for True,
    nothing for False (``stringformat:'s'`` keeps a safe string safe, as
    ``conditional_escape`` does)."""
    return "".join(
        f" {name}" if value is True else f' {name}="{conditional_escape(value)}"'
        for name, value in attrs.items()
        if value is not False
    )


class _SelectInPython:
    """Renders ``<select>`` without the per-option templates, byte for byte what they
    write (``tests/common/test_select_widgets.py`` compares the two). A subclass that
    names other templates, or another renderer than Django's default one (whose
    templates a project could override), gets Django's own rendering."""

    def render(self, name, value, attrs=None, renderer=None) -> SafeString:
        if (
            (renderer is not None and type(renderer) is not DjangoTemplates)
            or self.template_name != _SELECT_TEMPLATE
            or self.option_template_name != _OPTION_TEMPLATE
        ):
            return super().render(name, value, attrs, renderer)
        widget = self.get_context(name, value, attrs)["widget"]
        parts = [f'<select name="{conditional_escape(widget["name"])}"']
        parts.append(_attributes(widget["attrs"]))
        parts.append(">")
        for group_name, options, _index in widget["optgroups"]:
            if group_name:
                parts.append(f'\n  <optgroup label="{conditional_escape(localize(group_name))}">')
            for option in options:
                parts.append(
                    f'\n  <option value="{conditional_escape(option["value"])}"'
                    f"{_attributes(option['attrs'])}>"
                    f"{conditional_escape(localize(option['label']))}</option>\n"
                )
            if group_name:
                parts.append("\n  </optgroup>")
        parts.append("\n</select>")
        return mark_safe("".join(parts))  # every value above is escaped


class Select(_SelectInPython, forms.Select):
    """Django's ``Select``, rendered in Python."""


class SelectMultiple(_SelectInPython, forms.SelectMultiple):
    """Django's ``SelectMultiple``, rendered in Python."""


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


class TypeaheadSelect(_TypeaheadMixin, Select):
    """One choice, picked by typing (the native select without JavaScript)."""


class TypeaheadSelectMultiple(_TypeaheadMixin, SelectMultiple):
    """Several choices shown as chips, picked by typing (a native multi-select without
    JavaScript)."""
