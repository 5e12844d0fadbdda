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
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from common import keyset
from common.access import admin_required, driver_required
from common.exceptions import ApplicationError
from common.roles import can_drive_incidents, is_admin
from incidents.selectors import incidents_visible_to
from postmortems import quality, review, selectors, services
from postmortems.documents import render_markdown, section_content, to_markdown
from postmortems.forms import (
    ActionItemFilterForm,
    CommentForm,
    PublishForm,
    SearchForm,
    SubmitForm,
    TemplateForm,
    content_from_post,
    template_lines,
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


def _list_page(request: HttpRequest, queryset, *, ranked: bool) -> keyset.Page:
    """Newest first by cursor (``?cursor=``; ``?page=`` for old links), or a ranked
    search by page number."""
    if ranked:
        return keyset.offset_paginate(
            queryset, size=PAGE_SIZE, page=request.GET.get("page"), clamp_pages=True
        )
    return keyset.paginate(
        queryset,
        name="postmortems",
        keys=selectors.POSTMORTEM_LIST_ORDER,
        size=PAGE_SIZE,
        load=selectors.postmortem_list_rows,
        cursor=request.GET.get("cursor"),
        page=request.GET.get("page"),
        clamp_pages=True,
    )


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
        page = _list_page(request, queryset, ranked=bool(search.strip()))
    except keyset.InvalidCursor as error:
        messages.warning(request, error.message)
        return redirect(keyset.first_page_url(request))
    return render(
        request, "postmortems/list.html", {"form": form, "page": page}, status=200 if valid else 400
    )


@driver_required
@require_POST
def postmortem_start(request: HttpRequest, incident_pk: int) -> HttpResponse:
    incident = get_object_or_404(incidents_visible_to(request.user), pk=incident_pk)
    template = None
    if template_id := request.POST.get("template"):
        template = PostmortemTemplate.objects.filter(pk=template_id, is_current=True).first()
    try:
        postmortem = services.postmortem_start(
            incident=incident, actor=request.user, template=template
        )
    except ApplicationError as error:
        existing = error.extra.get("postmortem")
        if existing:
            return redirect("postmortems:detail", pk=existing)
        messages.error(request, error.message)
        return redirect("incidents:detail", pk=incident.pk)
    messages.success(request, "Postmortem started, pre-filled from the incident.")
    return redirect("postmortems:detail", pk=postmortem.pk)


@login_required
@require_GET
def postmortem_detail(request: HttpRequest, pk: int) -> HttpResponse:
    postmortem = _visible(request, pk)
    return render(request, "postmortems/detail.html", _editor_context(request, postmortem))


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
    section = next((s for s in postmortem.sections.all() if s.key == key), None)
    if section is None:
        raise Http404("No such section.")
    view = SectionView(
        section,
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


@driver_required
@require_POST
def section_save(request: HttpRequest, pk: int, key: str) -> HttpResponse:
    postmortem = _visible(request, pk)
    section = next((s for s in postmortem.sections.all() if s.key == key), None)
    if section is None:
        raise Http404("No such section.")
    try:
        version = int(request.POST.get("version", ""))
    except ValueError:
        version = None
    posted_structure = request.POST.get("structure", "")
    content: dict = {}
    try:
        content = content_from_post(
            section, request.POST, section_content(section, postmortem), files=request.FILES
        )
        services.section_save(
            postmortem=postmortem,
            key=key,
            content=content,
            expected_version=version,
            actor=request.user,
        )
    except ApplicationError as error:
        if not request.htmx:
            messages.error(request, f"{section.title}: {error.message}")
            return redirect("postmortems:detail", pk=pk)
        conflict = error.extra if error.code == "version_conflict" else None
        return _section_response(
            request,
            _visible(request, pk),
            key,
            posted_structure="",
            status=error.status_code,
            error=error.message,
            conflict=conflict,
            typed=SPECS[section.kind].as_posted(content) if content else None,
            form_version=version,
        )
    fresh = _visible(request, pk)
    if not request.htmx:
        messages.success(request, f"Saved “{section.title}”.")
        return redirect("postmortems:detail", pk=pk)
    return _section_response(request, fresh, key, posted_structure=posted_structure)


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
    verdict = request.POST.get("verdict")
    if verdict == Review.Verdict.APPROVE:
        return _workflow(
            request,
            pk,
            lambda pm: review.postmortem_approve(
                postmortem=pm, actor=request.user, comment=comment
            ),
            "Approved.",
        )
    return _workflow(
        request,
        pk,
        lambda pm: review.postmortem_request_changes(
            postmortem=pm, actor=request.user, comment=comment
        ),
        "Changes requested; the postmortem is a draft again.",
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
    window = chart_window(postmortem)
    sections = [
        SectionView(s, postmortem, editable=False, window=window) for s in postmortem.sections.all()
    ]
    return render(
        request,
        "postmortems/print.html",
        {
            "postmortem": postmortem,
            "incident": postmortem.incident,
            "sections": sections,
            "reviews": list(postmortem.reviews.all()),
            "printed_at": timezone.now(),
        },
    )


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
    valid = form.is_valid()
    filters = form.cleaned_data if valid else {}
    queryset = selectors.action_items_list(user=request.user, filters=filters)
    # Due date first (nullable, so no keyset): numbered pages with the capped count.
    page = keyset.offset_paginate(
        queryset, size=PAGE_SIZE, page=request.GET.get("page"), clamp_pages=True
    )
    return render(
        request,
        "postmortems/action_items.html",
        {
            "form": form,
            "page": page,
            "today": timezone.localdate(),
            "completion": selectors.completion_by_team(user=request.user),
        },
        status=200 if valid else 400,
    )


@login_required
@require_GET
def templates(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "postmortems/templates.html",
        {"templates": selectors.templates_current(), "can_manage": is_admin(request.user)},
    )


@admin_required
@require_http_methods(["GET", "POST"])
def template_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """Create a template, or revise one (which writes its next version)."""
    template = get_object_or_404(PostmortemTemplate, pk=pk, is_current=True) if pk else None
    initial = (
        {"name": template.name, "team": template.team, "sections": template_lines(template)}
        if template
        else {}
    )
    form = TemplateForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                if template:
                    saved = services.template_revise(
                        template=template,
                        sections=form.cleaned_data["sections"],
                        name=form.cleaned_data["name"],
                        team=form.cleaned_data["team"],
                        actor=request.user,
                    )
                else:
                    saved = services.template_create(
                        name=form.cleaned_data["name"],
                        sections=form.cleaned_data["sections"],
                        team=form.cleaned_data["team"],
                        actor=request.user,
                    )
            except ApplicationError as error:
                form.add_error(None, error.message)
                status = error.status_code
            else:
                messages.success(request, f"Saved {saved.name} v{saved.version}.")
                return redirect("postmortems:templates")
    return render(
        request,
        "postmortems/template_edit.html",
        {"form": form, "template": template},
        status=status,
    )
