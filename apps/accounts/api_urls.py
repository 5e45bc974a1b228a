from django.urls import path

from apps.accounts import api

urlpatterns = [
    path("me/", api.MeApi.as_view(), name="me"),
    path("users/", api.UserListApi.as_view(), name="user_list"),
    path("users/<int:pk>/", api.UserDetailApi.as_view(), name="user_detail"),
    path("users/<int:pk>/deactivate/", api.UserDeactivateApi.as_view(), name="user_deactivate"),
    path("auth/token/", api.TokenExchangeApi.as_view(), name="token_exchange"),
    path("api-keys/", api.ApiKeyListApi.as_view(), name="api_key_list"),
    path("api-keys/<int:pk>/revoke/", api.ApiKeyRevokeApi.as_view(), name="api_key_revoke"),
]
