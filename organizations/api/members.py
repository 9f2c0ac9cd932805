"""The roster through the API (the REST API; ORG-4 to ORG-7, ORG-10): the list with cursor
pagination and the roster page's filters, a member's details masked as on the detail
page, the audited reveal of one value, correction through the roster form and service,
a new entry and the bulk upsert through the file import's checks and writer."""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import OuterRef, Subquery
from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from dataprotection.api.errors import error_response
from dataprotection.api.idempotency import idempotent
from dataprotection.api.pagination import IdCursorPagination
from dataprotection.api.serializers import ErrorSerializer, error_responses
from dataprotection.audit import client_ip
from organizations.api import serializers as s
from organizations.api.base import OrganizationScopedAPIView
from organizations.api.views import IDEMPOTENCY_KEY, form_error, visible_department
from organizations.forms.roster import MemberEditForm
from organizations.forms.roster_import import ATTESTATION_TEXT as UPLOAD_ATTESTATION_TEXT
from organizations.models import AttestationKind, Member, MemberDepartment, MemberStatus, Right
from organizations.permissions import OrgAccess
from organizations.services import children as children_services
from organizations.services import collection
from organizations.services import roster as services
from organizations.services.lookups import member_search
from organizations.services.roster_import.upsert import ALL_OR_NOTHING, refuse_not_collected, upsert_members

LIST_COLUMNS = ("pk", "organization_id", "name", "employee_number", "position", "status", "mobile", "id_number")


# The REST API: the orders a roster list can be walked in with the cursor (ties broken by id,
# so every member appears exactly once).
ORDERINGS = ("id", "-id", "name", "-name", "employee_number", "-employee_number")


class MemberFilterSerializer(serializers.Serializer):
    q = serializers.CharField(max_length=100, required=False, allow_blank=True)
    department = serializers.IntegerField(min_value=1, required=False)
    status = serializers.ChoiceField(choices=MemberStatus.choices, required=False)
    ordering = serializers.ChoiceField(choices=[(value, value) for value in ORDERINGS], required=False)


def _text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def member_data(access: OrgAccess, member: Member, collected: frozenset[str]) -> dict:
    """ORG-4, ORG-10: the collected fields of one entry, sensitive ones masked (as the
    detail page), its placements and what the caller may do. Two queries: the
    placements and (by the caller) the collection settings."""
    placements = list(
        MemberDepartment.objects.filter(member=member).select_related("department").order_by("-is_primary", "pk")
    )
    paths = [placement.department.path for placement in placements]
    names = ("name", "mobile", *(field.name for field in collection.CATALOG))
    fields = {}
    masked = []
    for name in names:
        if name not in collected:
            continue
        if name in services.SENSITIVE_FIELDS:
            fields[name] = services.mask_value(name, getattr(member, name))
            masked.append(name)
        else:
            fields[name] = _text(getattr(member, name))
    return {
        "id": member.pk,
        "status": member.status,
        "joined": collection.has_consented(member),
        "created_at": member.created_at,
        "departments": [
            {"department": p.department_id, "name": p.department.name, "is_primary": p.is_primary} for p in placements
        ],
        "fields": fields,
        "masked_fields": masked,
        "can_edit": access.covers_member(Right.EDIT_ROSTER, paths),
        "can_reveal": access.covers_member(Right.VIEW_SENSITIVE, paths),
    }


def _refuse_not_collected(names, collected: frozenset[str]) -> None:
    """ORG-5: a field the organization does not collect cannot be written: a 400 naming it."""
    refuse_not_collected(names, collected, exempt=services.LIFECYCLE_FIELDS, label=services.label)


