from django.urls import path

from workspace import catalog_views, email_views, routing_views, status_page_views, views

urlpatterns = [
    path("", views.index, name="settings-index"),
    path("slack/", views.slack, name="settings-slack"),
    path("slack/checks/<int:pk>/", views.slack_check, name="settings-slack-check"),
    path("slack/checks/<int:pk>/save/", views.slack_check_save, name="settings-slack-check-save"),
    path("slack/channel/", views.slack_channel, name="settings-slack-channel"),
    path("slack/manifest.json", views.slack_manifest, name="settings-slack-manifest"),
    path("email/", email_views.email, name="settings-email"),
    path("email/test/", email_views.email_test, name="settings-email-test"),
    path("routing/", routing_views.routing_page, name="settings-routing"),
    path("routing/new/", routing_views.route_new, name="settings-route-new"),
    path("routing/<int:pk>/", routing_views.route_edit, name="settings-route-edit"),
    path("routing/<int:pk>/active/", routing_views.route_active, name="settings-route-active"),
    path("routing/<int:pk>/delete/", routing_views.route_delete, name="settings-route-delete"),
    path("channels/<str:kind>/resume/", views.channel_resume, name="settings-channel-resume"),
    path("destinations/", views.destinations, name="settings-destinations"),
    path("test-sends/", views.test_sends, name="settings-test-sends"),
    path("destinations/<int:pk>/", views.destination_edit, name="settings-destination-edit"),
    path("destinations/<int:pk>/test/", views.destination_test, name="settings-destination-test"),
    path(
        "destinations/<int:pk>/pause/", views.destination_pause, name="settings-destination-pause"
    ),
    path(
        "destinations/<int:pk>/resume/",
        views.destination_resume,
        name="settings-destination-resume",
    ),
    path(
        "destinations/<int:pk>/rotate-secret/",
        views.destination_rotate_secret,
        name="settings-destination-rotate-secret",
    ),
    path("status-page/", status_page_views.status_page, name="settings-status-page"),
    path("status-page/components/", status_page_views.component_add, name="settings-component-add"),
    path(
        "status-page/components/<int:pk>/",
        status_page_views.component_edit,
        name="settings-component-edit",
    ),
    path(
        "status-page/components/<int:pk>/move/",
        status_page_views.component_move,
        name="settings-component-move",
    ),
    path(
        "status-page/components/<int:pk>/remove/",
        status_page_views.component_remove,
        name="settings-component-remove",
    ),
    path("status-page/groups/", status_page_views.group_add, name="settings-group-add"),
    path("status-page/groups/<int:pk>/", status_page_views.group_edit, name="settings-group-edit"),
    path(
        "status-page/groups/<int:pk>/move/",
        status_page_views.group_move,
        name="settings-group-move",
    ),
    path(
        "status-page/groups/<int:pk>/remove/",
        status_page_views.group_remove,
        name="settings-group-remove",
    ),
    path("severities/", catalog_views.severities, name="settings-severities"),
    path("severities/<int:pk>/", catalog_views.severity_edit, name="settings-severity-edit"),
    path("severities/<int:pk>/move/", catalog_views.severity_move, name="settings-severity-move"),
    path("services/", catalog_views.services, name="settings-services"),
    path("services/teams/", catalog_views.team_add, name="settings-team-add"),
    path("services/teams/<int:pk>/", catalog_views.team_edit, name="settings-team-edit"),
    path("services/teams/<int:pk>/remove/", catalog_views.team_remove, name="settings-team-remove"),
    path("services/add/", catalog_views.service_add, name="settings-service-add"),
    path("services/<int:pk>/", catalog_views.service_edit, name="settings-service-edit"),
    path("services/<int:pk>/remove/", catalog_views.service_remove, name="settings-service-remove"),
]
