from django.urls import path

from common import token_views

urlpatterns = [
    path("me/tokens/", token_views.my_tokens, name="my-tokens"),
    path("me/tokens/<int:pk>/revoke/", token_views.my_token_revoke, name="my-token-revoke"),
    path("settings/tokens/", token_views.all_tokens, name="all-tokens"),
    path("settings/tokens/<int:pk>/revoke/", token_views.any_token_revoke, name="any-token-revoke"),
]
