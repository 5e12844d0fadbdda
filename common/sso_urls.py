from django.urls import path

from common import sso_views

# The names are mozilla-django-oidc's: its backend reverses the callback's.
urlpatterns = [
    path("authenticate/", sso_views.SsoStartView.as_view(), name="oidc_authentication_init"),
    path("callback/", sso_views.SsoCallbackView.as_view(), name="oidc_authentication_callback"),
]
