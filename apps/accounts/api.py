"""Users API: an admin's token lists, creates (with role), changes and deactivates users."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts import selectors, services
from apps.accounts.access import api_roles
from apps.accounts.models import User
from apps.accounts.roles import ALL_ROLES, Role


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
