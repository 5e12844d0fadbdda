from django.urls import path

from common import people_views

urlpatterns = [
    path("settings/people/", people_views.people_page, name="people"),
    path("settings/people/<int:pk>/role/", people_views.person_role, name="person-role"),
    path(
        "settings/people/<int:pk>/deactivate/",
        people_views.person_deactivate,
        name="person-deactivate",
    ),
    path(
        "settings/people/<int:pk>/reactivate/",
        people_views.person_reactivate,
        name="person-reactivate",
    ),
    path(
        "settings/people/invitations/<int:pk>/resend/",
        people_views.invitation_resend,
        name="invitation-resend",
    ),
    path(
        "settings/people/invitations/<int:pk>/revoke/",
        people_views.invitation_revoke,
        name="invitation-revoke",
    ),
    path("invitations/<str:token>/", people_views.invitation_accept, name="invitation-accept"),
]
