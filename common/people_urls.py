from django.urls import path

from common import people_views
from common.url_paths import row_paths

urlpatterns = [
    path("settings/people/", people_views.people_page, name="people"),
    *row_paths(
        "settings/people/",
        "person",
        {
            "role": people_views.person_role,
            "deactivate": people_views.person_deactivate,
            "reactivate": people_views.person_reactivate,
        },
    ),
    *row_paths(
        "settings/people/invitations/",
        "invitation",
        {"resend": people_views.invitation_resend, "revoke": people_views.invitation_revoke},
    ),
    path("invitations/<str:token>/", people_views.invitation_accept, name="invitation-accept"),
]
