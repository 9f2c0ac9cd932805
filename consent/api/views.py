"""The consent app's REST API.

Personal endpoints (CON-1 to CON-5): the person's consents, their ledger and receipt,
and their privacy settings. An organization's integration token may not act as the
person (403, ``token_is_personal``).

Organization endpoints (SVC-1 to SVC-3) under /api/v1/organizations/<org_id>/services/:
the same gate as the pages (``org_access``: 404 out of scope, then ``manage_services``
on the whole organization: 403) and the same services as the page forms."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.authentication import token_is_personal
from consent.api.serializers import (
    ClosedServiceSerializer,
    ConfirmSharingSerializer,
    ConsentDecisionSerializer,
    ConsentOverviewSerializer,
    ConsentRecordSerializer,
    DeletionNoticeSerializer,
    GrantSerializer,
    PrivacySettingsSerializer,
    PurposeStateSerializer,
    ServiceStateSerializer,
)
from consent.models import PURPOSES, Channel, ConsentRecord, Purpose
from consent.models.sharing import DeletionNotice, Service, SharingGrant
from consent.selectors.privacy import consent_receipt
from consent.services import ledger, sharing
from consent.services.privacy import privacy_settings_of, set_device_permissions, set_findable_by_phone
from dataprotection.api.errors import error_response
from dataprotection.api.idempotency import idempotent
from dataprotection.api.serializers import error_responses
from dataprotection.audit import client_ip
from organizations.api.base import OrganizationScopedMixin
from organizations.models import Right

# --------------------------------------------------------------------------- personal (CON-*)


class PersonalMixin:
    """The person's own data: an organization's token is refused (403)."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if not token_is_personal(request):
            raise PermissionDenied(_("An organization's token cannot act as the person."))


def _purpose_state(purpose: str, record: ConsentRecord | None) -> dict:
    return {
        "purpose": purpose,
        "label": str(Purpose(purpose).label),
        "description": str(PURPOSES[purpose].description),
        "sensitive": PURPOSES[purpose].sensitive,
        "granted": record is not None and record.decision == "granted",
        "decision": record.decision if record else None,
        "decided_at": record.recorded_at if record else None,
        "channel": record.channel if record else None,
        "policy_version": record.policy_version.version if record and record.policy_version else None,
    }


def _current_records(user) -> dict[str, ConsentRecord]:
    """Purpose -> latest record with its policy version (one query; the same selection
    as ``ledger.current_consents``)."""
    records = ConsentRecord.objects.of_person(user).latest_per_purpose().select_related("policy_version")
    return {record.purpose: record for record in records}


class ConsentsView(PersonalMixin, APIView):
    """CON-2, CON-3: the person's current decision per purpose; POST decides one."""

    @extend_schema(responses={200: ConsentOverviewSerializer, **error_responses(401, 403)})
    def get(self, request):
        current = ledger.current_policy_version()
        records = _current_records(request.user)
        return Response(
            {
                "current_policy_version": current.pk if current else None,
                "current_policy_version_label": current.version if current else None,
                "purposes": [_purpose_state(value, records.get(value)) for value in Purpose.values],
            }
        )

    @extend_schema(
        request=ConsentDecisionSerializer,
        responses={
            200: PurposeStateSerializer,
            201: PurposeStateSerializer,
            **error_responses(400, 401, 403, 422),
        },
        description="CON-2, CON-5: grant or withdraw one purpose (channel `api`). 201 when a record was "
        "appended, 200 when the decision equals the current state (nothing written). A stale "
        "policy_version or an unknown purpose is a 400; a sensitive purpose needs `explicit: true`.",
    )
    def post(self, request):
        serializer = ConsentDecisionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data

        def create():
            # The same check as the page form: the version seen must be the current one.
            version = ledger.check_seen_policy_version(data["policy_version"])
            record = ledger.record_consent(
                user=request.user,
                purpose=data["purpose"],
                decision=data["decision"],
                channel=Channel.API,
                policy_version=version.pk if version else None,
                ip=client_ip(request),
            )
            latest = _current_records(request.user).get(data["purpose"])
            body = _purpose_state(data["purpose"], latest)
            return Response(body, status=status.HTTP_201_CREATED if record else status.HTTP_200_OK)

        return idempotent(create, request)


