"""The token pages: ``/me/tokens/`` (mine) and ``/settings/tokens/`` (every token, admins).

A minted key is rendered once, in the response to the POST that minted it (with
``Cache-Control: no-store``), never put in a message, a redirect, a log line or a
history row; afterwards only its prefix is shown.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_http_methods, require_POST

from common import tokens
from common.access import admin_required
from common.exceptions import InvalidInput
from common.token_forms import AdminTokenCreateForm, TokenCreateForm


def _create(request, form, *, user, kind):
    """Mint from a valid form; an error the service raises goes on its field."""
    try:
        return tokens.api_token_create(
            user=user,
            name=form.cleaned_data["name"],
            scopes=form.cleaned_data["scopes"],
            kind=kind,
            expires_at=form.expires_at(),
            actor=request.user,
        )
    except InvalidInput as exc:
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        return None, None


def _page(request, *, form, token_list, admin: bool, minted=None, status=200):
    page = Paginator(token_list, 50).get_page(request.GET.get("page"))
    response = render(
        request,
        "common/tokens.html",
        {
            "form": form,
            "page": page,
            "admin_view": admin,
            "minted_token": minted[0] if minted else None,
            "minted_key": minted[1] if minted else None,
        },
        status=status,
    )
    add_never_cache_headers(response)  # a page that may hold a key is never cached
    return response


@login_required
@require_http_methods(["GET", "POST"])
def my_tokens(request):
    """List my tokens; POST mints one for me (personal) and shows its key once."""
    form = TokenCreateForm(request.POST or None)
    minted = None
    if request.method == "POST" and form.is_valid():
        token, key = _create(request, form, user=request.user, kind="personal")
        if token is not None:
            minted, form = (token, key), TokenCreateForm()
    status = 400 if request.method == "POST" and minted is None else 200
    listed = tokens.api_tokens_of(user=request.user)
    return _page(request, form=form, token_list=listed, admin=False, minted=minted, status=status)


@login_required
@require_POST
def my_token_revoke(request, pk: int):
    token = get_object_or_404(tokens.api_tokens_of(user=request.user), pk=pk)
    tokens.api_token_revoke(token=token, actor=request.user)
    messages.success(request, f"Revoked token {token.prefix}… ({token.name}).")
    return redirect("my-tokens")


@admin_required
@require_http_methods(["GET", "POST"])
def all_tokens(request):
    """Every token (admins); POST mints one for any active user."""
    form = AdminTokenCreateForm(request.POST or None)
    minted = None
    if request.method == "POST" and form.is_valid():
        user = form.cleaned_data["user"]
        token, key = _create(request, form, user=user, kind=form.cleaned_data["kind"])
        if token is not None:
            minted, form = (token, key), AdminTokenCreateForm()
    status = 400 if request.method == "POST" and minted is None else 200
    listed = tokens.api_tokens_all()
    return _page(request, form=form, token_list=listed, admin=True, minted=minted, status=status)


@admin_required
@require_POST
def any_token_revoke(request, pk: int):
    token = get_object_or_404(tokens.api_tokens_all(), pk=pk)
    tokens.api_token_revoke(token=token, actor=request.user)
    messages.success(request, f"Revoked token {token.prefix}… ({token.name}) of {token.user}.")
    return redirect("all-tokens")
