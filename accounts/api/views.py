"""The person's own account through the API: their profile and their access tokens."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services
from accounts.api import tokens
from accounts.api.authentication import token_is_personal
from accounts.api.idempotency import idempotent
from accounts.api.serializers import (
    ApiTokenCreatedSerializer,
    ApiTokenCreateSerializer,
    ApiTokenSerializer,
    MeSerializer,
)
from accounts.models import ApiToken
from dataprotection.audit import client_ip


class MeView(APIView):
    """ACC-2: read and correct one's own profile."""

    @extend_schema(responses=MeSerializer)
    def get(self, request):
        if not token_is_personal(request):
            raise PermissionDenied
        return Response(MeSerializer(request.user).data)

    @extend_schema(request=MeSerializer, responses=MeSerializer)
    def patch(self, request):
        if not token_is_personal(request):
            raise PermissionDenied
        serializer = MeSerializer(request.user, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        services.update_profile(request.user, serializer.validated_data, actor=request.user, ip=client_ip(request))
        request.user.refresh_from_db()
        return Response(MeSerializer(request.user).data)


class ApiTokenViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    """The person's tokens. Creating one needs the browser session (a token does not
    mint tokens); the secret is in the creation answer only. DELETE revokes."""

    serializer_class = ApiTokenSerializer
    queryset = ApiToken.objects.none()  # the schema's model; get_queryset scopes it

    def get_queryset(self):
        return ApiToken.objects.filter(user=self.request.user).order_by("-created_at", "-pk")

    @extend_schema(request=ApiTokenCreateSerializer, responses={201: ApiTokenCreatedSerializer})
    def create(self, request):
        if isinstance(request.auth, ApiToken):
            raise PermissionDenied(_("Create tokens while signed in, not with another token."))
        serializer = ApiTokenCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)

        def create():
            secret, token = tokens.create_api_token(request.user, ip=client_ip(request), **serializer.validated_data)
            data = ApiTokenSerializer(token).data
            return Response({**data, "secret": secret}, status=status.HTTP_201_CREATED)

        return idempotent(create, request)

    def destroy(self, request, pk=None):
        token = get_object_or_404(self.get_queryset(), pk=pk)
        tokens.revoke_api_token(token, actor=request.user, ip=client_ip(request))
        return Response(status=status.HTTP_204_NO_CONTENT)
