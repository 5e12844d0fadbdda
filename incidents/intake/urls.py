from django.urls import path

from incidents.intake import views

urlpatterns = [
    path("settings/alert-sources/", views.alert_sources, name="alert-sources"),
    path("settings/alert-sources/<int:pk>/", views.alert_source_detail, name="alert-source-detail"),
]
