"""The person's own account through the API: their profile and their access tokens."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api import tokens
from accounts.api.authentication import token_is_personal
from accounts.api.serializers import (
    ApiTokenCreatedSerializer,
    ApiTokenCreateSerializer,
    ApiTokenSerializer,
    MeSerializer,
)
from accounts.forms import ProfileForm
from accounts.models import ApiToken, User
from accounts.services import profile
from accounts.services.profile import locked_profile_fields
from dataprotection.api.idempotency import IDEMPOTENCY_PARAMETER, idempotent
from dataprotection.api.serializers import error_responses
from dataprotection.audit import client_ip


def require_personal(request) -> None:
    """Personal endpoints answer the person, not an organization's integration token."""
    if not token_is_personal(request):
        raise PermissionDenied(_("An organization's token cannot act as the person: use a personal token."))


def profile_form_changes(user: User, changes: dict) -> dict:
    """The profile page's own validation (ACC-2, ACC-6: birthdays, locked fields) over
    the profile as it would be after ``changes``; the changes as that form cleans them."""
    instance = User.objects.get(pk=user.pk)
    fields = [name for name in ProfileForm._meta.fields if name != "avatar"]
    data = {name: getattr(instance, name) for name in fields}
    data.update(changes)
    form = ProfileForm(
        {name: "" if value is None else value for name, value in data.items()},
        instance=instance,
        locked=locked_profile_fields(user),
    )
    del form.fields["avatar"]
    if not form.is_valid():
        raise ValidationError({name: [str(message) for message in errors] for name, errors in form.errors.items()})
    locked = sorted(name for name in changes if form.fields[name].disabled and changes[name] != getattr(user, name))
    if locked:
        raise ValidationError(
            {
                name: [_("Your organization provides this field; ask its administrators to correct it.")]
                for name in locked
            }
        )
    return {name: form.cleaned_data[name] for name in changes}


class MeView(APIView):
    """ACC-2: read and correct one's own profile."""

    serializer_class = MeSerializer

    @extend_schema(responses=MeSerializer)
    def get(self, request):
        require_personal(request)
        return Response(MeSerializer(request.user).data)

    @extend_schema(request=MeSerializer, responses={200: MeSerializer, **error_responses(400)})
    def patch(self, request):
        require_personal(request)
        serializer = MeSerializer(request.user, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        changes = profile_form_changes(request.user, dict(serializer.validated_data))
        profile.update_profile(request.user, changes, actor=request.user, ip=client_ip(request))
        request.user.refresh_from_db()
        return Response(MeSerializer(request.user).data)


class ApiTokenViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    """The person's tokens. Creating one needs the browser session (a token does not
    mint tokens); the secret is in the creation answer only. DELETE revokes."""

    serializer_class = ApiTokenSerializer
    queryset = ApiToken.objects.none()  # the schema's model; get_queryset scopes it
    lookup_value_regex = r"[0-9]+"

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        require_personal(request)

    def get_queryset(self):
        return ApiToken.objects.filter(user=self.request.user).order_by("-created_at", "-pk")

    @extend_schema(
        request=ApiTokenCreateSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={201: ApiTokenCreatedSerializer},
    )
    def create(self, request):
        # SEC-1: only a session with the second factor and a fresh proof gets here
        # (``AssurancePermission``: creating a token is a sensitive action).
        serializer = ApiTokenCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)

        def create():
            secret, token = tokens.create_api_token(
                request.user, minted_by=request.user.assurance, ip=client_ip(request), **serializer.validated_data
            )
            data = ApiTokenSerializer(token).data
            return Response({**data, "secret": secret}, status=status.HTTP_201_CREATED)

        return idempotent(create, request, redact=("secret",))

    @extend_schema(responses={204: None})
    def destroy(self, request, pk=None):
        token = get_object_or_404(self.get_queryset(), pk=pk)
        tokens.revoke_api_token(token, actor=request.user, ip=client_ip(request))
        return Response(status=status.HTTP_204_NO_CONTENT)
