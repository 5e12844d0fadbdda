from django.urls import path

from workspace import views

urlpatterns = [
    path("", views.index, name="settings-index"),
    path("slack/", views.slack, name="settings-slack"),
    path("slack/checks/<int:pk>/", views.slack_check, name="settings-slack-check"),
    path("slack/checks/<int:pk>/save/", views.slack_check_save, name="settings-slack-check-save"),
    path("slack/channel/", views.slack_channel, name="settings-slack-channel"),
    path("slack/manifest.json", views.slack_manifest, name="settings-slack-manifest"),
    path("email/", views.email, name="settings-email"),
    path("routing/", views.routing_page, name="settings-routing"),
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
