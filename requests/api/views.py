"""The data-subject request API (the REST API).

Person side (REQ-1 to REQ-4, REQ-6, REQ-7, REQ-9): the caller's requests (as the person
or as the agent who filed them), a fresh SMS code, filing one's own request with it,
one request's status and public timeline, withdrawing, and downloading the export
archive (the person only). An organization's integration token may not act as the
person (403). Filing as an authorized agent and attaching evidence need a file upload
and stay on the pages for now.

Organization side (REQ-4 to REQ-6): the queue and one request through
``requests.permissions`` (``org_access``: 404 out of scope; ``handle_requests``: 403;
a request outside the administrator's subtrees: 404), and notes. The handling actions
(assign, pause, refuse, complete, …) stay on the pages in this version."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, renderers, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.authentication import token_is_personal
from accounts.models import CodePurpose
from accounts.services.codes import RateLimited, check_code, send_code
from dataprotection.api.errors import error_response
from dataprotection.api.idempotency import idempotent, will_replay
from dataprotection.api.serializers import ErrorSerializer, error_responses
from dataprotection.audit import client_ip
from organizations.api.base import OrganizationScopedMixin
from organizations.models import Member
from requests import permissions, selectors
from requests.api.serializers import (
    CodeSentSerializer,
    FileRequestSerializer,
    NoteSerializer,
    OrgEventSerializer,
    OrgRequestDetailSerializer,
    OrgRequestSummarySerializer,
    RequestDetailSerializer,
    RequestSummarySerializer,
)
from requests.models import (
    AutomatedDecision,
    DataSubjectRequest,
    ExportArchive,
)
from requests.services import filing, fulfilment, workflow
from requests.views.exports import archive_response
from requests.views.org import queue_rows

REFERENCE_PARAMETER = OpenApiParameter(
    "reference", OpenApiTypes.STR, OpenApiParameter.PATH, description="The request's reference, e.g. R-ABCDEFGH23."
)


class PersonalMixin:
    """The person's own requests: an organization's token is refused (403)."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if not token_is_personal(request):
            raise PermissionDenied(_("An organization's token cannot act as the person."))


def _conflict(message: str) -> Response:
    return error_response(status.HTTP_409_CONFLICT, "conflict", message)


# --------------------------------------------------------------------------- the person's requests


class RequestListView(PersonalMixin, generics.ListCreateAPIView):
    """REQ-4, REQ-9: the caller's requests, newest first; POST files one (REQ-1 to REQ-3)."""

    serializer_class = RequestSummarySerializer
    queryset = DataSubjectRequest.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return DataSubjectRequest.objects.none()
        return selectors.listed_requests(self.request.user)

    @extend_schema(responses={200: RequestSummarySerializer(many=True), **error_responses(400, 401, 403, 404)})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=FileRequestSerializer,
        responses={201: RequestDetailSerializer, **error_responses(400, 401, 403, 422)},
        description="REQ-1 to REQ-3: file the caller's own request, verified by the fresh SMS code from "
        "POST /api/v1/requests/code/. Nothing is written unless the code is right; a wrong code counts as a "
        "wrong guess. Evidence files and filing as an authorized agent are only on the pages for now.",
    )
    def post(self, request, *args, **kwargs):
        serializer = FileRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        user = request.user
        member = None
        if data.get("member_id") is not None:
            member = Member.objects.filter(pk=data["member_id"], user=user).select_related("organization").first()
            if member is None:
                raise serializers.ValidationError({"member_id": [_("This is not one of your roster entries.")]})
        decision = None
        if data.get("automated_decision") is not None:
            decision = AutomatedDecision.objects.filter(pk=data["automated_decision"], subject=user).first()
            if decision is None:
                raise serializers.ValidationError({"automated_decision": [_("Choose the decision.")]})
        if not will_replay(request):
            # A wrong guess is counted in a transaction of its own (check_code is durable),
            # so it is checked here, outside the idempotency transaction; a right code is
            # checked again and consumed by the filing itself.
            _check_code(user, data["code"])

        def create():
            try:
                created = filing.file_request(
                    filer=user,
                    kind=data["kind"],
                    jurisdiction=data["jurisdiction"],
                    code=data["code"],
                    member=member,
                    details=data.get("details", ""),
                    deletion_grounds=data.get("deletion_grounds") or (),
                    field=data.get("field", ""),
                    proposed_value=data.get("proposed_value", ""),
                    automated_decision=decision,
                    ip=client_ip(request),
                )
            except ValidationError as exc:
                raise _renamed(exc) from None
            return Response(_detail(request, created), status=status.HTTP_201_CREATED)

        return idempotent(create, request)


