from django.urls import path

from common.url_paths import row_paths
from workspace import catalog_views, email_views, routing_views, status_page_views, views

urlpatterns = [
    path("", views.index, name="settings-index"),
    path("slack/", views.slack, name="settings-slack"),
    path("slack/checks/<int:pk>/", views.slack_check, name="settings-slack-check"),
    *row_paths("slack/checks/", "settings-slack-check", {"save": views.slack_check_save}),
    path("slack/channel/", views.slack_channel, name="settings-slack-channel"),
    path("slack/manifest.json", views.slack_manifest, name="settings-slack-manifest"),
    path("email/", email_views.email, name="settings-email"),
    path("email/test/", email_views.email_test, name="settings-email-test"),
    path("routing/", routing_views.routing_page, name="settings-routing"),
    path("routing/new/", routing_views.route_new, name="settings-route-new"),
    *row_paths(
        "routing/",
        "settings-route",
        {
            "edit": routing_views.route_edit,
            "active": routing_views.route_active,
            "delete": routing_views.route_delete,
        },
    ),
    path("channels/<str:kind>/resume/", views.channel_resume, name="settings-channel-resume"),
    path("destinations/", views.destinations, name="settings-destinations"),
    path("test-sends/", views.test_sends, name="settings-test-sends"),
    *row_paths(
        "destinations/",
        "settings-destination",
        {
            "edit": views.destination_edit,
            "test": views.destination_test,
            "pause": views.destination_pause,
            "resume": views.destination_resume,
            "rotate-secret": views.destination_rotate_secret,
        },
    ),
    path("status-page/", status_page_views.status_page, name="settings-status-page"),
    *row_paths(
        "status-page/components/",
        "settings-component",
        {
            "add": status_page_views.component_add,
            "edit": status_page_views.component_edit,
            "move": status_page_views.component_move,
            "remove": status_page_views.component_remove,
        },
    ),
    *row_paths(
        "status-page/groups/",
        "settings-group",
        {
            "add": status_page_views.group_add,
            "edit": status_page_views.group_edit,
            "move": status_page_views.group_move,
            "remove": status_page_views.group_remove,
        },
    ),
    path("severities/", catalog_views.severities, name="settings-severities"),
    *row_paths(
        "severities/",
        "settings-severity",
        {"edit": catalog_views.severity_edit, "move": catalog_views.severity_move},
    ),
    path("services/", catalog_views.services, name="settings-services"),
    *row_paths(
        "services/teams/",
        "settings-team",
        {
            "add": catalog_views.team_add,
            "edit": catalog_views.team_edit,
            "remove": catalog_views.team_remove,
        },
    ),
    path("services/add/", catalog_views.service_add, name="settings-service-add"),
    *row_paths(
        "services/",
        "settings-service",
        {"edit": catalog_views.service_edit, "remove": catalog_views.service_remove},
    ),
]
