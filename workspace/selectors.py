"""Reads of Settings: the first-run checklist, the destinations page, the Slack page."""

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db.models import Prefetch, QuerySet
from django.urls import NoReverseMatch, reverse

from incidents.models import Service
from notifications.models import Audience, ChannelPause, Destination
from statuspage.models import Component
from workspace import services, slack_credentials
from workspace.models import DestinationTestSend, SlackCheck

TEST_LOG_SIZE = 20


@dataclass(frozen=True)
class Step:
    key: str
    title: str
    done: bool
    detail: str
    url: str


def _url(name: str, fallback: str) -> str:
    """``reverse(name)``, or ``fallback`` while the page's app is not merged in yet."""
    try:
        return reverse(name)
    except NoReverseMatch:
        return fallback


def first_run_checklist() -> list[Step]:
    """What a fresh install still needs, each with where to do it (five queries)."""
    token = slack_credentials.describe()["bot_token"]
    announcement = services.announcement_destination()
    slack_done = token.is_set and announcement is not None
    email_count = Destination.objects.filter(
        kind=Destination.Kind.EMAIL, user__isnull=True, enabled=True
    ).count()
    components = Component.objects.count()
    services_count = Service.objects.count()
    people = get_user_model().objects.filter(is_active=True).count()
    return [
        Step(
            "slack",
            "Connect Slack",
            slack_done,
            f"Announcing in {announcement.name}"
            if slack_done
            else "Bot token and the channel incidents are announced in.",
            reverse("settings-slack"),
        ),
        Step(
            "email",
            "Add an email list",
            email_count > 0,
            f"{email_count} email list(s)" if email_count else "Where CS and business hear.",
            reverse("settings-destinations") + "#add",
        ),
        Step(
            "components",
            "Add status page components",
            components > 0,
            f"{components} component(s)" if components else "What customers see on /status/.",
            reverse("settings-status-page") + "#add-component",
        ),
        Step(
            "service",
            "Add a service",
            services_count > 0,
            f"{services_count} service(s)" if services_count else "What incidents affect.",
            reverse("settings-services") + "#add-service",
        ),
        Step(
            "people",
            "Invite people",
            people > 1,
            f"{people} people" if people > 1 else "Responders, CS and the business team.",
            _url("admin:auth_user_changelist", "/admin/"),
        ),
    ]


def alert_sources_url() -> str | None:
    """The alert sources page when it is part of this build."""
    try:
        return reverse("alert-sources")
    except NoReverseMatch:
        return None


def audiences_with_destinations() -> QuerySet[Audience]:
    team = Destination.objects.filter(user__isnull=True).order_by("kind", "name")
    return Audience.objects.prefetch_related(
        Prefetch("destinations", queryset=team, to_attr="team_destinations"),
        "routes",
    )


def test_sends_recent() -> QuerySet[DestinationTestSend]:
    return DestinationTestSend.objects.select_related(
        "destination__audience", "requested_by"
    ).order_by("-created_at")[:TEST_LOG_SIZE]


def channel_pause(kind: str) -> ChannelPause | None:
    return ChannelPause.objects.filter(kind=kind).first()


def slack_check_latest() -> SlackCheck | None:
    return SlackCheck.objects.select_related("requested_by").first()
