"""The sign-in page (password and/or SSO) and the two OIDC endpoints: start (to the
provider) and callback (back from it). Refusals come back to the sign-in page with a
plain message."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.http import Http404
from django.shortcuts import render
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from common import sso

PASSWORD_OFF_MESSAGE = "Password sign-in is turned off here: sign in with {provider}."


def login_context() -> dict:
    return {
        "sso_enabled": sso.sso_enabled(),
        "sso_provider_name": sso.provider_name(),
        "password_login": settings.KEEL_PASSWORD_LOGIN,
    }


class KeelLoginView(auth_views.LoginView):
    """Django's sign-in, offering SSO beside the password when configured; with
    ``KEEL_PASSWORD_LOGIN`` off it shows only SSO and refuses a posted password
    (the backend refuses it as well, for every other password form)."""

    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), **login_context()}

    def post(self, request, *args, **kwargs):
        if not settings.KEEL_PASSWORD_LOGIN:
            message = PASSWORD_OFF_MESSAGE.format(provider=sso.provider_name())
            context = {**login_context(), "refusal": message, "next": request.POST.get("next", "")}
            return render(request, "registration/login.html", context, status=403)
        return super().post(request, *args, **kwargs)


class SsoStartView(OIDCAuthenticationRequestView):
    """To the provider's authorization endpoint (state, nonce, PKCE in the session)."""

    def get(self, request):
        if not sso.sso_enabled():
            raise Http404("Single sign-on is not configured.")
        return super().get(request)


class SsoCallbackView(OIDCAuthenticationCallbackView):
    def get(self, request):
        if not sso.sso_enabled():
            raise Http404("Single sign-on is not configured.")
        return super().get(request)

    def login_failure(self):
        refusal = getattr(self.request, sso.REFUSAL_ATTRIBUTE, None)
        messages.error(
            self.request,
            refusal
            or f"Signing in with {sso.provider_name()} did not work. Try again, or ask a "
            "Keel admin.",
        )
        return super().login_failure()
