from django.urls import path

from notifications import views

app_name = "communications"

urlpatterns = [
    path("<int:pk>/communications/", views.communications, name="page"),
    path("<int:pk>/communications/updates/", views.update_post, name="update_post"),
    path("<int:pk>/communications/updates/preview/", views.update_preview, name="update_preview"),
    path(
        "<int:pk>/communications/deliveries/<uuid:delivery_id>/replay/",
        views.delivery_replay,
        name="replay",
    ),
]
