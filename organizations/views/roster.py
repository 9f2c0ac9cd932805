"""Roster pages (ORG-4, ORG-7, ORG-10): the list with search, department filter and
pagination; a member's details with sensitive values masked; the audited reveal of one
value; and the correction form.

Every view starts at the permission gate (``org_access``): 404 out of scope, 403 in
scope without the right. Lists are filtered by the gate's querysets, never per row, and
cost a constant number of queries whatever the page size, department count or grants.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import OuterRef, Subquery
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from dataprotection.audit import client_ip
from organizations.forms.roster import PAGE_SIZE, MemberEditForm, RosterFilterForm
from organizations.lookups import member_search
from organizations.models import Member, MemberDepartment, Right
from organizations.permissions import OrgAccess, org_access
from organizations.services import roster as services
from organizations.views.common import render_org


def page_window(queryset, page: int, size: int = PAGE_SIZE) -> tuple[list, bool]:
    """One page of ``queryset`` and whether another follows, in one query: fetch one
    row more than the page instead of counting a roster of 100k members."""
    offset = (page - 1) * size
    rows = list(queryset[offset : offset + size + 1])
    return rows[:size], len(rows) > size


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
    primary_department = MemberDepartment.objects.filter(member=OuterRef("pk"), is_primary=True).order_by("pk")
    members = (
        members.defer("bank_card")
        .annotate(primary_department=Subquery(primary_department.values("department__name")[:1]))
        .order_by("name", "pk")
    )
    page = form.cleaned_data.get("page") or 1
    rows, has_next = page_window(members, page)
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
        },
    )


def _render_detail(
    request: HttpRequest, access: OrgAccess, member: Member, revealed: dict[str, str] | None = None
) -> HttpResponse:
    placements = list(
        MemberDepartment.objects.filter(member=member).select_related("department").order_by("-is_primary", "pk")
    )
    paths = [placement.department.path for placement in placements]
    can_reveal = access.covers_member(Right.VIEW_SENSITIVE, paths)
    revealed = revealed or {}
    sensitive = [
        {
            "field": field,
            "label": Member._meta.get_field(field).verbose_name,
            "masked": getattr(member, f"masked_{field}"),
            "clear": revealed.get(field),
            "revealed": field in revealed,
        }
        for field in ("mobile", "id_number", "bank_card")
    ]
    return render_org(
        request,
        "organizations/roster/detail.html",
        access,
        {
            "section": "roster",
            "member": member,
            "placements": placements,
            "sensitive": sensitive,
            "can_reveal": can_reveal,
            "can_edit": access.covers_member(Right.EDIT_ROSTER, paths),
        },
    )


@login_required
@require_GET
def member_detail(request: HttpRequest, org_id: int, member_id: int) -> HttpResponse:
    """ORG-4, ORG-7: every field of one roster entry, sensitive ones masked (ORG-10)
    with a reveal button for administrators holding ``view_sensitive`` on the member."""
    access = org_access(request.user, org_id)
    member = access.get_member(member_id)
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
    member = access.get_member(member_id, Right.VIEW_SENSITIVE)
    value = services.reveal_member_field(access, member, field, ip=client_ip(request))
    return _render_detail(request, access, member, revealed={field: value})


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def member_edit(request: HttpRequest, org_id: int, member_id: int) -> HttpResponse:
    """ORG-7: correct or supplement a roster entry (``edit_roster`` on the member); the
    sensitive inputs only for administrators who also hold ``view_sensitive`` there."""
    access = org_access(request.user, org_id)
    member = access.get_member(member_id, Right.EDIT_ROSTER)
    allow_sensitive = access.covers_member(
        Right.VIEW_SENSITIVE, [department.path for department in member.departments.all()]
    )
    if request.method == "POST":
        form = MemberEditForm(request.POST, member=member, allow_sensitive=allow_sensitive)
        if form.is_valid():
            try:
                changed = services.update_member(access, member, form.changes(), ip=client_ip(request))
            except ValidationError as exc:
                field = "employee_number" if exc.code == "duplicate_employee_number" else None
                form.add_error(field, exc)
            else:
                if changed:
                    messages.success(request, _("The member's data was saved."))
                else:
                    messages.info(request, _("Nothing was changed."))
                return redirect("organizations:member", org_id=access.organization.pk, member_id=member.pk)
    else:
        form = MemberEditForm(member=member, allow_sensitive=allow_sensitive)
    return render_org(
        request,
        "organizations/roster/edit.html",
        access,
        {"section": "roster", "member": member, "form": form, "allow_sensitive": allow_sensitive},
    )
