"""The settings pages' row editors, table-driven: severities, teams, services,
status-page components and groups are all edited the same way (add from the list
page, an edit page with Remove or why not, up/down buttons), so each is one
``RowEditor`` spec (its form, its service calls, its pages and its words) and the
views here are built from it. Every write is still one service call through
``common.view_actions``."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from common.access import admin_required
from common.view_actions import act, form_submit


def edit_page(request, *, title, form, back, remove_url=None, blockers=(), status=200):
    """One row's edit page: its form, and Remove (or why it cannot be removed)."""
    return render(
        request,
        "workspace/catalog_edit.html",
        {
            "title": title,
            "form": form,
            "remove_url": remove_url,
            "blockers": blockers,
            "back": reverse(back),
        },
        status=status,
    )


def _no_blockers(row) -> list[str]:
    return []


def _no_form_kwargs(row) -> dict:
    return {}


@dataclass(frozen=True)
class RowEditor:
    """How one kind of row is edited. ``title(row)`` names it on its edit page and in
    the messages (``"<title> saved."``, ``"<title> removed."`` unless ``saved`` or
    ``removed`` say otherwise); ``back`` is the URL name of the list page. The write
    callables take the row and the acting user: ``update(row, actor, data)``,
    ``remove(row, actor)``, ``move(row, actor, direction)``, ``create(actor, data)``."""

    model: type
    form: type
    title: Callable[[Any], str]
    back: str
    initial: Callable[[Any], dict]
    update: Callable[[Any, Any, dict], Any]
    form_kwargs: Callable[[Any], dict] = _no_form_kwargs
    saved: Callable[[Any], str] | None = None
    # Remove: the URL names of the remove and edit pages, the service call, the reasons
    # it is refused (shown instead of the button) and the message.
    remove_url: str = ""
    edit_url: str = ""
    remove: Callable[[Any, Any], Any] | None = None
    blockers: Callable[[Any], list[str]] = _no_blockers
    removed: Callable[[Any], str] | None = None
    # Up/down: the service call and the list page's anchor prefix (``#<anchor>-<pk>``).
    move: Callable[[Any, Any, str], Any] | None = None
    anchor: str = ""
    # Add from the list page: the form's prefix, the service call, the message and the
    # list page drawn again with the refused form ``list_page(request, form, status)``.
    prefix: str = ""
    create: Callable[[Any, dict], Any] | None = None
    added: Callable[[Any], str] | None = None
    list_page: Callable[[HttpRequest, Any, int], HttpResponse] | None = None

    def saved_notice(self, row) -> str:
        """Words of the row as saved (a renamed team is named by its new name)."""
        return self.saved(row) if self.saved else f"{self.title(row)} saved."

    def removed_notice(self, row) -> str:
        return self.removed(row) if self.removed else f"{self.title(row)} removed."

    def edit_page(self, request, row, form, *, status=200) -> HttpResponse:
        return edit_page(
            request,
            title=self.title(row),
            form=form,
            back=self.back,
            remove_url=reverse(self.remove_url, args=[row.pk]) if self.remove else None,
            blockers=self.blockers(row),
            status=status,
        )


def row_add_view(spec: RowEditor):
    @admin_required
    @require_POST
    def add(request):
        return form_submit(
            request,
            spec.form(request.POST, prefix=spec.prefix),
            lambda data: spec.create(request.user, data),
            done=spec.added,
            then=spec.back,
            again=lambda form, status: spec.list_page(request, form, status),
        )

    return add


def row_edit_view(spec: RowEditor):
    @admin_required
    @require_http_methods(["GET", "POST"])
    def edit(request, pk: int):
        row = get_object_or_404(spec.model, pk=pk)
        if request.method == "GET":
            form = spec.form(initial=spec.initial(row), **spec.form_kwargs(row))
            return spec.edit_page(request, row, form)
        return form_submit(
            request,
            spec.form(request.POST, **spec.form_kwargs(row)),
            lambda data: spec.update(row, request.user, data),
            done=lambda _: spec.saved_notice(row),
            then=spec.back,
            again=lambda form, status: spec.edit_page(request, row, form, status=status),
        )

    return edit


def row_remove_view(spec: RowEditor):
    @admin_required
    @require_POST
    def remove(request, pk: int):
        row = get_object_or_404(spec.model, pk=pk)
        return act(
            request,
            lambda: spec.remove(row, request.user),
            done=spec.removed_notice(row),
            then=spec.back,
            refused_then=reverse(spec.edit_url, args=[row.pk]),
        )

    return remove


def row_move_view(spec: RowEditor):
    @admin_required
    @require_POST
    def move(request, pk: int):
        row = get_object_or_404(spec.model, pk=pk)
        return act(
            request,
            lambda: spec.move(row, request.user, request.POST.get("direction", "")),
            then=reverse(spec.back) + f"#{spec.anchor}-{row.pk}",
        )

    return move
