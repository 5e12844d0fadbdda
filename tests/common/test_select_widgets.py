"""``common.widgets`` writes selects in Python: byte for byte what Django's
``select.html``/``select_option.html`` templates write, for every form that uses them."""

from unittest import mock

import pytest
from django import forms
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy

from common import widgets
from common.preferences import PreferencesForm
from incidents.forms import IncidentDeclareForm, IncidentFilterForm, RoleAssignForm
from tests.factories.incidents import ServiceFactory, UserFactory
from workspace.catalog_forms import ComponentForm, PageSettingsForm, ServiceForm, TeamForm


def by_templates(widget, *args, **kwargs):
    return forms.Widget.render(widget, *args, **kwargs)


CHOICES = [
    ("", "Any"),
    ("a&b", 'Tom & "Jerry" <3'),
    (3, gettext_lazy("Lazy")),
    ("Group <1>", [("g1", "One"), ("g2", "Two")]),
    (None, "Nothing"),
    ("safe", mark_safe("<b>bold</b>")),
]


@pytest.mark.parametrize("widget_class", [widgets.Select, widgets.TypeaheadSelect])
@pytest.mark.parametrize("value", [None, "", "a&b", 3, "g2", "missing"])
@pytest.mark.parametrize(
    "attrs",
    [
        None,
        {
            "id": "id_x",
            "required": True,
            "disabled": False,
            "data-n": None,
            "title": "<&>",
            "data-s": mark_safe("<i>"),
        },
    ],
)
def test_a_select_is_written_as_djangos_templates_write_it(widget_class, value, attrs):
    widget = widget_class(choices=CHOICES)
    assert widget.render("pick", value, attrs) == by_templates(widget, "pick", value, attrs)


@pytest.mark.parametrize(
    "widget",
    [
        widgets.SelectMultiple(choices=CHOICES, attrs={"size": 6}),
        widgets.TypeaheadSelectMultiple(
            choices=CHOICES, source="search-services", params={"role": "a&b"}
        ),
        widgets.Select(choices=[]),
    ],
)
@pytest.mark.parametrize("value", [None, [], ["a&b", "g1"], [3]])
def test_a_multiple_select_is_written_as_djangos_templates_write_it(widget, value):
    attrs = {"id": "id_many"}
    assert widget.render("many", value, attrs) == by_templates(widget, "many", value, attrs)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("form_class", "data"),
    [
        (IncidentFilterForm, {"status": "open", "severity": "SEV2", "stage": "judge"}),
        (IncidentFilterForm, {"service": "nope", "status": "bogus"}),
        (IncidentDeclareForm, None),
        (IncidentDeclareForm, {"services": ["x"], "severity": "1"}),
        (RoleAssignForm, None),
        (PreferencesForm, None),
        (ComponentForm, None),
        (PageSettingsForm, None),
        (ServiceForm, None),
        (TeamForm, None),
    ],
)
def test_the_projects_forms_render_their_selects_as_before(form_class, data):
    ServiceFactory(name="Checkout <eu>", slug="checkout-eu")
    UserFactory(username="ada", first_name="Ada", last_name="<L>")
    form = form_class(data)
    if data is not None:
        form.is_valid()  # errors: aria-invalid on the select
    fast = [str(form[name]) for name in form.fields]
    with mock.patch.object(widgets._SelectInPython, "render", by_templates):
        slow = [str(form[name]) for name in form.fields]
    assert fast == slow
    assert any("<select" in html for html in fast)