class MemberListView(OrganizationScopedAPIView):
    """ORG-7: the roster the caller may view (``view_roster`` subtrees), by id with a
    cursor, filtered as the roster page: ``department`` (its subtree), ``q`` (name,
    employee number, or an exact mobile or ID number through the keyed-hash digests),
    ``status``. Mobile and ID numbers masked (ORG-10). Children are never listed (SEC-3:
    no bulk access; read one at a time with ``view_children``). Queries after the gate: the
    department (when filtered) and the page -- whatever the page size, departments or
    grants. POST adds an entry (status invited) through the import's row checks."""

    serializer_class = s.MemberListSerializer
    pagination_class = IdCursorPagination

    @extend_schema(
        operation_id="organizations_members_list",
        responses=s.MemberListSerializer(many=True),
        parameters=[
            OpenApiParameter("q", str, description="Search as on the roster page."),
            OpenApiParameter("department", int, description="Only members in this department's subtree."),
            OpenApiParameter("status", str, enum=MemberStatus.values),
            OpenApiParameter("ordering", str, enum=list(ORDERINGS), description="Sort order; default id."),
        ],
    )
    def get(self, request, org_id: int):
        access = self.access
        # SEC-3: no bulk access to children's data, whatever the caller's rights: a
        # child's entry is read one at a time (audited) with ``view_children``.
        members = access.members(Right.VIEW_ROSTER, children=False)
        # A plain dict: DRF reads an empty query value as "absent"; here it is a 400.
        filters = MemberFilterSerializer(data=request.query_params.dict())
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        if "department" in data:
            department = access.departments(Right.VIEW_ROSTER).filter(pk=data["department"]).only("path").first()
            if department is None:
                raise Http404  # not a department of this organization in the caller's scope
            in_subtree = MemberDepartment.objects.filter(
                department__organization=access.organization, department__path__startswith=department.path
            ).values("member_id")
            members = members.filter(pk__in=in_subtree)
        if data.get("q"):
            members = members.filter(member_search(data["q"]))
        if data.get("status"):
            members = members.filter(status=data["status"])
        primary = MemberDepartment.objects.filter(member=OuterRef("pk"), is_primary=True).order_by("pk")
        members = members.only(*LIST_COLUMNS).annotate(
            primary_department=Subquery(primary.values("department__name")[:1])
        )
        ordering = data.get("ordering", "id")
        tie_breaker = "-id" if ordering.startswith("-") else "id"
        self.paginator.ordering = (ordering,) if ordering.lstrip("-") == "id" else (ordering, tie_breaker)
        page = self.paginate_queryset(members)
        return self.get_paginated_response(s.MemberListSerializer(page, many=True).data)

    @extend_schema(
        request=s.MemberCreateSerializer,
        responses={201: s.MemberDetailSerializer, **error_responses(400, 403, 404)},
        parameters=[IDEMPOTENCY_KEY],
    )
    def post(self, request, org_id: int):
        """ORG-6, ORG-7: a new roster entry (invited). ``mobile`` and ``name`` are
        required (the import's rules); beyond the basic fields ``attested`` must be
        true (ORG-6); sensitive fields need ``view_sensitive`` in the department."""
        access = self.access
        access.require(Right.EDIT_ROSTER)
        serializer = s.MemberCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        row = dict(serializer.validated_data)
        attested = row.pop("attested", False)
        if row.get("department") is not None:
            # As for the roster filter: a department the caller cannot see is not named;
            # one it sees without edit_roster there is a 403 (ORG-9).
            department = visible_department(access, row["department"], "department")
            if not access.covers(Right.EDIT_ROSTER, department):
                raise PermissionDenied
        collected = collection.collected_fields(access.organization)
        _refuse_not_collected([name for name in row if name != "department"], collected)
        fillable = collection.fillable_fields(collected, None, attested=attested)
        extended = sorted(
            name for name, value in row.items() if value and name != "department" and name not in fillable
        )
        if extended:
            raise ValidationError(
                {
                    "attested": _(
                        "A new member has not joined and accepted the organization's terms yet: confirm that they "
                        "gave explicit consent before you fill in %(fields)s."
                    )
                    % {"fields": ", ".join(f"“{services.label(name)}”" for name in extended)}
                }
            )

        def create():
            result = upsert_members(
                access,
                [row],
                mode=ALL_OR_NOTHING,
                attestation_text=str(services.ATTESTATION_TEXT) if attested else "",
                attestation_kind=AttestationKind.MANUAL,
                create_only=True,
                ip=client_ip(request),
            )
            if result.errors:
                fields: dict[str, list[str]] = {}
                for error in result.errors:
                    fields.setdefault(error["column"] or "non_field_errors", []).append(error["message"])
                raise ValidationError(fields)
            member = Member.objects.get(pk=result.created_ids[0])
            return Response(s.MemberDetailSerializer(member_data(access, member, collected)).data, status=201)

        return idempotent(create, request)


