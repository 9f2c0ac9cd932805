"""Roster pages (ORG-4, ORG-7, ORG-10): the list with search, department filter and
pagination; a member's details with sensitive values masked; the audited reveal of one
value; and the correction form.

Every view starts at the permission gate (``org_access``): 404 out of scope, 403 in
scope without the right. Lists are filtered by the gate's querysets, never per row, and
cost a constant number of queries whatever the page size, department count or grants.
"""

from __future__ import annotations

from datetime import date

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from dataprotection.audit import client_ip
from dataprotection.masking import mask_phone
from organizations.collection import CATALOG, GROUPS, collected_fields, has_consented
from organizations.forms.roster import PAGE_SIZE, MemberEditForm, RosterFilterForm
from organizations.lookups import member_search
from organizations.models import (
    ApprovalRecord,
    AttendancePunch,
    BiometricTemplate,
    DriveFile,
    ExternalContactCard,
    FamilyContact,
    Member,
    MemberDepartment,
    OrganizationKind,
    Right,
    ScheduleEntry,
    WorkLog,
)
from organizations.permissions import OrgAccess, org_access
from organizations.services import children as children_services
from organizations.services import roster as services
from organizations.views.common import render_org


def page_window(queryset, page: int, size: int = PAGE_SIZE) -> tuple[list, bool]:
    """One page of ``queryset`` and whether another follows, in one query: fetch one
    row more than the page instead of counting a roster of 100k members."""
    offset = (page - 1) * size
    rows = list(queryset[offset : offset + size + 1])
    return rows[:size], len(rows) > size


def roster_page(members: QuerySet[Member], page: int, size: int = PAGE_SIZE, child_cutoff=None) -> QuerySet[Member]:
    """The members of one roster page (one row more, to know whether another follows),
    ordered by name along the ``member_org_name`` index, with each one's primary
    department name.

    The page is chosen in an inner subquery that reads only the index and the filters;
    the per-row work -- the department subquery, the encrypted columns -- is done for
    the rows of that page only. Annotating the outer list directly would make the
    database evaluate the department subquery for every row an OFFSET skips (on
    PostgreSQL, page 500 of 100k members went from ~145 ms to the cost of the scan).
    With ``child_cutoff`` each row also carries ``is_child`` (SEC-3), computed by the
    database for the rows of the page only."""
    offset = (page - 1) * size
    window = members.order_by("name", "pk").values("pk")[offset : offset + size + 1]
    primary_department = MemberDepartment.objects.filter(member=OuterRef("pk"), is_primary=True).order_by("pk")
    rows = (
        Member.objects.filter(pk__in=window)
        .defer("bank_card")
        .annotate(primary_department=Subquery(primary_department.values("department__name")[:1]))
        .order_by("name", "pk")
    )
    return rows.with_child_flag(child_cutoff) if child_cutoff is not None else rows


@login_required
@require_GET
def roster_list(request: HttpRequest, org_id: int) -> HttpResponse:
    """ORG-7: the roster the administrator may view, searchable and filterable by
    department subtree, 50 per page, sensitive columns masked (ORG-10).

    Queries (after the session and user): the administrator row, the grants (sub-
    administrators only), the departments in scope, the page of members with each one's
    primary department name as a subquery -- nothing per row."""
    access = org_access(request.user, org_id)
    members = access.members(Right.VIEW_ROSTER)
    departments = list(access.departments(Right.VIEW_ROSTER).only("pk", "name", "path", "depth"))
    form = RosterFilterForm(request.GET)
    form.is_valid()
    if "department" in form.errors:
        raise Http404
    query = form.cleaned_data.get("q") or ""
    department = None
    department_id = form.cleaned_data.get("department")
    if department_id is not None:
        department = next((d for d in departments if d.pk == department_id), None)
        if department is None:
            raise Http404  # not a department of this organization in the administrator's scope
        in_subtree = MemberDepartment.objects.filter(
            department__organization=access.organization, department__path__startswith=department.path
        ).values("member_id")
        members = members.filter(pk__in=in_subtree)
    if query:
        members = members.filter(member_search(query))
    page = form.cleaned_data.get("page") or 1
    rows, has_next = page_window(roster_page(members, page, child_cutoff=access.child_cutoff), 1)
    top_depth = min((d.depth for d in departments), default=0)
    department_choices = [(d.pk, "\u2003" * (d.depth - top_depth) + d.name) for d in departments]
    return render_org(
        request,
        "organizations/roster/list.html",
        access,
        {
            "section": "roster",
            "form": form,
            "query": query,
            "department": department,
            "department_choices": department_choices,
            "members": rows,
            "page": page,
            "has_previous": page > 1,
            "has_next": has_next,
            "first_index": (page - 1) * PAGE_SIZE + 1,
            "can_view_children": Right.VIEW_CHILDREN in access.rights,
        },
    )


