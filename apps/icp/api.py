"""ICP API: read the revisions and the profile in force."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.access import api_roles
from apps.accounts.roles import ALL_ROLES
from apps.icp import selectors
from apps.icp.models import IcpRevision


class ApprovalSerializer(serializers.Serializer):
    role = serializers.CharField()
    approver = serializers.EmailField(source="approver.email", allow_null=True, default=None)
    approved_at = serializers.DateTimeField()


class PersonaSerializer(serializers.Serializer):
    role = serializers.CharField()
    goals = serializers.CharField(allow_blank=True)
    pains = serializers.CharField(allow_blank=True)
    objections = serializers.CharField(allow_blank=True)


class IcpRevisionOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.IntegerField()
    criteria = serializers.JSONField()
    triggers = serializers.ListField(child=serializers.CharField())
    pains = serializers.ListField(child=serializers.CharField())
    watering_holes = serializers.ListField(child=serializers.CharField())
    personas = PersonaSerializer(many=True)
    summary = serializers.CharField()
    author = serializers.EmailField(source="author.email", allow_null=True, default=None)
    created_at = serializers.DateTimeField()
    approvals = ApprovalSerializer(many=True, source="approvals.all")
    is_approved = serializers.SerializerMethodField()

    def get_is_approved(self, revision: IcpRevision) -> bool:
        return len({a.role for a in revision.approvals.all()}) >= 2


class IcpRevisionListApi(APIView):
    """GET lists ICP revisions, newest first."""

    # The schema documents the paginated envelope this class writes (next, previous, results).
    pagination_class = PageNumberPagination

    allowed_roles = api_roles(*ALL_ROLES, integration=True)

    @extend_schema(responses=IcpRevisionOutputSerializer(many=True))
    def get(self, request):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(selectors.icp_revision_list(), request, view=self)
        return paginator.get_paginated_response(IcpRevisionOutputSerializer(page, many=True).data)


class IcpRevisionDetailApi(APIView):
    allowed_roles = api_roles(*ALL_ROLES, integration=True)

    @extend_schema(responses=IcpRevisionOutputSerializer)
    def get(self, request, pk: int):
        revision = get_object_or_404(selectors.icp_revision_list(), pk=pk)
        return Response(IcpRevisionOutputSerializer(revision).data)


class IcpCurrentApi(APIView):
    """GET the revision in force: the newest one both leaders approved, else the newest."""

    allowed_roles = api_roles(*ALL_ROLES, integration=True)

    @extend_schema(responses=IcpRevisionOutputSerializer)
    def get(self, request):
        current = selectors.icp_current()
        if current is None:
            raise NotFound("No ICP revision yet.")
        revision = selectors.icp_revision_list().get(pk=current.pk)
        return Response(IcpRevisionOutputSerializer(revision).data)
