"""People and keys API: an admin's token manages users and organization API keys (scope
`admin`); anyone trades email + password (+ one-time code) for a personal token."""

from datetime import timedelta

from django.conf import settings
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from apps.accounts import selectors, services
from apps.accounts.access import api_roles
from apps.accounts.models import ApiKey, Scope, User
from apps.accounts.roles import ALL_ROLES, Role

ADMIN_SCOPE = (Scope.ADMIN,)


class UserOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    name = serializers.CharField()
    role = serializers.ChoiceField(choices=Role.choices)
    is_active = serializers.BooleanField()
    has_password = serializers.SerializerMethodField()
    date_joined = serializers.DateTimeField()

    def get_has_password(self, user: User) -> bool:
        return user.has_usable_password()


class UserListApi(APIView):
    """GET lists the organization's users; POST creates one with a role (invited by email by default)."""

    # The schema documents the paginated envelope this class writes (next, previous, results).
    pagination_class = PageNumberPagination

    allowed_roles = api_roles(Role.ADMIN)
    required_scopes = ADMIN_SCOPE

    class FilterSerializer(serializers.Serializer):
        role = serializers.ChoiceField(choices=Role.choices, required=False)
        active = serializers.BooleanField(required=False, allow_null=True, default=None)

    @extend_schema(parameters=[FilterSerializer], responses=UserOutputSerializer(many=True))
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        qs = selectors.user_list(role=filters.validated_data.get("role"))
        if filters.validated_data.get("active") is not None:
            qs = qs.filter(is_active=filters.validated_data["active"])
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(UserOutputSerializer(page, many=True).data)

    class InputSerializer(serializers.Serializer):
        email = serializers.EmailField()
        name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
        role = serializers.ChoiceField(choices=Role.choices)
        send_invitation = serializers.BooleanField(default=True)
        password = serializers.CharField(required=False, write_only=True, allow_blank=False)

    @extend_schema(request=InputSerializer, responses={201: UserOutputSerializer})
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        if v.get("password"):
            user = services.user_create(
                email=v["email"],
                name=v["name"],
                role=v["role"],
                password=v["password"],
                actor=request.user,
            )
        elif v["send_invitation"]:
            user, _ = services.user_invite(
                email=v["email"], name=v["name"], role=v["role"], invited_by=request.user
            )
        else:
            user = services.user_create(
                email=v["email"], name=v["name"], role=v["role"], actor=request.user
            )
        return Response(UserOutputSerializer(user).data, status=status.HTTP_201_CREATED)


class UserDetailApi(APIView):
    allowed_roles = api_roles(Role.ADMIN)
    required_scopes = ADMIN_SCOPE

    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=150, required=False)
        role = serializers.ChoiceField(choices=Role.choices, required=False)
        is_active = serializers.BooleanField(required=False)

    @extend_schema(responses=UserOutputSerializer)
    def get(self, request, pk: int):
        return Response(UserOutputSerializer(get_object_or_404(User, pk=pk)).data)

    @extend_schema(request=InputSerializer, responses=UserOutputSerializer)
    def patch(self, request, pk: int):
        user = get_object_or_404(User, pk=pk)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_update(user=user, actor=request.user, **data.validated_data)
        return Response(UserOutputSerializer(user).data)


class UserDeactivateApi(APIView):
    allowed_roles = api_roles(Role.ADMIN)
    required_scopes = ADMIN_SCOPE

    @extend_schema(request=None, responses=UserOutputSerializer)
    def post(self, request, pk: int):
        user = services.user_update(
            user=get_object_or_404(User, pk=pk), actor=request.user, is_active=False
        )
        return Response(UserOutputSerializer(user).data)


class MeApi(APIView):
    allowed_roles = api_roles(*ALL_ROLES)

    @extend_schema(responses=UserOutputSerializer)
    def get(self, request):
        return Response(UserOutputSerializer(request.user).data)


# --- tokens and API keys ----------------------------------------------------------------


def expiry_field(**kwargs) -> serializers.IntegerField:
    return serializers.IntegerField(
        min_value=1,
        max_value=366 * 24 * 60,
        help_text="minutes until the token expires (at most 366 days)",
        **kwargs,
    )


class ApiKeyOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=ApiKey.Kind.choices)
    name = serializers.CharField()
    prefix = serializers.CharField()
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=Scope.choices))
    created_at = serializers.DateTimeField()
    created_by = serializers.IntegerField(source="created_by_id", allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)
    last_used_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)
    is_active = serializers.BooleanField()


class ApiKeyCreatedSerializer(ApiKeyOutputSerializer):
    token = serializers.CharField(help_text="the secret: shown this once, stored only hashed")


