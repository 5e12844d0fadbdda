"""Single sign-on through OpenID Connect (mozilla-django-oidc's code flow, PKCE).

Why mozilla-django-oidc rather than django-allauth: Keel needs one thing, an OIDC
relying party beside its own password login, and this library is exactly that — one
authentication backend with overridable steps, settings-only configuration, every
provider call bounded by ``OIDC_TIMEOUT``. allauth would bring its own account model
(EmailAddress, SocialAccount, SocialApp rows in the database), its own sign-in and
sign-up pages and templates: a second account system beside Django's users.

The group → role mapping (``KEEL_OIDC_*_GROUPS``) is applied at every sign-in: a
person's role follows their groups in the identity provider, created just in time on
the first sign-in. Someone whose groups give no role is refused with a plain message,
and so is a deactivated account. Both sign-ins and refusals are account events.
"""

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from common import invitations, people
from common.exceptions import Conflict
from common.people_models import AccountEvent, Role

logger = logging.getLogger(__name__)
User = get_user_model()

REFUSAL_ATTRIBUTE = "keel_sso_refusal"
USERNAME_MAX = 150


def sso_enabled() -> bool:
    """SSO is on when the client and the provider's endpoints are configured."""
    return bool(
        settings.OIDC_RP_CLIENT_ID
        and settings.OIDC_OP_AUTHORIZATION_ENDPOINT
        and settings.OIDC_OP_TOKEN_ENDPOINT
        and settings.OIDC_OP_USER_ENDPOINT
    )


def provider_name() -> str:
    return settings.KEEL_SSO_PROVIDER_NAME


def role_for_groups(groups) -> str | None:
    """The highest role ``groups`` give under ``KEEL_OIDC_*_GROUPS``; None for no role."""
    if isinstance(groups, str):
        groups = [groups]
    names = {str(group) for group in groups or [] if isinstance(group, str | int)}
    for role, allowed in (
        (Role.ADMIN, settings.KEEL_OIDC_ADMIN_GROUPS),
        (Role.RESPONDER, settings.KEEL_OIDC_RESPONDER_GROUPS),
        (Role.VIEWER, settings.KEEL_OIDC_VIEWER_GROUPS),
    ):
        if names & set(allowed):
            return role
    return None


class KeelOidcBackend(OIDCAuthenticationBackend):
    """Matches people by email (case-insensitive), creates them on first sign-in,
    sets their role from their groups at every sign-in."""

    def authenticate(self, request, **kwargs):
        if not sso_enabled():
            return None
        return super().authenticate(request, **kwargs)

    def _refuse(self, message: str, claims: dict, *, user=None) -> None:
        if self.request is not None:
            setattr(self.request, REFUSAL_ATTRIBUTE, message)
        email = str(claims.get("email") or "")[:254]
        logger.warning("sso sign-in refused email=%s reason=%s", email, message)
        people.record(
            kind=AccountEvent.Kind.SSO_REFUSED,
            source=AccountEvent.Source.SSO,
            actor=None,
            user=user,
            email=email,
            detail=message,
        )

    def verify_claims(self, claims):
        if not super().verify_claims(claims):
            self._refuse("Your identity provider did not share your email address.", claims)
            return False
        if claims.get("email_verified") is False:
            self._refuse("Your email address is not verified at your identity provider.", claims)
            return False
        if role_for_groups(claims.get(settings.KEEL_OIDC_GROUPS_CLAIM)) is None:
            self._refuse(
                "Your account is not in a group allowed to use Keel. Ask a Keel admin to "
                "add you to one of its groups at your identity provider.",
                claims,
            )
            return False
        return True

    def filter_users_by_claims(self, claims):
        email = str(claims.get("email") or "")
        if not email:
            return self.UserModel.objects.none()
        return self.UserModel.objects.filter(email__iexact=email)

    def get_username(self, claims):
        """The email's local part, or ``preferred_username``, made unique."""
        base = str(claims.get("preferred_username") or claims["email"].partition("@")[0])
        base = "".join(ch for ch in base if ch.isalnum() or ch in "@.+-_")[:140] or "user"
        candidate, suffix = base, 1
        while User.objects.filter(username__iexact=candidate).exists():
            suffix += 1
            candidate = f"{base}{suffix}"
        return candidate[:USERNAME_MAX]

    @transaction.atomic
    def create_user(self, claims):
        user = User.objects.create_user(
            username=self.get_username(claims),
            email=str(claims["email"])[:254],
            first_name=str(claims.get("given_name") or "")[:150],
            last_name=str(claims.get("family_name") or "")[:150],
        )  # no usable password: this person signs in through the provider
        people.record(
            kind=AccountEvent.Kind.CREATED,
            source=AccountEvent.Source.SSO,
            actor=None,
            user=user,
            detail="Created at the first sign-in with single sign-on",
        )
        return self._signed_in(user, claims)

    @transaction.atomic
    def update_user(self, user, claims):
        if not user.is_active:
            self._refuse("Your Keel account is deactivated.", claims, user=user)
            return None
        return self._signed_in(user, claims)

    def _signed_in(self, user, claims):
        role = role_for_groups(claims.get(settings.KEEL_OIDC_GROUPS_CLAIM))
        try:
            people.user_role_set(user=user, role=role, actor=None, source=AccountEvent.Source.SSO)
        except Conflict:
            # The groups would demote the last admin: keep them admin, and say so.
            role = Role.ADMIN
            logger.warning("sso kept the last admin user=%s an admin", user.pk)
        invitations.invitation_accept_by_sso(user=user)
        people.record(
            kind=AccountEvent.Kind.SSO_LOGIN,
            source=AccountEvent.Source.SSO,
            actor=None,
            user=user,
            detail=f"Signed in as {Role(role).label}",
        )
        return user

    def get_user(self, user_id):
        """The session's user with the profile joined; None once deactivated."""
        user = self.UserModel._default_manager.select_related("profile").filter(pk=user_id).first()
        return user if user is not None and user.is_active else None


def password_login_enabled() -> bool:
    return settings.KEEL_PASSWORD_LOGIN