class MemberDetailView(OrganizationScopedAPIView):
    """ORG-4, ORG-7, ORG-10: one roster entry, sensitive values masked; PATCH corrects
    it through the roster form and ``update_member`` (collection settings, consent,
    ``view_sensitive`` for sensitive fields, one audit event)."""

    serializer_class = s.MemberDetailSerializer

    def get(self, request, org_id: int, member_id: int):
        member = self.access.get_member(member_id)
        if member.is_child:  # SEC-3: every view of a child's record is audited
            children_services.record_child_access(self.access, member, "api", ip=client_ip(request))
        collected = collection.collected_fields(self.access.organization)
        return Response(s.MemberDetailSerializer(member_data(self.access, member, collected)).data)

    @extend_schema(
        request=s.MemberWriteSerializer,
        responses={200: s.MemberDetailSerializer, **error_responses(400, 403, 404)},
    )
    def patch(self, request, org_id: int, member_id: int):
        access = self.access
        member = access.get_member(member_id, Right.EDIT_ROSTER)
        serializer = s.MemberWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        sent = dict(serializer.validated_data)
        attested = sent.pop("attested", False)
        collected = collection.collected_fields(access.organization)
        _refuse_not_collected(sent, collected)
        paths = [department.path for department in member.departments.all()]
        allow_sensitive = access.covers_member(Right.VIEW_SENSITIVE, paths)
        if not allow_sensitive and any(sent.get(name) for name in services.SENSITIVE_FIELDS):
            raise PermissionDenied
        # The form validates the whole entry: the stored values, overlaid with those sent.
        data = {
            name: _text(getattr(member, name)) or ""
            for name in services.EDITABLE_FIELDS
            if (name in collected or name in services.LIFECYCLE_FIELDS) and name not in services.SENSITIVE_FIELDS
        }
        data.update({name: "" if value is None else value for name, value in sent.items()})
        if attested:
            data["attest"] = "on"
        form = MemberEditForm(
            data,
            member=member,
            allow_sensitive=allow_sensitive,
            collected=collected,
            needs_attestation=not collection.has_consented(member),
        )
        if not form.is_valid():
            raise form_error(form)
        changes = {name: value for name, value in form.changes().items() if name in sent}
        try:
            services.update_member(
                access,
                member,
                changes,
                ip=client_ip(request),
                attested=form.attested,
                attestation_text=str(services.ATTESTATION_TEXT),
            )
        except ValidationError as exc:
            field = {"duplicate_employee_number": "employee_number", "consent_required": "attested"}.get(exc.code)
            if field is None:
                raise
            raise ValidationError({field: exc.messages}) from None
        member.refresh_from_db()
        return Response(s.MemberDetailSerializer(member_data(access, member, collected)).data)


class MemberRevealView(OrganizationScopedAPIView):
    """ORG-10: one sensitive value in clear, for an administrator holding
    ``view_sensitive`` on the member; audited as ``member.revealed`` (the field name
    only). Never cached."""

    serializer_class = s.RevealSerializer

    @extend_schema(
        request=s.RevealRequestSerializer, responses={200: s.RevealSerializer, **error_responses(400, 403, 404)}
    )
    def post(self, request, org_id: int, member_id: int):
        access = self.access
        member = access.get_member(member_id, Right.VIEW_SENSITIVE)
        serializer = s.RevealRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        field = serializer.validated_data["field"]
        if field not in collection.collected_fields(access.organization):
            raise ValidationError({"field": _("The organization does not collect this field.")})
        value = services.reveal_member_field(access, member, field, ip=client_ip(request))
        response = Response({"field": field, "value": value})
        response["Cache-Control"] = "no-store"
        return response


BULK_ANSWER = PolymorphicProxySerializer(
    component_name="BulkRefusal",
    serializers=[s.BulkReportSerializer, ErrorSerializer],
    resource_type_field_name=None,
)


class MemberBulkView(OrganizationScopedAPIView):
    """ORG-6, ORG-7: roster upsert for HR integrations, with the file import's
    checks and writer, answered at once. Rows are matched to existing entries by mobile
    number (the import's key): a match is updated (blank values keep what is stored),
    any other row is a new entry. ``all_or_nothing`` writes nothing when a row has an
    error (422 with the report); ``valid_only`` writes the valid rows (200)."""

    serializer_class = s.BulkReportSerializer

    @extend_schema(
        request=s.BulkUpsertSerializer,
        responses={
            200: s.BulkReportSerializer,
            422: OpenApiResponse(
                BULK_ANSWER,
                description="all_or_nothing and a row has an error (the report; nothing written), "
                "or the Idempotency-Key was used with another request (an error body).",
            ),
            **error_responses(400, 403, 404, 413),
        },
        parameters=[IDEMPOTENCY_KEY],
    )
    def post(self, request, org_id: int):
        access = self.access
        access.require(Right.EDIT_ROSTER)
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > limit:
            return _too_large(_("The request body is larger than %(limit)d bytes; send fewer rows per call."), limit)
        rows = request.data.get("rows") if isinstance(request.data, dict) else None
        if isinstance(rows, list) and len(rows) > s.BULK_MAX_ROWS:
            return _too_large(_("At most %(limit)d rows per call; split the roster."), s.BULK_MAX_ROWS)
        serializer = s.BulkUpsertSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data

        def create():
            result = upsert_members(
                access,
                data["rows"],
                mode=data["mode"],
                attestation_text=str(UPLOAD_ATTESTATION_TEXT),
                attestation_kind=AttestationKind.API,
                ip=client_ip(request),
            )
            refused = data["mode"] == ALL_OR_NOTHING and bool(result.errors)
            return Response(result.report(), status=422 if refused else 200)

        return idempotent(create, request)


def _too_large(message: str, limit: int) -> Response:
    return error_response(413, "too_large", message % {"limit": limit})