def _check_code(user, code: str) -> None:
    try:
        check_code(user.phone, CodePurpose.REVERIFY, code)
    except ValidationError as exc:
        raise serializers.ValidationError({"code": exc.messages}) from None


# The filing service names errors after the page form's fields; the API's are these.
FIELD_NAMES = {"target": "field", "purpose": "field"}


def _renamed(exc: ValidationError) -> ValidationError:
    if not hasattr(exc, "error_dict"):
        return serializers.ValidationError({"code" if exc.code in CODE_ERRORS else "non_field_errors": exc.messages})
    fields: dict[str, list[str]] = {}
    for name, errors in exc.message_dict.items():
        fields.setdefault(FIELD_NAMES.get(name, name), []).extend(errors)
    return serializers.ValidationError(fields)


CODE_ERRORS = frozenset({"no_code", "used", "expired", "exhausted", "superseded", "wrong"})


class SendCodeView(PersonalMixin, APIView):
    """REQ-3: send a fresh six-digit code to the caller's own verified number; filing a
    request needs it."""

    @extend_schema(
        request=None,
        responses={202: CodeSentSerializer, **error_responses(401, 403, 429)},
        description="Rate-limited per number and per address (429 with the reason).",
    )
    def post(self, request):
        try:
            send_code(request.user.phone, CodePurpose.REVERIFY, ip=client_ip(request), user=request.user)
        except RateLimited as exc:
            return error_response(status.HTTP_429_TOO_MANY_REQUESTS, "throttled", " ".join(exc.messages))
        return Response(
            {
                "sent_to": request.user.masked_phone,
                "expires_in_seconds": int(settings.SMS_CODE_TTL.total_seconds()),
            },
            status=status.HTTP_202_ACCEPTED,
        )


def _archive_state(archive: ExportArchive, reference: str) -> dict:
    progress = fulfilment.export_progress(archive)
    ready = progress["ready"]
    return {
        "id": archive.pk,
        **progress,
        "expires_at": archive.expires_at,
        "size": archive.size if ready else 0,
        "download_url": reverse("api-request-export-download", args=[reference, archive.pk]) if ready else "",
    }


def _detail(request, request_obj: DataSubjectRequest) -> dict:
    """REQ-4, REQ-6, REQ-7: the request, its public timeline and (for the person it is
    about, who alone downloads them) its export archives."""
    exports = []
    if request_obj.subject_id == request.user.pk:
        archives = ExportArchive.objects.filter(request=request_obj).order_by("-created_at", "-pk")
        exports = [_archive_state(archive, request_obj.reference) for archive in archives]
    context = {"request": request, "events": selectors.public_timeline(request_obj), "exports": exports}
    return RequestDetailSerializer(request_obj, context=context).data


class RequestDetailView(PersonalMixin, APIView):
    """REQ-4, REQ-6, REQ-7: one of the caller's requests (404 for anyone else)."""

    @extend_schema(
        parameters=[REFERENCE_PARAMETER], responses={200: RequestDetailSerializer, **error_responses(401, 403, 404)}
    )
    def get(self, request, reference: str):
        return Response(_detail(request, permissions.get_own_request(request.user, reference)))


class RequestWithdrawView(PersonalMixin, APIView):
    """The requester withdraws an open request; the person rejects what an agent filed
    for them (REQ-9). 409 once it is closed."""

    @extend_schema(
        parameters=[REFERENCE_PARAMETER],
        request=None,
        responses={200: RequestDetailSerializer, **error_responses(401, 403, 404, 409)},
    )
    def post(self, request, reference: str):
        request_obj = permissions.get_own_request(request.user, reference)
        try:
            filing.withdraw_request(request_obj, person=request.user, ip=client_ip(request))
        except ValidationError as exc:
            return _conflict(" ".join(exc.messages))
        return Response(_detail(request, permissions.get_own_request(request.user, reference)))


class ZipRenderer(renderers.BaseRenderer):
    media_type = "application/zip"
    format = "zip"
    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data


