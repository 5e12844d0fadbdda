"""Settings pages (admins only): validate → one service call → render. A secret
entered here is never rendered back: password inputs, and afterwards only
"from environment" / "set (…last4)"."""

from django.conf import settings
from django.contrib import messages
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from common.access import admin_required
from common.exceptions import InvalidInput
from common.view_actions import form_errors_from, form_submit
from notifications.models import Destination
from workspace import manifest, selectors, services, slack_credentials
from workspace.forms import (
    AnnouncementChannelForm,
    DestinationEditForm,
    DestinationForm,
    PauseForm,
    SlackCredentialsForm,
)
from workspace.models import SlackCheck
from workspace.view_helpers import test_log


@admin_required
@require_GET
def index(request):
    return render(
        request,
        "workspace/index.html",
        {
            "steps": selectors.first_run_checklist(),
            "alert_sources_url": selectors.alert_sources_url(),
        },
    )


# ---- Slack ---------------------------------------------------------------------


def _slack_page(request, *, form=None, status=200):
    latest = selectors.slack_check_latest()
    listed = services.latest_check()
    announcement = services.announcement_destination()
    channel_form = None
    if listed is not None and listed.channels:
        channel_form = AnnouncementChannelForm(
            channels=listed.channels, current=announcement.target if announcement else ""
        )
    base = settings.KEEL_PUBLIC_URL.rstrip("/")
    return render(
        request,
        "workspace/slack.html",
        {
            "form": form or SlackCredentialsForm(),
            "credentials": slack_credentials.describe(),
            "check": latest,
            "listed": listed,
            "channel_form": channel_form,
            "announcement": announcement,
            "pause": selectors.channel_pause(Destination.Kind.SLACK),
            "command_url": base + reverse("slack:commands"),
            "interactivity_url": base + reverse("slack:interactions"),
        },
        status=status,
    )


@admin_required
@require_http_methods(["GET", "POST"])
def slack(request):
    if request.method == "GET":
        return _slack_page(request)
    return form_submit(
        request,
        SlackCredentialsForm(request.POST),
        lambda data: services.slack_check_request(
            actor=request.user, bot_token=data["bot_token"], signing_secret=data["signing_secret"]
        ),
        done="Testing the connection to Slack: the result appears below.",
        level=messages.INFO,
        then="settings-slack",
        again=lambda form, status: _slack_page(request, form=form, status=status),
    )


@admin_required
@require_GET
def slack_check(request, pk: int):
    """The check's card (HTMX polls it while the worker runs it)."""
    check = get_object_or_404(SlackCheck, pk=pk)
    response = render(request, "workspace/partials/slack_check.html", {"check": check})
    if request.htmx and check.status != SlackCheck.Status.PENDING:
        # The answer is in: reload the page, whose credentials and channel list it changed.
        response["HX-Refresh"] = "true"
    return response


@admin_required
@require_POST
def slack_check_save(request, pk: int):
    """Save a token whose check failed: the admin confirmed it; Slack stays paused."""
    check = get_object_or_404(SlackCheck, pk=pk)
    try:
        services.slack_credentials_apply(check=check, actor=request.user, confirmed=True)
    except InvalidInput as exc:
        messages.error(request, exc.message)
    else:
        messages.warning(request, "Token saved. Slack stays paused until a token passes the test.")
    return redirect("settings-slack")


@admin_required
@require_POST
def slack_channel(request):
    listed = services.latest_check()
    form = AnnouncementChannelForm(request.POST, channels=listed.channels if listed else [])
    if form.is_valid():
        try:
            destination = services.slack_announcement_channel_set(
                channel_id=form.cleaned_data["channel"], actor=request.user
            )
        except InvalidInput as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Incidents are announced in {destination.name}.")
    else:
        messages.error(request, "Choose one of the channels Slack listed.")
    return redirect("settings-slack")


@admin_required
@require_POST
def channel_resume(request, kind: str):
    if kind not in (Destination.Kind.SLACK, Destination.Kind.EMAIL, Destination.Kind.WEBHOOK):
        raise Http404
    resumed = services.channel_pause_resume(kind=kind, actor=request.user)
    messages.success(request, f"Resumed: {resumed} held message(s) go out now.")
    return redirect("settings-email" if kind == Destination.Kind.EMAIL else "settings-slack")


