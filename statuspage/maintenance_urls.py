from django.urls import path

from statuspage import maintenance_views as views

app_name = "maintenance"
urlpatterns = [
    path("", views.maintenance_list, name="list"),
    path("new/", views.maintenance_schedule, name="schedule"),
    path("<int:pk>/", views.maintenance_detail, name="detail"),
    path("<int:pk>/edit/", views.maintenance_edit, name="edit"),
    path("<int:pk>/updates/", views.maintenance_update_post, name="update_post"),
    path("<int:pk>/move/", views.maintenance_move, name="move"),
    path("<int:pk>/cancel/", views.maintenance_cancel, name="cancel"),
]