def _created(key: ApiKey, raw: str) -> Response:
    data = dict(ApiKeyOutputSerializer(key).data)
    data["token"] = raw
    return Response(data, status=status.HTTP_201_CREATED)


def _minutes(value: int | None):
    return timedelta(minutes=value) if value else services.DEFAULT_EXPIRY


class ApiKeyListApi(APIView):
    """GET lists the organization API keys (live and revoked); POST creates one (its token
    is in the answer, once). Admins, with the `admin` scope."""

    # The schema documents the paginated envelope this class writes (next, previous, results).
    pagination_class = PageNumberPagination

    allowed_roles = api_roles(Role.ADMIN)
    required_scopes = ADMIN_SCOPE

    class FilterSerializer(serializers.Serializer):
        active = serializers.BooleanField(required=False, allow_null=True, default=None)

    class ApiKeyCreateInputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=100)
        scopes = serializers.ListField(
            child=serializers.ChoiceField(choices=Scope.choices),
            required=False,
            allow_empty=False,
            help_text="read and/or write (the default: both); an integration has no other",
        )
        expires_in_minutes = expiry_field(required=False, allow_null=True)

    @extend_schema(parameters=[FilterSerializer], responses=ApiKeyOutputSerializer(many=True))
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        keys = selectors.organization_api_key_list(active=filters.validated_data.get("active"))
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(keys, request, view=self)
        return paginator.get_paginated_response(ApiKeyOutputSerializer(page, many=True).data)

    @extend_schema(request=ApiKeyCreateInputSerializer, responses={201: ApiKeyCreatedSerializer})
    def post(self, request):
        data = self.ApiKeyCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        key, raw = services.api_key_create(
            name=v["name"],
            created_by=request.user,
            scopes=v.get("scopes"),
            expires_in=_minutes(v.get("expires_in_minutes")),
        )
        return _created(key, raw)


class ApiKeyRevokeApi(APIView):
    """POST revokes an organization API key: refused from the next request on (idempotent)."""

    allowed_roles = api_roles(Role.ADMIN)
    required_scopes = ADMIN_SCOPE

    @extend_schema(request=None, responses=ApiKeyOutputSerializer)
    def post(self, request, pk: int):
        key = get_object_or_404(ApiKey, pk=pk, kind=ApiKey.Kind.ORGANIZATION)
        key = services.api_key_revoke(api_key=key, actor=request.user)
        return Response(ApiKeyOutputSerializer(key).data)


class TokenExchangeThrottle(SimpleRateThrottle):
    """TOKEN_EXCHANGE_RATE per client address and, separately, per email address."""

    scope = "token_exchange"

    def get_rate(self) -> str:
        return settings.TOKEN_EXCHANGE_RATE

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class TokenExchangeEmailThrottle(TokenExchangeThrottle):
    scope = "token_exchange_email"

    def get_cache_key(self, request, view) -> str | None:
        email = (
            str(request.data.get("email", "")).strip().lower() if hasattr(request, "data") else ""
        )
        return self.cache_format % {"scope": self.scope, "ident": email} if email else None


class TokenExchangeApi(APIView):
    """POST email + password (+ `otp`, the authenticator code, when the account uses
    two-factor) → a new personal token, shown once. Throttled per address and per email;
    no token needed. Scopes default to read and write; `sign` and `admin` must be asked
    for (and fit the role)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [TokenExchangeThrottle, TokenExchangeEmailThrottle]

    class TokenExchangeInputSerializer(serializers.Serializer):
        email = serializers.EmailField()
        password = serializers.CharField(max_length=200, trim_whitespace=False)
        otp = serializers.CharField(
            max_length=20, required=False, allow_blank=True, default="",
            help_text="current code of the authenticator app (or a recovery code)",
        )  # fmt: skip
        name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
        scopes = serializers.ListField(
            child=serializers.ChoiceField(choices=Scope.choices), required=False, allow_empty=False
        )
        expires_in_minutes = expiry_field(required=False, allow_null=True)

    @extend_schema(
        request=TokenExchangeInputSerializer,
        responses={201: ApiKeyCreatedSerializer},
        auth=[],
    )
    def post(self, request):
        data = self.TokenExchangeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        key, raw = services.token_exchange(
            email=v["email"],
            password=v["password"],
            otp=v["otp"],
            name=v["name"],
            scopes=v.get("scopes"),
            expires_in=_minutes(v.get("expires_in_minutes")),
            ip_address=request.META.get("REMOTE_ADDR"),
        )
        return _created(key, raw)