class ConsentHistoryView(PersonalMixin, generics.ListAPIView):
    """CON-2: the person's whole ledger, newest first (paginated)."""

    serializer_class = ConsentRecordSerializer
    queryset = ConsentRecord.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ConsentRecord.objects.none()
        return ConsentRecord.objects.of_person(self.request.user).select_related("policy_version").order_by("-pk")

    @extend_schema(responses={200: ConsentRecordSerializer(many=True), **error_responses(400, 401, 403, 404)})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class ConsentReceiptView(PersonalMixin, APIView):
    """CON-2: the machine-readable consent receipt (Kantara CR v1.1 fields) the privacy
    page downloads."""

    @extend_schema(
        responses={200: OpenApiTypes.OBJECT, **error_responses(401, 403)},
        description="The Kantara Consent Receipt v1.1 document, with the full ledger as `ledger`.",
    )
    def get(self, request):
        document = consent_receipt(
            request.user, policy_url=request.build_absolute_uri("/policies/"), language=request.LANGUAGE_CODE
        )
        return Response(document)


class PrivacySettingsView(PersonalMixin, APIView):
    """CON-3, CON-4: findable by phone number, and device permissions."""

    @staticmethod
    def _body(user) -> dict:
        row = privacy_settings_of(user)
        return {
            "findable_by_phone": row.findable_by_phone,
            "device_permissions": list(row.device_permissions),
            "updated_at": row.updated_at if row.pk else None,
        }

    @extend_schema(responses={200: PrivacySettingsSerializer, **error_responses(401, 403)})
    def get(self, request):
        return Response(PrivacySettingsSerializer(self._body(request.user)).data)

    @extend_schema(
        request=PrivacySettingsSerializer,
        responses={200: PrivacySettingsSerializer, **error_responses(400, 401, 403)},
        description="Change either setting or both (one transaction); device_permissions replaces the list.",
    )
    def patch(self, request):
        serializer = PrivacySettingsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data, ip = serializer.validated_data, client_ip(request)
        with transaction.atomic():
            if "findable_by_phone" in data:
                set_findable_by_phone(request.user, data["findable_by_phone"], ip=ip)
            if "device_permissions" in data:
                set_device_permissions(request.user, data["device_permissions"], ip=ip)
        return Response(PrivacySettingsSerializer(self._body(request.user)).data)


# --------------------------------------------------------------------------- organization services (SVC-*)


class ServicesMixin(OrganizationScopedMixin):
    """The pages' gate: services are organization-wide, so ``manage_services`` must
    hold on the whole organization (and a frozen organization holds no write right)."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if not self.access.has_whole(Right.MANAGE_SERVICES):
            raise PermissionDenied

    def get_service(self, service_id: int) -> Service:
        """A service of this organization's catalog, else 404 (as on the pages)."""
        service = Service.objects.filter(pk=service_id).select_related("organization").first()
        if service is None or not sharing.visible_to(service, self.access.organization):
            raise Http404
        return service


def _conflict(message: str) -> Response:
    return error_response(status.HTTP_409_CONFLICT, "conflict", message)


class _ServiceState:
    """``ServiceState`` with scope codes (not labels) in ``asks_for_more``."""

    def __init__(self, service, grant):
        self.service, self.grant = service, grant
        self.is_open = grant is not None and grant.status == "active"
        self.asks_for_more = sharing.added_scopes(grant) if self.is_open and sharing.needs_reconfirmation(grant) else []


