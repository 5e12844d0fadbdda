"""Server-rendered postmortem pages, progressively enhanced with HTMX.

The editor autosaves each section (HTMX on change): a save answers with the
section's status line and refreshed preview, or the whole section when its rows
changed; a stale save answers 409 and says who saved last. Without JavaScript
every form posts and redirects back. Views are thin: parse → one service call →
render.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from common import keyset
from common.access import admin_required, driver_required
from common.exceptions import ApplicationError
from common.roles import can_drive_incidents, is_admin
from incidents.selectors import incidents_visible_to
from postmortems import list_html, presenters, quality, review, selectors, services
from postmortems.documents import render_markdown, section_content, to_markdown
from postmortems.forms import (
    ActionItemFilterForm,
    CommentForm,
    PublishForm,
    SearchForm,
    SubmitForm,
    TemplateForm,
    content_from_post,
    template_initial,
)
from postmortems.models import Postmortem, PostmortemTemplate, Review
from postmortems.section_view import SectionView, chart_window
from postmortems.sections import SPECS

PAGE_SIZE = 50
VERSION_HEADER = "X-Postmortem-Version"


def _visible(request: HttpRequest, pk: int) -> Postmortem:
    try:
        return selectors.postmortem_detail(user=request.user, pk=pk)
    except Postmortem.DoesNotExist as exc:
        raise Http404("No such postmortem.") from exc


def _can_edit(request: HttpRequest, postmortem: Postmortem) -> bool:
    return can_drive_incidents(request.user) and postmortem.status != Postmortem.Status.PUBLISHED


def _editor_context(request: HttpRequest, postmortem: Postmortem, **extra) -> dict:
    editable = _can_edit(request, postmortem)
    window = chart_window(postmortem)
    sections = [
        SectionView(s, postmortem, editable=editable, window=window)
        for s in postmortem.sections.all()
    ]
    reviewers = list(postmortem.reviewers.all())
    is_reviewer = any(r.pk == request.user.pk for r in reviewers)
    author = review.authorship(postmortem)
    context = {
        "postmortem": postmortem,
        "incident": postmortem.incident,
        "sections": sections,
        "editable": editable,
        "can_drive": can_drive_incidents(request.user),
        "is_reviewer": is_reviewer,
        "reviewers": reviewers,
        "reviews": list(postmortem.reviews.all()),
        "authorship": author,
        "is_main_author": author.main_author is not None
        and author.main_author.pk == request.user.pk,
        "author_help": review.AUTHOR_HELP,
        "withdraw_help": review.WITHDRAW_HELP,
        "submit_form": SubmitForm(initial={"reviewers": reviewers}, main_author=author.main_author),
        "comment_form": CommentForm(),
        "publish_form": PublishForm(),
        "window": window,
    }
    if postmortem.status == Postmortem.Status.IN_REVIEW:
        approvals = review.current_approvals(postmortem, author=author)
        context["approvals"] = approvals
        context["pending"] = review.pending_reviewers(
            postmortem, author=author, approvals=approvals
        )
    if postmortem.status == Postmortem.Status.DRAFT:
        context["submit_problems"] = review.submit_problems(postmortem)
    context.update(extra)
    return context


@login_required
@require_GET
def postmortem_list(request: HttpRequest) -> HttpResponse:
    form = SearchForm(request.GET)
    valid = form.is_valid()
    data = form.cleaned_data if valid else {}
    search = data.get("q", "")
    queryset = selectors.postmortem_list(
        user=request.user, status=data.get("status", ""), search=search
    )
    try:
        page = selectors.postmortem_list_page(
            queryset,
            ranked=bool(search.strip()),
            size=PAGE_SIZE,
            cursor=request.GET.get("cursor"),
            page=request.GET.get("page"),
            clamp_pages=True,
        )
    except keyset.InvalidCursor as error:
        messages.warning(request, error.message)
        return redirect(keyset.first_page_url(request))
    context = {"form": form, "page": page, "rows": list_html.postmortem_rows(page.rows)}
    return render(request, "postmortems/list.html", context, status=200 if valid else 400)


def _start_refused(request: HttpRequest, incident, error: ApplicationError) -> HttpResponse:
    """The incident has a postmortem already: to it. Otherwise back, saying why."""
    if existing := error.extra.get("postmortem"):
        return redirect("postmortems:detail", pk=existing)
    messages.error(request, error.message)
    return redirect("incidents:detail", pk=incident.pk)


@driver_required
@require_POST
def postmortem_start(request: HttpRequest, incident_pk: int) -> HttpResponse:
    incident = get_object_or_404(incidents_visible_to(request.user), pk=incident_pk)
    template = selectors.template_chosen(request.POST.get("template"))
    try:
        postmortem = services.postmortem_start(
            incident=incident, actor=request.user, template=template
        )
    except ApplicationError as error:
        return _start_refused(request, incident, error)
    messages.success(request, "Postmortem started, pre-filled from the incident.")
    return redirect("postmortems:detail", pk=postmortem.pk)


@login_required
@require_GET
def postmortem_detail(request: HttpRequest, pk: int) -> HttpResponse:
    postmortem = _visible(request, pk)
    return render(request, "postmortems/detail.html", _editor_context(request, postmortem))


def _section_of(postmortem: Postmortem, key: str):
    section = next((s for s in postmortem.sections.all() if s.key == key), None)
    if section is None:
        raise Http404("No such section.")
    return section


def _posted_version(request: HttpRequest) -> int | None:
    """The version the editor was editing (None: not sent, so not checked)."""
    try:
        return int(request.POST.get("version", ""))
    except ValueError:
        return None


def _section_response(
    request: HttpRequest,
    postmortem: Postmortem,
    key: str,
    *,
    posted_structure: str,
    status: int = 200,
    error: str = "",
    conflict: dict | None = None,
    typed: dict | None = None,
    form_version: int | None = None,
) -> HttpResponse:
    """After a save: the status line (and previews), or the whole section when its
    rows changed or the save failed. A failed save keeps what the user typed and the
    version they edited, so a later autosave cannot overwrite someone else's save."""
    view = SectionView(
        _section_of(postmortem, key),
        postmortem,
        editable=_can_edit(request, postmortem),
        window=chart_window(postmortem),
        content=typed,
    )
    context = {
        "form_version": form_version or postmortem.version,
        "postmortem": postmortem,
        "s": view,
        "error": error,
        "conflict": conflict,
        "saved": not error and not conflict,
    }
    if error or conflict or view.structure != posted_structure:
        response = render(request, "postmortems/partials/section.html", context, status=status)
        response["HX-Retarget"] = f"#section-{key}"
        response["HX-Reswap"] = "outerHTML"
    else:
        response = render(
            request, "postmortems/partials/section_saved.html", context, status=status
        )
    response[VERSION_HEADER] = str(postmortem.version)
    return response