ACTIVITY_LIMIT = 5  # latest records of each kind shown on the detail page


def _activity_kinds(member: Member, is_school: bool) -> list[tuple[str, object, str, QuerySet]]:
    """(key, title, foreign key, latest records) per kind of ORG-4 activity record. Each
    queryset loads only the columns the page shows: the biometric template and the
    contact cards' phone numbers are never read."""
    kinds = [
        (
            "punches",
            _("Attendance punches"),
            "member",
            AttendancePunch.objects.filter(member=member)
            .only("pk", "member_id", "punched_at", "kind", "address")
            .order_by("-punched_at", "-pk"),
        ),
        (
            "approvals",
            _("Approvals"),
            "applicant",
            ApprovalRecord.objects.filter(applicant=member)
            .only("pk", "applicant_id", "kind", "title", "status", "submitted_at")
            .order_by("-submitted_at", "-pk"),
        ),
        (
            "work_logs",
            _("Work logs"),
            "member",
            WorkLog.objects.filter(member=member).only("pk", "member_id", "day", "content").order_by("-day", "-pk"),
        ),
        (
            "schedule",
            _("Schedule entries"),
            "member",
            ScheduleEntry.objects.filter(member=member)
            .only("pk", "member_id", "title", "location", "starts_at", "ends_at")
            .order_by("-starts_at", "-pk"),
        ),
        (
            "drive_files",
            _("Drive files"),
            "owner",
            DriveFile.objects.filter(owner=member)
            .only("pk", "owner_id", "name", "content_type", "size", "uploaded_at")
            .order_by("-uploaded_at", "-pk"),
        ),
        (
            "contact_cards",
            _("External contact cards"),
            "owner",
            ExternalContactCard.objects.filter(owner=member)
            .only("pk", "owner_id", "name", "company", "title", "email", "created_at")
            .order_by("-created_at", "-pk"),
        ),
        (
            "biometrics",
            _("Biometric templates"),
            "member",
            BiometricTemplate.objects.filter(member=member)
            .only("pk", "member_id", "kind", "enrolled_at")
            .order_by("-enrolled_at", "-pk"),
        ),
    ]
    if is_school:
        kinds.append(
            (
                "family_contacts",
                _("Family contacts"),
                "student",
                FamilyContact.objects.filter(student=member)
                .only("pk", "student_id", "name", "relation", "phone")
                .order_by("pk"),
            )
        )
    return kinds


def member_activity(member: Member, is_school: bool) -> list[dict]:
    """ORG-4 activity records of one member: the count of each kind in one aggregate
    query, then the latest ``ACTIVITY_LIMIT`` of each kind in one query per kind --
    constant, however many records the member has."""
    kinds = _activity_kinds(member, is_school)
    counts = (
        Member.objects.filter(pk=member.pk)
        .values(
            **{
                f"count_{key}": Coalesce(
                    Subquery(
                        queryset.model.objects.filter(**{fk: OuterRef("pk")})
                        .order_by()
                        .values(fk)
                        .annotate(n=Count("pk"))
                        .values("n")
                    ),
                    0,
                )
                for key, _title, fk, queryset in kinds
            }
        )
        .get()
    )
    sections = []
    for key, title, _fk, queryset in kinds:
        records = list(queryset[:ACTIVITY_LIMIT])
        if key == "family_contacts":
            for record in records:
                record.masked_phone = mask_phone(record.phone)
        sections.append({"key": key, "title": title, "count": counts[f"count_{key}"], "records": records})
    return sections


def _display(member: Member, name: str):
    field = Member._meta.get_field(name)
    if field.choices:
        return getattr(member, f"get_{name}_display")()
    value = getattr(member, name)
    if isinstance(value, date):
        return value.isoformat()
    return value


def member_field_groups(member: Member, collected: frozenset[str], revealed: dict[str, str]) -> list[dict]:
    """The collected ORG-4 fields of the member, grouped as in ORG-4; sensitive values
    masked (ORG-10) unless just revealed."""
    groups: dict[str, list[dict]] = {}
    for name in ("mobile", *(f.name for f in CATALOG)):
        if name not in collected:
            continue
        group = services.group_of(name)
        sensitive = name in services.SENSITIVE_FIELDS
        groups.setdefault(group, []).append(
            {
                "field": name,
                "label": services.label(name),
                "sensitive": sensitive,
                "value": services.mask_value(name, getattr(member, name)) if sensitive else _display(member, name),
                "clear": revealed.get(name),
                "revealed": name in revealed,
            }
        )
    return [{"key": key, "label": GROUPS[key], "rows": groups[key]} for key in GROUPS if key in groups]


