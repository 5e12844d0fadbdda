from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from common import preferences as common_preferences
from common import sso_views
from common import views as common_views
from incidents import search as incident_search
from incidents import views as incident_views

urlpatterns = [
    path("", incident_views.home, name="home"),
    path("login/", sso_views.KeelLoginView.as_view(), name="login"),
    path("oidc/", include("common.sso_urls")),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    # The pickers' searches serve every app's forms; the user's own preferences.
    path("search/people/", incident_search.people_search, name="search-people"),
    path("search/services/", incident_search.services_search, name="search-services"),
    path("me/preferences/", common_preferences.preferences, name="preferences"),
    path("incidents/", include("incidents.urls")),
    path("incidents/", include("notifications.urls")),
    path("api/v1/", include("incidents.api_urls")),
    path("api/v1/", include("notifications.api_urls")),
    path("postmortems/", include("postmortems.urls")),
    path("reports/", include("reports.urls")),
    path("me/", include("notifications.me_urls")),
    path("api/v1/", include("postmortems.api_urls")),
    path("maintenance/", include("statuspage.maintenance_urls")),
    path("integrations/slack/", include("notifications.slack.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's init script as a file: no inline script (CSP).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("", include("common.token_urls")),
    path("", include("common.people_urls")),
    path("settings/", include("workspace.urls")),
    path("", include("incidents.intake.urls")),
    path("", include("statuspage.urls")),
    path("healthz", common_views.healthz, name="healthz"),
    path("readyz", common_views.readyz, name="readyz"),
    path("metrics", common_views.metrics, name="metrics"),
]

handler400 = "common.views.bad_request"
handler403 = "common.views.permission_denied"
handler404 = "common.views.page_not_found"
handler500 = "common.views.server_error"
