from django.urls import path, re_path

from statuspage import apis, live_views, views

urlpatterns = [
    path("status/", views.status_file, {"path": ""}, name="status"),
    path("status/subscriptions/", views.subscribe, name="status-subscribe"),
    path("status/subscriptions/confirm/<str:token>/", views.confirm, name="status-confirm"),
    path("status/subscriptions/manage/<str:token>/", views.manage, name="status-manage"),
    path(
        "status/subscriptions/unsubscribe/<str:token>/",
        views.unsubscribe,
        name="status-unsubscribe",
    ),
    path("cs/", views.cs_brief, name="cs-brief"),
    path("cs/live/", live_views.cs_state, name="cs-live"),
    path("cs/live/stream/", live_views.cs_stream, name="cs-live-stream"),
    re_path(r"^status/(?P<path>[\w./-]+)$", views.status_file, name="status-file"),
    # Before the snapshot's files: the one /api/v2/ path that writes.
    path(
        "api/v2/subscribers.json",
        apis.SubscribersApi.as_view(),
        name="statuspage-subscribers",
    ),
    re_path(r"^api/v2/(?P<path>[\w/-]+\.json)$", views.api_file, name="statuspage-api"),
]
