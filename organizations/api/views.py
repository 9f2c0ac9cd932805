"""The organization portal through the API (the REST API): organizations, departments (ORG-3),
administrators (ORG-9), disband (ORG-11) and the audit log (SEC-2). The roster is in
``organizations.api.members``.

Every endpoint under ``<org_id>/`` passes the same gate as the pages
(``OrganizationScopedMixin``: 404 out of scope, then ``access.require``: 403), reads
through the gate's querysets and writes through the services."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import CharField, IntegerField, OuterRef, Subquery, Value
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response

from accounts.models import ApiToken, CodePurpose
from accounts.services.codes import CodeRejected, send_code
from dataprotection import anonymization
from dataprotection.api.errors import error_response
from dataprotection.api.idempotency import idempotent
from dataprotection.api.pagination import PagePagination
from dataprotection.api.serializers import error_responses
from dataprotection.audit import client_ip
from dataprotection.models import AuditEvent, JobStatus
from organizations.api import serializers as s
from organizations.api.base import OrganizationScopedAPIView
from organizations.forms.administrators import (
    DEPARTMENTS,
    WHOLE_ORGANIZATION,
    AdministratorRightsForm,
    AppointAdministratorForm,
)
from organizations.models import (
    Administrator,
    AdministratorRole,
    Department,
    DepartmentUserObjectPermission,
    Organization,
    OrganizationStatus,
    OrganizationUserObjectPermission,
    Right,
)
from organizations.permissions import ALL_RIGHTS, WRITE_RIGHTS, OrgAccess, administered_organizations
from organizations.services import administrators as admin_services
from organizations.services import departments as department_services
from organizations.services import disband as disband_services

IDEMPOTENCY_KEY = OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=False)


def form_error(form) -> ValidationError:
    """A bound form's errors as the 400 body (``fields``: per field, its messages)."""
    return ValidationError({name: list(errors) for name, errors in form.errors.items()})


# --------------------------------------------------------------------------- organizations


def _held(role: str, status_: str, rights) -> list[str]:
    held = ALL_RIGHTS if role == AdministratorRole.OWNER else frozenset(rights)
    if status_ != OrganizationStatus.ACTIVE:
        held = held - WRITE_RIGHTS
    return sorted(held)


class OrganizationListView(generics.GenericAPIView):
    """ORG-1, ORG-9: the organizations the caller administers, with role and rights. A
    token restricted to one organization lists only it. Three queries, whatever the
    number of organizations or grants: the page count, the page (with the caller's
    role), and every grant of the caller in those organizations."""

    serializer_class = s.OrganizationSerializer
    pagination_class = PagePagination

    def get_queryset(self):
        user = self.request.user
        queryset = administered_organizations(user).annotate(
            my_role=Subquery(Administrator.objects.filter(organization=OuterRef("pk"), user=user).values("role")[:1])
        )
        token = self.request.auth
        if isinstance(token, ApiToken) and token.organization_id is not None:
            queryset = queryset.filter(pk=token.organization_id)
        return queryset.order_by("name", "pk")

    @extend_schema(operation_id="organizations_list", responses=s.OrganizationSerializer(many=True))
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        ids = [organization.pk for organization in page]
        whole = OrganizationUserObjectPermission.objects.filter(user=request.user, content_object_id__in=ids)
        subtree = DepartmentUserObjectPermission.objects.filter(
            user=request.user, content_object__organization_id__in=ids
        )
        rights: dict[int, set[str]] = {}
        grants = whole.values_list("content_object_id", "permission__codename").union(
            subtree.values_list("content_object__organization_id", "permission__codename"), all=True
        )
        for organization_id, codename in grants if ids else ():
            rights.setdefault(organization_id, set()).add(codename)
        data = [
            {
                "id": organization.pk,
                "name": organization.name,
                "kind": organization.kind,
                "edition": organization.edition,
                "status": organization.status,
                "role": organization.my_role,
                "rights": _held(organization.my_role, organization.status, rights.get(organization.pk, ())),
            }
            for organization in page
        ]
        return self.get_paginated_response(s.OrganizationSerializer(data, many=True).data)


