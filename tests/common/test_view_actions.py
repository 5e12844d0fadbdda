"""``common.view_actions.form_page``: a page of its own with one form, the refusal
beside its field with the error's own status."""

from django import forms
from django.http import HttpResponse
from django.test import RequestFactory

from common.exceptions import Conflict, InvalidInput
from common.view_actions import form_page

PAGE = "form-page-test.html"


class NameForm(forms.Form):
    name = forms.CharField(max_length=10)


def _page(settings, request, save):
    settings.TEMPLATES = [
        {
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "OPTIONS": {
                "loaders": [
                    (
                        "django.template.loaders.locmem.Loader",
                        {
                            PAGE: "{{ title }}|{{ form.name.errors|join:',' }}"
                            "|{{ form.non_field_errors|join:',' }}"
                        },
                    )
                ]
            },
        }
    ]
    form = NameForm(request.POST or None)
    return form_page(request, form, save=save, template=PAGE, context={"title": "Names"})


def _never(data):
    raise AssertionError("save ran")


def test_get_shows_the_form_without_saving(settings):
    response = _page(settings, RequestFactory().get("/"), _never)
    assert (response.status_code, response.content) == (200, b"Names||")


def test_an_invalid_post_is_a_400_with_the_field_error_and_nothing_saved(settings):
    response = _page(settings, RequestFactory().post("/", {"name": "x" * 11}), _never)
    assert response.status_code == 400
    assert b"Names|Ensure this value has at most 10 characters" in response.content


def test_a_valid_post_answers_what_save_answers(settings):
    saved = []

    def save(data):
        saved.append(data)
        return HttpResponse("done", status=303)

    response = _page(settings, RequestFactory().post("/", {"name": "ok"}), save)
    assert (response.status_code, response.content, saved) == (303, b"done", [{"name": "ok"}])


def test_a_refusal_sits_beside_the_field_it_names_with_its_own_status(settings):
    def refuse_field(data):
        raise InvalidInput("Taken.", field="name")

    def refuse_page(data):
        raise Conflict("Someone else saved first.", field="version")

    on_field = _page(settings, RequestFactory().post("/", {"name": "ok"}), refuse_field)
    above = _page(settings, RequestFactory().post("/", {"name": "ok"}), refuse_page)
    assert (on_field.status_code, on_field.content) == (400, b"Names|Taken.|")
    assert (above.status_code, above.content) == (409, b"Names||Someone else saved first.")
