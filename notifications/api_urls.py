from django.urls import path

from common.url_paths import row_paths
from notifications import apis

urlpatterns = [
    *row_paths(
        "incidents/",
        "api-incident",
        {
            "updates": apis.IncidentUpdatesApi,
            "update-preview=updates/preview": apis.IncidentUpdatePreviewApi,
            "cadence": apis.IncidentCadenceApi,
            "deliveries": apis.IncidentDeliveriesApi,
        },
    ),
    path(
        "incidents/<int:pk>/deliveries/<uuid:delivery_id>/replay/",
        apis.DeliveryReplayApi.as_view(),
        name="api-delivery-replay",
    ),
    *row_paths("incidents/", "api-incident", {"slack-channel": apis.IncidentSlackChannelApi}),
]