def _organization_data(access: OrgAccess) -> dict:
    organization = access.organization
    return {
        "id": organization.pk,
        "name": organization.name,
        "kind": organization.kind,
        "edition": organization.edition,
        "status": organization.status,
        "role": access.administrator.role,
        "rights": sorted(access.rights),
        "location": organization.location,
        "industry": organization.industry,
        "staff_size": organization.staff_size,
        "data_region": organization.data_region,
        "certification_status": organization.certification_status,
        "created_at": organization.created_at,
    }


class OrganizationDetailView(OrganizationScopedAPIView):
    """ORG-1: the organization, for any of its administrators (no certification
    documents)."""

    serializer_class = s.OrganizationDetailSerializer

    def get(self, request, org_id: int):
        return Response(s.OrganizationDetailSerializer(_organization_data(self.access)).data)


# --------------------------------------------------------------------------- departments (ORG-3)


def _department_data(access: OrgAccess, department: Department) -> dict:
    return {
        "id": department.pk,
        "name": department.name,
        "parent_id": department.parent_id,
        "depth": department.depth,
        "sort_order": department.sort_order,
        "can_edit": access.covers(Right.EDIT_ROSTER, department),
    }


class DepartmentListView(OrganizationScopedAPIView):
    """ORG-3: the departments the caller may see (``view_roster`` subtrees), ordered as
    the tree (by path); adding one needs ``edit_roster`` on its parent."""

    serializer_class = s.DepartmentSerializer
    pagination_class = PagePagination

    @extend_schema(operation_id="organizations_departments_list", responses=s.DepartmentSerializer(many=True))
    def get(self, request, org_id: int):
        departments = self.access.departments(Right.VIEW_ROSTER).order_by("path", "pk")
        page = self.paginate_queryset(departments)
        return self.get_paginated_response(
            s.DepartmentSerializer([_department_data(self.access, d) for d in page], many=True).data
        )

    @extend_schema(
        request=s.DepartmentCreateSerializer,
        responses={201: s.DepartmentSerializer, **error_responses(400, 403, 404)},
        parameters=[IDEMPOTENCY_KEY],
    )
    def post(self, request, org_id: int):
        access = self.access
        access.require(Right.EDIT_ROSTER)
        serializer = s.DepartmentCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        parent = visible_department(access, serializer.validated_data.get("parent"), "parent")

        def create():
            department = department_services.create_department(
                access, name=serializer.validated_data["name"], parent=parent, ip=client_ip(request)
            )
            return Response(s.DepartmentSerializer(_department_data(access, department)).data, status=201)

        return idempotent(create, request)


def visible_department(access: OrgAccess, pk: int | None, field: str) -> Department | None:
    """A department named in a body: one the caller may see, else a 400 on ``field``."""
    if pk is None:
        return None
    department = access.departments(Right.VIEW_ROSTER).filter(pk=pk).first()
    if department is None:
        raise ValidationError({field: _("There is no such department among those you can see.")})
    return department


