from django.urls import path

from common.url_paths import row_paths
from postmortems import apis

urlpatterns = [
    *row_paths(
        "postmortems/",
        "api-postmortem",
        {
            "list": apis.PostmortemListApi,
            "detail": apis.PostmortemDetailApi,
            "submit": apis.PostmortemSubmitApi,
            "approve": apis.PostmortemApproveApi,
            "request-changes": apis.PostmortemRequestChangesApi,
            "publish": apis.PostmortemPublishApi,
            "retro-complete": apis.PostmortemRetroCompleteApi,
        },
    ),
    path(
        "postmortems/<int:pk>/export.md",
        apis.PostmortemExportApi.as_view(),
        name="api-postmortem-export",
    ),
    *row_paths(
        "action-items/",
        "api-action-item",
        {
            "list": apis.ActionItemListApi,
            "detail": apis.ActionItemDetailApi,
            "evidence": apis.ActionItemEvidenceApi,
        },
    ),
]