@admin_required
@require_GET
def slack_manifest(request):
    response = JsonResponse(manifest.slack_app_manifest(), json_dumps_params={"indent": 2})
    response["Content-Disposition"] = 'attachment; filename="keel-slack-manifest.json"'
    return response


# ---- destinations (the email page: email_views) --------------------------------


@admin_required
@require_GET
def test_sends(request):
    """The test sends log (HTMX polls it while a test is under way)."""
    return render(request, "workspace/partials/test_sends.html", test_log())


def _destinations_page(request, *, form=None, minted=None, status=200):
    return render(
        request,
        "workspace/destinations.html",
        {
            "audiences": selectors.audiences_with_destinations(),
            "form": form or DestinationForm(),
            "pause_form": PauseForm(),
            "minted": minted,
            **test_log(),
        },
        status=status,
    )


@admin_required
@require_http_methods(["GET", "POST"])
def destinations(request):
    if request.method == "GET":
        return _destinations_page(request)
    form = DestinationForm(request.POST)
    added = _destination_add(form, request.user)
    if added is None:
        return _destinations_page(request, form=form, status=400)
    destination, secret = added
    if secret:  # shown once, in this response only
        return _destinations_page(request, minted=added)
    messages.success(request, f"{destination} added.")
    return redirect("settings-destinations")


def _destination_add(form, actor):
    """The new destination and its minted secret (or ""); None: the form holds why not."""
    if not form.is_valid():
        return None
    try:
        return services.destination_add(
            audience_slug=form.cleaned_data["audience"].slug,
            kind=form.cleaned_data["kind"],
            name=form.cleaned_data["name"],
            target=form.cleaned_data["target"],
            actor=actor,
        )
    except InvalidInput as exc:
        form_errors_from(form, exc)
        return None


def _team_destination(pk: int) -> Destination:
    return get_object_or_404(Destination.objects.select_related("audience"), pk=pk, user=None)


def _back(request, default: str):
    target = request.POST.get("next", "")
    allowed = {reverse("settings-destinations"), reverse("settings-email")}
    return redirect(target if target in allowed else default)


@admin_required
@require_POST
def destination_test(request, pk: int):
    destination = _team_destination(pk)
    try:
        services.destination_test_send(destination=destination, actor=request.user)
    except InvalidInput as exc:
        messages.error(request, exc.message)
    else:
        messages.info(request, f"Test queued for {destination}: its outcome is in the log below.")
    return _back(request, "settings-destinations")


@admin_required
@require_http_methods(["GET", "POST"])
def destination_edit(request, pk: int):
    destination = _team_destination(pk)
    initial = {"name": destination.name, "target": destination.target}
    form = DestinationEditForm(request.POST or None, initial=initial, destination=destination)
    if request.method == "GET":
        return _destination_edit_page(request, destination, form)
    return form_submit(
        request,
        form,
        lambda data: services.destination_update(
            destination=destination, name=data["name"], target=data["target"], actor=request.user
        ),
        done=lambda _: f"{destination} saved.",
        then="settings-destinations",
        again=lambda form, status: _destination_edit_page(request, destination, form, status),
    )


def _destination_edit_page(request, destination, form, status=200):
    return render(
        request,
        "workspace/destination_edit.html",
        {"destination": destination, "form": form},
        status=status,
    )


@admin_required
@require_POST
def destination_pause(request, pk: int):
    destination = _team_destination(pk)
    form = PauseForm(request.POST)
    if form.is_valid():
        services.destination_pause(
            destination=destination, reason=form.cleaned_data["reason"], actor=request.user
        )
        messages.warning(request, f"{destination} paused.")
    else:
        messages.error(request, f"Reason: {' '.join(form.errors.get('reason', []))}")
    return _back(request, "settings-destinations")


@admin_required
@require_POST
def destination_resume(request, pk: int):
    destination = _team_destination(pk)
    services.destination_resume(destination=destination, actor=request.user)
    messages.success(request, f"{destination} resumed.")
    return _back(request, "settings-destinations")


@admin_required
@require_POST
def destination_rotate_secret(request, pk: int):
    destination = _team_destination(pk)
    try:
        secret = services.destination_secret_rotate(destination=destination, actor=request.user)
    except InvalidInput as exc:
        messages.error(request, exc.message)
        return redirect("settings-destinations")
    return _destinations_page(request, minted=(destination, secret))