class DepartmentDetailView(OrganizationScopedAPIView):
    """ORG-3: one department; PATCH renames and/or moves it (with its subtree), DELETE
    removes it with its sub-departments (refused while members are placed there)."""

    serializer_class = s.DepartmentSerializer

    def get(self, request, org_id: int, department_id: int):
        department = self.access.get_department(department_id)
        return Response(s.DepartmentSerializer(_department_data(self.access, department)).data)

    @extend_schema(
        request=s.DepartmentUpdateSerializer, responses={200: s.DepartmentSerializer, **error_responses(400, 403, 404)}
    )
    def patch(self, request, org_id: int, department_id: int):
        access = self.access
        department = access.get_department(department_id, Right.EDIT_ROSTER)
        serializer = s.DepartmentUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        parent = department.parent
        if "parent" in data:
            parent = visible_department(access, data["parent"], "parent")
        department_services.update_department(
            access, department, name=data.get("name", department.name), parent=parent, ip=client_ip(request)
        )
        department.refresh_from_db()
        return Response(s.DepartmentSerializer(_department_data(access, department)).data)

    @extend_schema(responses={204: None, **error_responses(400, 403, 404)})
    def delete(self, request, org_id: int, department_id: int):
        department = self.access.get_department(department_id, Right.EDIT_ROSTER)
        department_services.delete_department(self.access, department, ip=client_ip(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


# --------------------------------------------------------------------------- administrators (ORG-9)


def _administrator_rows(access: OrgAccess, administrators: list[Administrator]) -> list[dict]:
    """Each administrator with its grants, from every grant of the listed people loaded
    in two queries and their scopes in one. Grants on departments outside the caller's
    own subtrees are counted, not shown (as on the page)."""
    user_ids = [administrator.user_id for administrator in administrators]
    pairs: dict[int, list[tuple[str, int | None, str]]] = {user_id: [] for user_id in user_ids}
    whole = OrganizationUserObjectPermission.objects.filter(
        content_object=access.organization, user_id__in=user_ids
    ).values_list(
        "user_id", "permission__codename", Value(None, output_field=IntegerField()), Value("", output_field=CharField())
    )
    subtree = DepartmentUserObjectPermission.objects.filter(
        content_object__organization=access.organization, user_id__in=user_ids
    ).values_list("user_id", "permission__codename", "content_object_id", "content_object__path")
    for user_id, codename, department_id, path in list(whole) + list(subtree):
        pairs[user_id].append((codename, department_id, path or ""))
    scopes: dict[int, list[int]] = {}
    for administrator_id, department_id in Administrator.scope.through.objects.filter(
        administrator_id__in=[administrator.pk for administrator in administrators]
    ).values_list("administrator_id", "department_id"):
        scopes.setdefault(administrator_id, []).append(department_id)
    manage = access.paths(Right.MANAGE_ADMINS)
    view = access.paths(Right.VIEW_ROSTER) if access.has(Right.VIEW_ROSTER) else ()

    def visible(path: str) -> bool:
        return any(p is None or any(path.startswith(prefix) for prefix in p) for p in (manage, view) if p != ())

    rows = []
    for administrator in administrators:
        if administrator.role == AdministratorRole.OWNER:
            grants = [{"right": right, "department": None} for right in sorted(ALL_RIGHTS)]
            hidden = 0
        else:
            shown = [pair for pair in pairs[administrator.user_id] if pair[1] is None or visible(pair[2])]
            grants = [{"right": right, "department": department} for right, department, _path in sorted(shown)]
            hidden = len(pairs[administrator.user_id]) - len(shown)
        rows.append(
            {
                "id": administrator.pk,
                "user_id": administrator.user_id,
                "user": administrator.user,
                "role": administrator.role,
                "appointed_at": administrator.appointed_at,
                "scope": sorted(scopes.get(administrator.pk, [])),
                "grants": grants,
                "grants_outside_scope": hidden,
                "editable": administrator.role == AdministratorRole.SUB_ADMIN
                and administrator.user_id != access.user.pk,
            }
        )
    return rows


def _rights_form_data(data: dict, *, phone: str | None = None) -> dict:
    departments = data.get("departments") or []
    form_data = {
        "rights": data["rights"],
        "scope": DEPARTMENTS if departments else WHOLE_ORGANIZATION,
        "departments": [str(pk) for pk in departments],
    }
    if phone is not None:
        form_data["phone"] = phone
    return form_data


def _limit_scope(access: OrgAccess, form) -> None:
    """As the page: a grantor without manage_admins on the whole organization cannot
    choose it."""
    if not access.has_whole(Right.MANAGE_ADMINS):
        field = form.fields["scope"]
        field.choices = [choice for choice in field.choices if choice[0] != WHOLE_ORGANIZATION]


class AdministratorListView(OrganizationScopedAPIView):
    """ORG-9: the administrators the caller may manage (``manage_admins``), and
    appointing one by the mobile number of their personal account. A right is granted
    only where the caller holds it and may manage administrators."""

    serializer_class = s.AdministratorSerializer
    pagination_class = PagePagination

    @extend_schema(operation_id="organizations_administrators_list", responses=s.AdministratorSerializer(many=True))
    def get(self, request, org_id: int):
        administrators = admin_services.visible_administrators(self.access).select_related("user")
        page = self.paginate_queryset(administrators.order_by("role", "appointed_at", "pk"))
        rows = _administrator_rows(self.access, page)
        return self.get_paginated_response(s.AdministratorSerializer(rows, many=True).data)

    @extend_schema(
        request=s.AppointSerializer,
        responses={201: s.AdministratorSerializer, **error_responses(400, 403, 404)},
        parameters=[IDEMPOTENCY_KEY],
    )
    def post(self, request, org_id: int):
        access = self.access
        access.require(Right.MANAGE_ADMINS)
        serializer = s.AppointSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        form = AppointAdministratorForm(
            _rights_form_data(data, phone=data["phone"]), departments=access.departments(Right.MANAGE_ADMINS)
        )
        _limit_scope(access, form)
        if not form.is_valid():
            raise form_error(form)

        def create():
            administrator = admin_services.appoint_administrator(
                access, form.person, form.cleaned_data["rights"], form.chosen_departments(), ip=client_ip(request)
            )
            administrator = Administrator.objects.select_related("user").get(pk=administrator.pk)
            row = _administrator_rows(access, [administrator])[0]
            return Response(s.AdministratorSerializer(row).data, status=status.HTTP_201_CREATED)

        return idempotent(create, request)


class AdministratorDetailView(OrganizationScopedAPIView):
    """ORG-9: one administrator; PATCH replaces its rights and/or scope; DELETE removes
    it with every grant it holds here. The owner's row and one's own: 403."""

    serializer_class = s.AdministratorSerializer

    def get(self, request, org_id: int, admin_id: int):
        administrator = admin_services.get_administrator(self.access, admin_id)
        return Response(s.AdministratorSerializer(_administrator_rows(self.access, [administrator])[0]).data)

    @extend_schema(
        request=s.AdministratorUpdateSerializer,
        responses={200: s.AdministratorSerializer, **error_responses(400, 403, 404)},
    )
    def patch(self, request, org_id: int, admin_id: int):
        access = self.access
        administrator = admin_services.get_administrator(access, admin_id)
        admin_services.require_editable(access, administrator)
        serializer = s.AdministratorUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        grants = admin_services.administrator_grants(administrator)
        data.setdefault("rights", sorted(grants.rights))
        if "departments" not in data:
            data["departments"] = (
                [] if grants.whole_organization else list(administrator.scope.values_list("pk", flat=True))
            )
        form = AdministratorRightsForm(_rights_form_data(data), departments=access.departments(Right.MANAGE_ADMINS))
        _limit_scope(access, form)
        if not form.is_valid():
            raise form_error(form)
        admin_services.update_administrator_rights(
            access, administrator, form.cleaned_data["rights"], form.chosen_departments(), ip=client_ip(request)
        )
        administrator = Administrator.objects.select_related("user").get(pk=administrator.pk)
        return Response(s.AdministratorSerializer(_administrator_rows(access, [administrator])[0]).data)

    @extend_schema(responses={204: None, **error_responses(400, 403, 404)})
    def delete(self, request, org_id: int, admin_id: int):
        administrator = admin_services.get_administrator(self.access, admin_id)
        admin_services.require_editable(self.access, administrator)
        admin_services.remove_administrator(self.access, administrator, ip=client_ip(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


# --------------------------------------------------------------------------- disband (ORG-11)


def _disband_status(organization: Organization) -> dict:
    job = disband_services.latest_disband(organization.pk)
    data = {"organization_status": organization.status, "job": None}
    if job is None:
        return data
    progress = anonymization.progress(job)
    finished = job.status in (JobStatus.COMPLETED, JobStatus.FAILED)
    data["job"] = {
        "id": job.pk,
        "status": job.status,
        "not_before": job.not_before,
        "created_at": job.created_at,
        "finished_at": job.finished_at,
        "cancelled_at": job.cancelled_at,
        "can_cancel": disband_services.in_grace_window(job),
        "progress": {
            **{key: progress[key] for key in ("status", "total", "processed", "percent", "current_stage")},
            "stages": [
                {"name": stage["name"], "total": stage["total"], "processed": stage["processed"]}
                for stage in progress["stages"]
            ],
        },
        "report": (anonymization.localized_report(job.report) or None) if finished else None,
    }
    return data


def _no_store(response: Response) -> Response:
    response["Cache-Control"] = "no-store"
    return response


class DisbandView(OrganizationScopedAPIView):
    """ORG-11, ANON-7: the owner follows the disband (GET: the latest job, its progress
    and, once over, the deletion report) and starts one (POST) with a fresh SMS code
    from ``disband/code/`` and the organization's name typed out. The organization is
    then frozen for the grace window."""

    serializer_class = s.DisbandStatusSerializer

    def get(self, request, org_id: int):
        self.access.require_owner(writing=False)
        return _no_store(Response(s.DisbandStatusSerializer(_disband_status(self.access.organization)).data))

    @extend_schema(
        request=s.DisbandStartSerializer,
        responses={202: s.DisbandStatusSerializer, **error_responses(400, 403, 404)},
        parameters=[IDEMPOTENCY_KEY],
    )
    def post(self, request, org_id: int):
        access = self.access
        access.require_owner(writing=False)
        serializer = s.DisbandStartSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)

        def create():
            try:
                disband_services.request_disband(
                    access,
                    code=serializer.validated_data["code"],
                    confirm_name=serializer.validated_data["confirm_name"],
                    ip=client_ip(request),
                )
            except CodeRejected as exc:
                raise ValidationError({"code": exc.messages}) from None
            return Response(s.DisbandStatusSerializer(_disband_status(access.organization)).data, status=202)

        return idempotent(create, request)


class DisbandCodeView(OrganizationScopedAPIView):
    """ORG-11: send the owner a fresh re-verification code for ``POST disband/``."""

    serializer_class = s.DisbandCodeSentSerializer

    @extend_schema(request=None, responses={202: s.DisbandCodeSentSerializer, **error_responses(400, 403, 404)})
    def post(self, request, org_id: int):
        self.access.require_owner(writing=False)
        send_code(request.user.phone, CodePurpose.REVERIFY, ip=client_ip(request), user=request.user)
        return Response({"sent_to": request.user.masked_phone}, status=status.HTTP_202_ACCEPTED)


class DisbandCancelView(OrganizationScopedAPIView):
    """ORG-11: the owner cancels during the grace window (409 once the cascade started
    or when there is nothing to cancel)."""

    serializer_class = s.DisbandStatusSerializer

    @extend_schema(request=None, responses={200: s.DisbandStatusSerializer, **error_responses(403, 404, 409)})
    def post(self, request, org_id: int):
        access = self.access
        access.require_owner(writing=False)
        if not disband_services.cancel_disband(access, ip=client_ip(request)):
            return error_response(
                409,
                "nothing_to_cancel",
                _("There is no disband to cancel: it was never requested or it has already started."),
            )
        return _no_store(Response(s.DisbandStatusSerializer(_disband_status(access.organization)).data))


# --------------------------------------------------------------------------- audit (SEC-2)


class AuditEventListView(OrganizationScopedAPIView):
    """SEC-2: the owner reads the organization's audit trail, newest first, 50 per page,
    filtered by action and date. Two queries after the gate: the count and the page
    with its actors."""

    serializer_class = s.AuditEventSerializer
    pagination_class = PagePagination

    @extend_schema(
        operation_id="organizations_audit_events_list",
        responses=s.AuditEventSerializer(many=True),
        parameters=[
            OpenApiParameter("action", str, description="Only events of this action, e.g. member.revealed."),
            OpenApiParameter("since", str, description="Only events at or after this ISO 8601 time."),
        ],
    )
    def get(self, request, org_id: int):
        self.access.require_owner(writing=False)
        events = AuditEvent.objects.in_organization(self.access.organization.pk)
        action = request.query_params.get("action", "")
        if len(action) > 64:
            raise ValidationError({"action": _("An action has at most 64 characters.")})
        if action:
            events = events.filter(action=action)
        since = request.query_params.get("since")
        if since:
            from django.utils.dateparse import parse_datetime

            try:
                moment = parse_datetime(since)
            except ValueError:
                moment = None
            if moment is None:
                raise ValidationError({"since": _("Write the time as ISO 8601, e.g. 2026-01-31T08:00:00Z.")})
            if timezone.is_naive(moment):
                moment = timezone.make_aware(moment)
            events = events.filter(occurred_at__gte=moment)
        page = self.paginate_queryset(events.select_related("actor").order_by("-occurred_at", "-id"))
        return self.get_paginated_response(s.AuditEventSerializer(page, many=True).data)