class ExportDownloadView(PersonalMixin, APIView):
    """REQ-7: the archive's ZIP, for the person the request is about only (404 for the
    agent and anyone else), while ready and not expired (410 after). Audited."""

    renderer_classes = [renderers.JSONRenderer, ZipRenderer]

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if isinstance(response, Response):  # an error body is JSON, whatever was accepted
            response.accepted_renderer = renderers.JSONRenderer()
            response.accepted_media_type = "application/json"
            response["Content-Type"] = "application/json"
        return response

    @extend_schema(
        parameters=[REFERENCE_PARAMETER],
        responses={
            (200, "application/zip"): OpenApiResponse(OpenApiTypes.BINARY, description="The ZIP archive."),
            **{
                (code, "application/json"): OpenApiResponse(ErrorSerializer, description=response.description)
                for code, response in error_responses(401, 403, 404, 410).items()
            },
        },
    )
    def get(self, request, reference: str, archive_id: int):
        request_obj = permissions.get_own_request(request.user, reference)
        archive = ExportArchive.objects.select_related("request").filter(pk=archive_id, request=request_obj).first()
        if archive is None:
            raise Http404
        try:
            data = fulfilment.download_export(archive, user=request.user, ip=client_ip(request))
        except fulfilment.ExportUnavailable:
            return error_response(
                status.HTTP_410_GONE,
                "gone",
                _("This archive is not available: it is not ready yet or it has expired."),
            )
        return archive_response(data, request_obj.reference)


# --------------------------------------------------------------------------- the organization's queue

QUEUE_VIEWS = ("all", "open", "due_soon", "overdue", "closed")


class QueueQuerySerializer(serializers.Serializer):
    view = serializers.ChoiceField(choices=QUEUE_VIEWS, required=False, default="all")


class OrgRequestListView(OrganizationScopedMixin, generics.ListAPIView):
    """REQ-4, REQ-5: the organization's requests this administrator handles, most
    urgent first (closed ones: latest closed first). A fixed number of queries."""

    serializer_class = OrgRequestSummarySerializer
    queryset = DataSubjectRequest.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return DataSubjectRequest.objects.none()
        query = QueueQuerySerializer(data=self.request.query_params.dict())  # "?view=" is a 400
        query.is_valid(raise_exception=True)
        view = query.validated_data["view"]
        return queue_rows(permissions.org_requests(self.access), None if view == "all" else view)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "view",
                OpenApiTypes.STR,
                enum=list(QUEUE_VIEWS),
                description="all (default), open, due_soon, overdue or closed, like the queue's tabs.",
            )
        ],
        responses={200: OrgRequestSummarySerializer(many=True), **error_responses(400, 401, 403, 404)},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


def _org_request(access, reference: str) -> DataSubjectRequest:
    """The gate of the pages (``get_org_request``), reached by the public reference."""
    pk = (
        DataSubjectRequest.objects.of_organization(access.organization.pk)
        .filter(reference=reference)
        .values_list("pk", flat=True)
        .first()
    )
    if pk is None:
        raise Http404
    return permissions.get_org_request(access, pk)


def _org_detail(request_obj: DataSubjectRequest) -> dict:
    events = request_obj.events.select_related("actor").order_by("at", "pk")
    return OrgRequestDetailSerializer(request_obj, context={"events": events}).data


class OrgRequestDetailView(OrganizationScopedMixin, APIView):
    """REQ-5, REQ-6: one request of the organization with its full timeline."""

    @extend_schema(
        parameters=[REFERENCE_PARAMETER], responses={200: OrgRequestDetailSerializer, **error_responses(401, 403, 404)}
    )
    def get(self, request, org_id: int, reference: str):
        return Response(_org_detail(_org_request(self.access, reference)))


class OrgRequestNoteView(OrganizationScopedMixin, APIView):
    """REQ-6: an internal note for the handlers, or (``to_person``) a message the person
    reads on their request."""

    @extend_schema(
        parameters=[REFERENCE_PARAMETER],
        request=NoteSerializer,
        responses={201: OrgEventSerializer, **error_responses(400, 401, 403, 404, 422)},
    )
    def post(self, request, org_id: int, reference: str):
        request_obj = _org_request(self.access, reference)
        serializer = NoteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data

        def create():
            event = workflow.add_note(
                request_obj,
                actor=request.user,
                text=data["text"],
                internal=not data["to_person"],
                ip=client_ip(request),
            )
            return Response(OrgEventSerializer(event).data, status=status.HTTP_201_CREATED)

        return idempotent(create, request)