def _section_refused(
    request: HttpRequest, pk: int, section, error: ApplicationError, *, typed: dict
) -> HttpResponse:
    """A refused save: without JavaScript, back with the reason; with HTMX, the whole
    section with the reason, what was typed (``typed``) and the version edited."""
    if not request.htmx:
        messages.error(request, f"{section.title}: {error.message}")
        return redirect("postmortems:detail", pk=pk)
    return _section_response(
        request,
        _visible(request, pk),
        section.key,
        posted_structure="",
        status=error.status_code,
        error=error.message,
        conflict=error.extra if error.code == "version_conflict" else None,
        typed=SPECS[section.kind].as_posted(typed) if typed else None,
        form_version=_posted_version(request),
    )


def _posted_content(request: HttpRequest, section, postmortem: Postmortem) -> dict:
    """The section's content from the editor's POST (its files included) over what is
    stored."""
    stored = section_content(section, postmortem)
    return content_from_post(section, request.POST, stored, files=request.FILES)


def _section_saved(request: HttpRequest, pk: int, section) -> HttpResponse:
    """Saved: without JavaScript, back with a message; with HTMX, the status line (or
    the whole section when its rows changed)."""
    if not request.htmx:
        messages.success(request, f"Saved “{section.title}”.")
        return redirect("postmortems:detail", pk=pk)
    structure = request.POST.get("structure", "")
    return _section_response(
        request, _visible(request, pk), section.key, posted_structure=structure
    )


@driver_required
@require_POST
def section_save(request: HttpRequest, pk: int, key: str) -> HttpResponse:
    postmortem = _visible(request, pk)
    section = _section_of(postmortem, key)
    content: dict = {}
    try:
        content = _posted_content(request, section, postmortem)
        services.section_save(
            postmortem=postmortem,
            key=key,
            content=content,
            expected_version=_posted_version(request),
            actor=request.user,
        )
    except ApplicationError as error:
        return _section_refused(request, pk, section, error, typed=content)
    return _section_saved(request, pk, section)


@login_required
@require_POST
def markdown_preview(request: HttpRequest) -> HttpResponse:
    """The sanitised HTML of one Markdown field while it is typed (saves nothing)."""
    field = request.POST.get("preview_field", "text")[:50]
    text = request.POST.get(field, "")[:20_000]
    return HttpResponse(render_markdown(text))


def _workflow(request: HttpRequest, pk: int, perform, done: str) -> HttpResponse:
    postmortem = _visible(request, pk)
    try:
        perform(postmortem)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, done)
    return redirect("postmortems:detail", pk=pk)


def _form_refused(request: HttpRequest, pk: int, form) -> HttpResponse:
    """An invalid comment or summary is not dropped for an empty one and acted on:
    nothing happens, and the message names the field."""
    for name, errors in form.errors.items():
        label = form.fields[name].label or name.replace("_", " ").capitalize()
        messages.error(request, f"{label}: {' '.join(errors)}")
    return redirect("postmortems:detail", pk=pk)