class ServiceListView(ServicesMixin, generics.ListAPIView):
    """SVC-1: the organization's catalog with each service's state (two queries)."""

    serializer_class = ServiceStateSerializer
    queryset = Service.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Service.objects.none()
        return [_ServiceState(state.service, state.grant) for state in sharing.service_states(self.access.organization)]

    @extend_schema(responses={200: ServiceStateSerializer(many=True), **error_responses(400, 401, 403, 404)})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class ServiceOpenView(ServicesMixin, APIView):
    """SVC-2: open a service, confirming exactly the scopes and revision shown."""

    @extend_schema(
        request=ConfirmSharingSerializer,
        responses={201: GrantSerializer, **error_responses(400, 401, 403, 404, 409, 422)},
        description="The scopes and scopes_revision must be the catalog's current ones (a stale confirmation is "
        "a 400 and writes nothing); an open service is a 409.",
    )
    def post(self, request, org_id: int, service_id: int):
        service = self.get_service(service_id)
        if sharing.active_grant(self.access.organization, service) is not None:
            return _conflict(_("This service is already open."))
        if not service.listed:
            raise Http404
        serializer = ConfirmSharingSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data

        def create():
            try:
                grant = sharing.open_service(
                    self.access,
                    service,
                    scopes=data["scopes"],
                    scopes_revision=data["scopes_revision"],
                    ip=client_ip(request),
                )
            except ValidationError as exc:
                if exc.code == "already_open":
                    return _conflict(" ".join(exc.messages))
                raise
            return Response(GrantSerializer(grant).data, status=status.HTTP_201_CREATED)

        return idempotent(create, request)


class ServiceReconfirmView(ServicesMixin, APIView):
    """SVC-2: confirm the scopes a provider asks for now; until then it keeps receiving
    only what was confirmed before."""

    @extend_schema(
        request=ConfirmSharingSerializer,
        responses={200: GrantSerializer, **error_responses(400, 401, 403, 404, 409)},
        description="409 when the service is not open or asks for nothing new; 400 when the confirmation is stale.",
    )
    def post(self, request, org_id: int, service_id: int):
        service = self.get_service(service_id)
        grant = sharing.active_grant(self.access.organization, service)
        if grant is None:
            return _conflict(_("This service is not open."))
        if not sharing.needs_reconfirmation(grant):
            return _conflict(_("This service asks for nothing new to confirm."))
        serializer = ConfirmSharingSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            grant = sharing.reconfirm_service(
                self.access,
                grant,
                scopes=serializer.validated_data["scopes"],
                scopes_revision=serializer.validated_data["scopes_revision"],
                ip=client_ip(request),
            )
        except ValidationError as exc:
            if exc.code == "closed":
                return _conflict(" ".join(exc.messages))
            raise
        return Response(GrantSerializer(grant).data)


class ServiceCloseView(ServicesMixin, APIView):
    """SVC-3: close the service: the provider's tokens are revoked at once and a
    deletion notice is queued (retried until acknowledged)."""

    @extend_schema(
        request=None,
        responses={200: ClosedServiceSerializer, **error_responses(401, 403, 404, 409)},
        description="409 when the service is not open.",
    )
    def post(self, request, org_id: int, service_id: int):
        service = self.get_service(service_id)
        grant = sharing.active_grant(self.access.organization, service)
        if grant is None:
            return _conflict(_("This service is not open."))
        try:
            notice = sharing.close_service(self.access, grant, ip=client_ip(request))
        except ValidationError as exc:
            if exc.code == "closed":
                return _conflict(" ".join(exc.messages))
            raise
        grant = SharingGrant.objects.select_related("service", "opened_by", "closed_by").get(pk=grant.pk)
        return Response(
            {
                "grant": GrantSerializer(grant).data,
                "deletion_notice": DeletionNoticeSerializer(notice).data if notice else None,
            }
        )


class GrantListView(ServicesMixin, generics.ListAPIView):
    """SVC-3: every sharing grant of the organization (open and closed), newest first."""

    serializer_class = GrantSerializer
    queryset = SharingGrant.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return SharingGrant.objects.none()
        return (
            SharingGrant.objects.filter(organization=self.access.organization)
            .select_related("service", "opened_by", "closed_by")
            .order_by("-opened_at", "-pk")
        )

    @extend_schema(responses={200: GrantSerializer(many=True), **error_responses(400, 401, 403, 404)})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class NoticeListView(ServicesMixin, generics.ListAPIView):
    """SVC-3: the deletion notices sent on the organization's behalf and their state."""

    serializer_class = DeletionNoticeSerializer
    queryset = DeletionNotice.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return DeletionNotice.objects.none()
        return (
            DeletionNotice.objects.filter(organization=self.access.organization)
            .select_related("service")
            .order_by("-created_at", "-pk")
        )

    @extend_schema(responses={200: DeletionNoticeSerializer(many=True), **error_responses(400, 401, 403, 404)})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
