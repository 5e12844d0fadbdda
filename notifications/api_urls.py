from django.urls import path

from notifications import apis

urlpatterns = [
    path(
        "incidents/<int:pk>/updates/",
        apis.IncidentUpdatesApi.as_view(),
        name="api-incident-updates",
    ),
    path(
        "incidents/<int:pk>/updates/preview/",
        apis.IncidentUpdatePreviewApi.as_view(),
        name="api-incident-update-preview",
    ),
    path(
        "incidents/<int:pk>/cadence/",
        apis.IncidentCadenceApi.as_view(),
        name="api-incident-cadence",
    ),
    path(
        "incidents/<int:pk>/deliveries/",
        apis.IncidentDeliveriesApi.as_view(),
        name="api-incident-deliveries",
    ),
    path(
        "incidents/<int:pk>/deliveries/<uuid:delivery_id>/replay/",
        apis.DeliveryReplayApi.as_view(),
        name="api-delivery-replay",
    ),
    path(
        "incidents/<int:pk>/slack-channel/",
        apis.IncidentSlackChannelApi.as_view(),
        name="api-incident-slack-channel",
    ),
]
