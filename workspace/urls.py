from django.urls import path

from workspace import email_views, routing_views, views

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
]
