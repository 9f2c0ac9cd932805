"""Department tree pages (ORG-3): the tree restricted to the administrator's subtrees,
create, rename/move and delete. Rights: ``view_roster`` to see a department,
``edit_roster`` on it (and on its new parent when moving) to change it; the owner does
everything. Out of scope: 404; in scope without the right: 403."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from dataprotection.audit import client_ip
from organizations.forms.departments import DepartmentDeleteForm, DepartmentForm
from organizations.models import Department, MemberDepartment, Right
from organizations.permissions import OrgAccess, org_access
from organizations.services import departments as services
from organizations.views.common import posted_data, render_org


@dataclass
class TreeNode:
    department: Department
    members: int = 0
    can_edit: bool = False
    children: list[TreeNode] = field(default_factory=list)
    checkbox: object = None  # a bound checkbox, when the tree renders a form field


def build_tree(departments, *, members: dict[int, int] | None = None, access: OrgAccess | None = None):
    """Nest departments (ordered by path) into a forest, in Python: a department whose
    parent is not in the list (outside the administrator's subtrees) becomes a top node.
    Siblings are ordered by ``sort_order`` then name."""
    nodes: dict[int, TreeNode] = {}
    top: list[TreeNode] = []
    for department in departments:
        node = TreeNode(
            department,
            members=(members or {}).get(department.pk, 0),
            can_edit=access is not None and access.covers(Right.EDIT_ROSTER, department),
        )
        nodes[department.pk] = node
        parent = nodes.get(department.parent_id)
        (parent.children if parent else top).append(node)

    def order(siblings: list[TreeNode]) -> None:
        siblings.sort(key=lambda node: (node.department.sort_order, node.department.name.casefold()))
        for node in siblings:
            order(node.children)

    order(top)
    return top


@login_required
@require_http_methods(["GET"])
def department_tree(request: HttpRequest, org_id: int) -> HttpResponse:
    """The tree, from one query of visible departments and one aggregate of member
    counts, whatever the number of departments."""
    access = org_access(request.user, org_id)
    visible = access.departments(Right.VIEW_ROSTER)
    departments = list(visible.order_by("path"))
    counts = dict(
        MemberDepartment.objects.filter(department__in=visible.values("pk"))
        .values("department_id")
        .annotate(count=Count("member_id"))
        .values_list("department_id", "count")
    )
    tree = build_tree(departments, members=counts, access=access)
    return render_org(
        request,
        "organizations/departments/tree.html",
        access,
        {
            "section": "departments",
            "tree": tree,
            "can_create": access.has(Right.EDIT_ROSTER),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def department_create(request: HttpRequest, org_id: int) -> HttpResponse:
    access = org_access(request.user, org_id)
    parents = access.departments(Right.EDIT_ROSTER)  # 403 without edit_roster anywhere
    allow_top_level = (
        access.has_whole(Right.EDIT_ROSTER)
        and not Department.objects.filter(organization=access.organization, parent__isnull=True).exists()
    )
    initial = {}
    if "parent" in request.GET:
        initial["parent"] = request.GET["parent"]
    form = DepartmentForm(posted_data(request), parents=parents, allow_top_level=allow_top_level, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            department = services.create_department(
                access, name=form.cleaned_data["name"], parent=form.cleaned_data.get("parent"), ip=client_ip(request)
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Department “%(name)s” was created.") % {"name": department.name})
            return redirect("organizations:departments", org_id=access.organization.pk)
    return render_org(
        request,
        "organizations/departments/form.html",
        access,
        {"section": "departments", "form": form, "department": None},
    )


@login_required
@require_http_methods(["GET", "POST"])
def department_edit(request: HttpRequest, org_id: int, department_id: int) -> HttpResponse:
    """Rename, or move under another parent where the administrator also edits."""
    access = org_access(request.user, org_id)
    department = access.get_department(department_id, Right.EDIT_ROSTER)
    parents = None
    if department.parent_id is not None:  # the top-level department cannot move
        editable = access.departments(Right.EDIT_ROSTER)
        parents = (
            Department.objects.filter(organization=access.organization)
            .filter(Q(pk__in=editable.values("pk")) | Q(pk=department.parent_id))
            .exclude(path__startswith=department.path)
        )
    form = DepartmentForm(
        posted_data(request),
        parents=parents,
        initial={"name": department.name, "parent": department.parent_id},
    )
    if request.method == "POST" and form.is_valid():
        parent = form.cleaned_data.get("parent") if parents is not None else department.parent
        try:
            changed = services.update_department(
                access, department, name=form.cleaned_data["name"], parent=parent, ip=client_ip(request)
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            if changed:
                messages.success(request, _("Department “%(name)s” was saved.") % {"name": form.cleaned_data["name"]})
            else:
                messages.info(request, _("Nothing changed."))
            return redirect("organizations:departments", org_id=access.organization.pk)
    return render_org(
        request,
        "organizations/departments/form.html",
        access,
        {"section": "departments", "form": form, "department": department},
    )


@login_required
@require_http_methods(["GET", "POST"])
def department_delete(request: HttpRequest, org_id: int, department_id: int) -> HttpResponse:
    """Confirmation page (GET) and deletion (POST with the confirmation box ticked)."""
    access = org_access(request.user, org_id)
    department = access.get_department(department_id, Right.EDIT_ROSTER)
    form = DepartmentDeleteForm(posted_data(request))
    subtree = Department.objects.subtree(department)
    if request.method == "POST" and form.is_valid():
        try:
            services.delete_department(access, department, ip=client_ip(request))
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Department “%(name)s” was deleted.") % {"name": department.name})
            return redirect("organizations:departments", org_id=access.organization.pk)
    return render_org(
        request,
        "organizations/departments/delete.html",
        access,
        {
            "section": "departments",
            "form": form,
            "department": department,
            "is_top_level": department.parent_id is None,
            "descendants": subtree.exclude(pk=department.pk).count(),
            "members": services.subtree_member_count(department),
        },
    )