@login_required
@require_POST
def submit(request: HttpRequest, pk: int) -> HttpResponse:
    form = SubmitForm(request.POST)
    if not form.is_valid():
        return _form_refused(request, pk, form)

    def perform(postmortem: Postmortem) -> None:
        review.postmortem_submit(
            postmortem=postmortem, actor=request.user, reviewers=form.cleaned_data["reviewers"]
        )
        still_open = quality.open_points(quality.quality_check(postmortem))
        if still_open:
            labels = "; ".join(check.label.lower() for check in still_open)
            messages.info(request, f"Quality check: {len(still_open)} point(s) open — {labels}.")

    return _workflow(request, pk, perform, "Submitted for review.")


@login_required
@require_POST
def review_post(request: HttpRequest, pk: int) -> HttpResponse:
    form = CommentForm(request.POST)
    if not form.is_valid():
        return _form_refused(request, pk, form)
    comment = form.cleaned_data["comment"]
    if request.POST.get("verdict") == Review.Verdict.APPROVE:
        verdict, done = review.postmortem_approve, "Approved."
    else:
        verdict = review.postmortem_request_changes
        done = "Changes requested; the postmortem is a draft again."
    return _workflow(
        request, pk, lambda pm: verdict(postmortem=pm, actor=request.user, comment=comment), done
    )


@login_required
@require_POST
def publish(request: HttpRequest, pk: int) -> HttpResponse:
    form = PublishForm(request.POST)
    if not form.is_valid():
        return _form_refused(request, pk, form)
    summary = form.cleaned_data["public_summary"]
    return _workflow(
        request,
        pk,
        lambda pm: review.postmortem_publish(
            postmortem=pm, actor=request.user, public_summary=summary
        ),
        "Published: the incident moved to share and the audiences are being told.",
    )


@login_required
@require_POST
def retro_complete(request: HttpRequest, pk: int) -> HttpResponse:
    return _workflow(
        request,
        pk,
        lambda pm: review.retro_complete(postmortem=pm, actor=request.user),
        "Retro complete: the incident moved to retrospect.",
    )


@login_required
@require_GET
def reviews_waiting(request: HttpRequest) -> HttpResponse:
    """Reviews waiting for me: postmortems naming me whose current content I have not
    approved (never, or my approval was withdrawn by a later change)."""
    postmortems = list(selectors.reviews_waiting_for(user=request.user)[:PAGE_SIZE])
    return render(
        request,
        "postmortems/reviews_waiting.html",
        {"postmortems": postmortems, "withdraw_help": review.WITHDRAW_HELP},
    )


@login_required
@require_GET
def print_view(request: HttpRequest, pk: int) -> HttpResponse:
    postmortem = _visible(request, pk)
    return render(request, "postmortems/print.html", presenters.print_context(postmortem))


@login_required
@require_GET
def export_markdown(request: HttpRequest, pk: int) -> HttpResponse:
    postmortem = _visible(request, pk)
    response = HttpResponse(to_markdown(postmortem), content_type="text/markdown; charset=utf-8")
    name = f"postmortem-{postmortem.pk}-incident-{postmortem.incident_id}.md"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@login_required
@require_GET
def history(request: HttpRequest, pk: int) -> HttpResponse:
    postmortem = _visible(request, pk)
    rows = selectors.postmortem_history(postmortem=postmortem)
    return render(request, "postmortems/history.html", {"postmortem": postmortem, "rows": rows})


@login_required
@require_GET
def action_items(request: HttpRequest) -> HttpResponse:
    form = ActionItemFilterForm(request.GET)
    context = presenters.action_items_context(
        user=request.user, form=form, page=request.GET.get("page")
    )
    status = 200 if form.is_valid() else 400
    return render(request, "postmortems/action_items.html", context, status=status)


@login_required
@require_GET
def templates(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "postmortems/templates.html",
        {"templates": selectors.templates_current(), "can_manage": is_admin(request.user)},
    )


def _template_page(request: HttpRequest, form, template, *, status: int) -> HttpResponse:
    context = {"form": form, "template": template}
    return render(request, "postmortems/template_edit.html", context, status=status)


@admin_required
@require_http_methods(["GET", "POST"])
def template_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """Create a template, or revise one (which writes its next version)."""
    template = get_object_or_404(PostmortemTemplate, pk=pk, is_current=True) if pk else None
    form = TemplateForm(request.POST or None, initial=template_initial(template))
    if request.method != "POST":
        return _template_page(request, form, template, status=200)
    if not form.is_valid():
        return _template_page(request, form, template, status=400)
    try:
        saved = services.template_save(template=template, actor=request.user, **form.cleaned_data)
    except ApplicationError as error:
        # Above the form: the service names the line of the sections at fault itself.
        form.add_error(None, error.message)
        return _template_page(request, form, template, status=error.status_code)
    messages.success(request, f"Saved {saved.name} v{saved.version}.")
    return redirect("postmortems:templates")