def _render_detail(
    request: HttpRequest,
    access: OrgAccess,
    member: Member,
    revealed: dict[str, str] | None = None,
    collected: frozenset[str] | None = None,
) -> HttpResponse:
    """The detail page. Queries after the gate's: the placements, the collection
    settings, the activity counts and one per kind of activity record."""
    placements = list(
        MemberDepartment.objects.filter(member=member).select_related("department").order_by("-is_primary", "pk")
    )
    paths = [placement.department.path for placement in placements]
    can_reveal = access.covers_member(Right.VIEW_SENSITIVE, paths)
    is_child = bool(getattr(member, "is_child", False))
    if collected is None:
        collected = collected_fields(access.organization)
    is_school = access.organization.kind == OrganizationKind.SCHOOL
    return render_org(
        request,
        "organizations/roster/detail.html",
        access,
        {
            "section": "roster",
            "member": member,
            "placements": placements,
            "field_groups": member_field_groups(member, collected, revealed or {}),
            "can_reveal": can_reveal,
            "can_edit": access.covers_member(Right.EDIT_ROSTER, paths),
            "activity": member_activity(member, is_school),
            "activity_limit": ACTIVITY_LIMIT,
            "is_child": is_child,
            "guardian_consent": children_services.consent_in_force(member) if is_child else None,
        },
    )


@login_required
@require_GET
def member_detail(request: HttpRequest, org_id: int, member_id: int) -> HttpResponse:
    """ORG-4, ORG-7: every field of one roster entry, sensitive ones masked (ORG-10)
    with a reveal button for administrators holding ``view_sensitive`` on the member."""
    access = org_access(request.user, org_id)
    member = access.get_member(member_id)
    if member.is_child:  # SEC-3: every view of a child's record is audited
        children_services.record_child_access(access, member, "detail", ip=client_ip(request))
    return _render_detail(request, access, member)


@never_cache
@login_required
@require_POST
def member_reveal(request: HttpRequest, org_id: int, member_id: int, field: str) -> HttpResponse:
    """ORG-10: show one sensitive value in clear, audited as ``member.revealed`` (field
    name only). The response must not be cached anywhere."""
    access = org_access(request.user, org_id)
    if field not in services.REVEALABLE_FIELDS:
        raise Http404
    collected = collected_fields(access.organization)
    if field not in collected:
        raise Http404  # not collected: nothing is shown, so nothing can be revealed
    member = access.get_member(member_id, Right.VIEW_SENSITIVE)
    value = services.reveal_member_field(access, member, field, ip=client_ip(request))
    return _render_detail(request, access, member, revealed={field: value}, collected=collected)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def member_edit(request: HttpRequest, org_id: int, member_id: int) -> HttpResponse:
    """ORG-7: correct or supplement a roster entry (``edit_roster`` on the member); the
    sensitive inputs only for administrators who also hold ``view_sensitive`` there."""
    access = org_access(request.user, org_id)
    member = access.get_member(member_id, Right.EDIT_ROSTER)
    if member.is_child and request.method == "GET":  # SEC-3: the form shows the child's record
        children_services.record_child_access(access, member, "edit", ip=client_ip(request))
    allow_sensitive = access.covers_member(
        Right.VIEW_SENSITIVE, [department.path for department in member.departments.all()]
    )
    options = {
        "member": member,
        "allow_sensitive": allow_sensitive,
        "collected": collected_fields(access.organization),
        "needs_attestation": not has_consented(member),
    }
    if request.method == "POST":
        form = MemberEditForm(request.POST, **options)
        if form.is_valid():
            try:
                changed = services.update_member(
                    access,
                    member,
                    form.changes(),
                    ip=client_ip(request),
                    attested=form.attested,
                    attestation_text=str(services.ATTESTATION_TEXT),
                )
            except ValidationError as exc:
                field = {"duplicate_employee_number": "employee_number", "consent_required": "attest"}.get(exc.code)
                form.add_error(field if field in form.fields else None, exc)
            else:
                if changed:
                    messages.success(request, _("The member's data was saved."))
                else:
                    messages.info(request, _("Nothing was changed."))
                return redirect("organizations:member", org_id=access.organization.pk, member_id=member.pk)
    else:
        form = MemberEditForm(**options)
    return render_org(
        request,
        "organizations/roster/edit.html",
        access,
        {"section": "roster", "member": member, "form": form, "allow_sensitive": allow_sensitive},
    )
