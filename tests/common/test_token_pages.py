"""/me/tokens/ and /settings/tokens/: mint (key shown once), list, revoke, with
history rows; the key never appears again — in pages, logs, history or rows —;
and mint_token's --scope and --kind."""

import io
import logging
import re

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from common.models import ApiToken
from common.tokens import api_token_create
from tests.factories.incidents import UserFactory

MINE = "/me/tokens/"
ALL = "/settings/tokens/"


def _minted_key(response) -> str:
    match = re.search(r'id="minted-key"[^>]*value="([^"]+)"', response.content.decode())
    assert match, "the page shows the minted key"
    return match.group(1)


def _mint(client, **data):
    body = {"name": "deploy script", "scopes": ["read", "write"], "expires_in": "30", **data}
    return client.post(MINE, body)


def test_a_user_mints_a_token_and_sees_its_key_once(client, responder):
    client.force_login(responder)
    response = _mint(client)
    assert response.status_code == 200
    assert "no-store" in response.headers["Cache-Control"]
    key = _minted_key(response)
    token = ApiToken.objects.get(user=responder)
    assert token.prefix == key[:12] and token.scope_list == ["read", "write"]
    assert token.kind == "personal" and token.created_by == responder
    assert token.expires_at is not None
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert api.get("/api/v1/incidents/").status_code == 200

    listing = client.get(MINE).content.decode()
    assert key not in listing and f"{token.prefix}…" in listing
    created = token.history.get()
    assert created.history_user == responder and created.history_change_reason == "token created"


def test_the_list_shows_mine_only_with_scopes_last_use_and_expiry(client, responder, viewer):
    api_token_create(user=responder, name="mine", actor=responder, scopes=["intake"])
    api_token_create(user=viewer, name="someone else's", actor=viewer)
    client.force_login(responder)
    page = client.get(MINE).content.decode()
    assert "mine" in page and "someone else" not in page
    assert '<span class="tag">intake</span>' in page
    assert "Last used" in page and "Expires" in page


@pytest.mark.parametrize(
    "data, field",
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "two\nlines"}, "name"),
        ({"scopes": []}, "scopes"),
        ({"scopes": ["admin"]}, "scopes"),
        ({"expires_in": "9999"}, "expires_in"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_mints_nothing(client, responder, data, field):
    client.force_login(responder)
    response = _mint(client, **data)
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert 'id="minted-key"' not in response.content.decode()
    assert not ApiToken.objects.exists()


def test_revoking_my_token_writes_its_history_and_refuses_the_key(client, responder):
    token, key = api_token_create(user=responder, name="ci", actor=responder)
    client.force_login(responder)
    response = client.post(f"{MINE}{token.pk}/revoke/")
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.state == "revoked" and token.revoked_by == responder
    revoked = token.history.order_by("history_date").last()
    assert revoked.history_change_reason == "token revoked" and revoked.history_user == responder
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/v1/incidents/").status_code == 401


def test_nobody_revokes_another_users_token_from_their_own_page(client, responder, viewer):
    token, _ = api_token_create(user=viewer, name="victor's", actor=viewer)
    client.force_login(responder)
    assert client.post(f"{MINE}{token.pk}/revoke/").status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_only_admins_see_every_token(client, responder):
    client.force_login(responder)
    assert client.get(ALL).status_code == 403
    assert client.post(ALL, {"name": "x"}).status_code == 403


def test_an_admin_mints_an_integration_token_for_a_service_user_and_revokes_any(
    client, admin_user, responder
):
    service = UserFactory(username="alertmanager", role="responder")
    other, _ = api_token_create(user=responder, name="rita's", actor=responder)
    client.force_login(admin_user)
    page = client.get(ALL).content.decode()
    assert "rita&#x27;s" in page or "rita's" in page
    response = client.post(
        ALL,
        {
            "user": service.pk,
            "kind": "integration",
            "name": "Alertmanager",
            "scopes": ["intake"],
            "expires_in": "never",
        },
    )
    assert response.status_code == 200
    key = _minted_key(response)
    token = ApiToken.objects.get(user=service)
    assert (token.kind, token.scope_list, token.expires_at) == ("integration", ["intake"], None)
    assert token.history.get().history_user == admin_user

    assert client.post(f"{ALL}{other.pk}/revoke/").status_code == 302
    other.refresh_from_db()
    assert other.revoked_by == admin_user
    assert key not in client.get(ALL).content.decode()


def test_the_key_never_appears_after_the_minting_response(client, admin_user, caplog):
    """A marker test: after the one response that shows it, the key is in no page,
    log line, history row or database row."""
    caplog.set_level(logging.DEBUG)
    client.force_login(admin_user)
    key = _minted_key(_mint(client, name="marker"))
    token = ApiToken.objects.get(prefix=key[:12])
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert api.get("/api/v1/incidents/").status_code == 200
    client.post(f"{MINE}{token.pk}/revoke/")
    api.get("/api/v1/incidents/")  # refused: logged with the prefix only

    pages = [
        client.get(MINE),
        client.get(ALL),
        client.get("/admin/common/apitoken/"),
        client.get(f"/admin/common/apitoken/{token.pk}/change/"),
        client.get(f"/admin/common/apitoken/{token.pk}/history/"),
    ]
    for page in pages:
        assert page.status_code == 200
        assert key not in page.content.decode()
    assert key not in caplog.text and key[12:] not in caplog.text
    assert token.prefix in caplog.text
    for row in token.history.values():
        assert all(key not in str(value) for value in row.values())
    assert all(key not in str(value) for value in ApiToken.objects.values().get().values())


def test_mint_token_takes_scopes_and_kind(db):
    UserFactory(username="alertmanager", role="responder")
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "mint_token",
        "alertmanager",
        "--name",
        "am",
        "--scope",
        "intake",
        "--kind",
        "integration",
        stdout=out,
        stderr=err,
    )
    token = ApiToken.objects.get()
    assert (token.scope_list, token.kind) == (["intake"], "integration")
    assert "scopes intake" in err.getvalue() and out.getvalue().strip().startswith("keel_")


def test_mint_token_defaults_to_read_write_and_refuses_unknown_scopes(db):
    UserFactory(username="cli", role="responder")
    call_command("mint_token", "cli", stdout=io.StringIO(), stderr=io.StringIO())
    assert ApiToken.objects.get().scope_list == ["read", "write"]
    with pytest.raises(CommandError, match="--scope: Unknown scope admin"):
        call_command("mint_token", "cli", "--scope", "read,admin", stdout=io.StringIO())
