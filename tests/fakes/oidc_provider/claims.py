"""What the provider says about a person: email and names, and a ``groups`` claim
(the scope of that name) listing their Django groups, as Okta or Keycloak would."""

from oidc_provider.lib.claims import ScopeClaims


def userinfo(claims, user):
    claims["email"] = user.email
    claims["email_verified"] = True
    claims["given_name"] = user.first_name
    claims["family_name"] = user.last_name
    claims["preferred_username"] = user.username
    return claims


class GroupsClaims(ScopeClaims):
    info_groups = ("Groups", "The groups you belong to.")

    def scope_groups(self):
        return {"groups": sorted(self.user.groups.values_list("name", flat=True))}
