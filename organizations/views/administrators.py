"""Administrator pages (ORG-9): the list with every administrator's grants summarized,
appointing a sub-administrator by mobile number, editing their rights and scope, and
removing them. All require ``manage_admins`` somewhere (else 403); administrators
outside a scoped grantor's subtrees are 404 (see ``organizations.services.administrators``
for the rule); the owner's row and one's own row are 403 to edit or remove.

Appointing, editing and removing are sensitive actions of the sign-in assurance policy
(SEC-1, ``accounts.assurance``): they need a recent proof of identity, else the person
re-enters their password first and a stale POST writes nothing."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST

from dataprotection.audit import client_ip
from organizations.forms.administrators import (
    DEPARTMENTS,
    WHOLE_ORGANIZATION,
    AdministratorRightsForm,
    AppointAdministratorForm,
)
from organizations.models import (
    AdministratorRole,
    DepartmentUserObjectPermission,
    OrganizationUserObjectPermission,
    Right,
)
from organizations.permissions import OrgAccess, org_access
from organizations.services import administrators as services
from organizations.views.common import posted_data, render_org
from organizations.views.departments import build_tree


def _within(path: str, prefixes: tuple[str, ...] | None) -> bool:
    return prefixes is None or any(path.startswith(prefix) for prefix in prefixes)


def grant_summaries(access: OrgAccess, administrators) -> dict[int, list[str]]:
    """ "Right — whole organization" / "Right — Sales, Sales East" lines per user, from
    every grant of the organization loaded in two queries. Department names outside
    the grantor's own subtrees are counted, not named."""
    organization = access.organization
    whole: dict[int, set[str]] = {}
    for user_id, codename in OrganizationUserObjectPermission.objects.filter(content_object=organization).values_list(
        "user_id", "permission__codename"
    ):
        whole.setdefault(user_id, set()).add(codename)
    subtree: dict[int, dict[str, list[tuple[str, str]]]] = {}
    for user_id, codename, name, path in (
        DepartmentUserObjectPermission.objects.filter(content_object__organization=organization)
        .values_list("user_id", "permission__codename", "content_object__name", "content_object__path")
        .order_by("content_object__path")
    ):
        subtree.setdefault(user_id, {}).setdefault(codename, []).append((name, path))

    manage_paths = access.paths(Right.MANAGE_ADMINS)
    view_paths = access.paths(Right.VIEW_ROSTER) if access.has(Right.VIEW_ROSTER) else ()
    summaries: dict[int, list[str]] = {}
    for administrator in administrators:
        user_id = administrator.user_id
        if administrator.role == AdministratorRole.OWNER:
            summaries[user_id] = [_("Every right — whole organization (owner)")]
            continue
        lines = []
        for right in Right:
            if right.value in whole.get(user_id, ()):
                lines.append(_("%(right)s — whole organization") % {"right": right.label})
            departments = subtree.get(user_id, {}).get(right.value)
            if departments:
                named = [name for name, path in departments if _within(path, manage_paths) or _within(path, view_paths)]
                hidden = len(departments) - len(named)
                if hidden:
                    named.append(
                        ngettext(
                            "%(count)d department outside your scope",
                            "%(count)d departments outside your scope",
                            hidden,
                        )
                        % {"count": hidden}
                    )
                lines.append(_("%(right)s — %(departments)s") % {"right": right.label, "departments": ", ".join(named)})
        summaries[user_id] = lines or [_("No rights")]
    return summaries


@login_required
@require_http_methods(["GET"])
def administrator_list(request: HttpRequest, org_id: int) -> HttpResponse:
    access = org_access(request.user, org_id)
    administrators = list(
        services.visible_administrators(access).select_related("user").order_by("role", "appointed_at", "pk")
    )
    summaries = grant_summaries(access, administrators)
    rows = [
        {
            "administrator": administrator,
            "grants": summaries[administrator.user_id],
            "editable": administrator.role == AdministratorRole.SUB_ADMIN and administrator.user_id != request.user.pk,
        }
        for administrator in administrators
    ]
    return render_org(request, "organizations/administrators/list.html", access, {"section": "admins", "rows": rows})


def _department_tree(form):
    """The departments checkboxes nested as a tree (the choices come from one query)."""
    checkboxes = list(form["departments"])
    by_pk = {checkbox.data["value"].value: checkbox for checkbox in checkboxes}
    tree = build_tree([checkbox.data["value"].instance for checkbox in checkboxes])

    def attach(nodes):
        for node in nodes:
            node.checkbox = by_pk[node.department.pk]
            attach(node.children)

    attach(tree)
    return tree


def _limit_scope_choices(access: OrgAccess, form) -> None:
    """A grantor without manage_admins on the whole organization is not offered it."""
    if not access.has_whole(Right.MANAGE_ADMINS):
        field = form.fields["scope"]
        field.choices = [choice for choice in field.choices if choice[0] != WHOLE_ORGANIZATION]


@login_required
@require_http_methods(["GET", "POST"])
def administrator_appoint(request: HttpRequest, org_id: int) -> HttpResponse:
    access = org_access(request.user, org_id)
    access.require(Right.MANAGE_ADMINS)
    form = AppointAdministratorForm(posted_data(request), departments=access.departments(Right.MANAGE_ADMINS))
    _limit_scope_choices(access, form)
    if request.method == "POST" and form.is_valid():
        try:
            administrator = services.appoint_administrator(
                access, form.person, form.cleaned_data["rights"], form.chosen_departments(), ip=client_ip(request)
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("%(person)s is now a sub-administrator.") % {"person": administrator.user})
            return redirect("organizations:admins", org_id=access.organization.pk)
    return render_org(
        request,
        "organizations/administrators/form.html",
        access,
        {"section": "admins", "form": form, "tree": _department_tree(form), "administrator": None},
    )


@login_required
@require_http_methods(["GET", "POST"])
def administrator_edit(request: HttpRequest, org_id: int, admin_id: int) -> HttpResponse:
    access = org_access(request.user, org_id)
    administrator = services.get_administrator(access, admin_id)  # 403 / 404
    services.require_editable(access, administrator)  # the owner's row, one's own row: 403
    grants = services.administrator_grants(administrator)
    scope_ids = list(administrator.scope.values_list("pk", flat=True))
    initial = {
        "rights": sorted(grants.rights),
        "scope": WHOLE_ORGANIZATION if grants.whole_organization or not scope_ids else DEPARTMENTS,
        "departments": scope_ids,
    }
    form = AdministratorRightsForm(
        posted_data(request), departments=access.departments(Right.MANAGE_ADMINS), initial=initial
    )
    _limit_scope_choices(access, form)
    if request.method == "POST" and form.is_valid():
        try:
            changed = services.update_administrator_rights(
                access, administrator, form.cleaned_data["rights"], form.chosen_departments(), ip=client_ip(request)
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            if changed:
                messages.success(request, _("The rights of %(person)s were saved.") % {"person": administrator.user})
            else:
                messages.info(request, _("Nothing changed."))
            return redirect("organizations:admins", org_id=access.organization.pk)
    return render_org(
        request,
        "organizations/administrators/form.html",
        access,
        {"section": "admins", "form": form, "tree": _department_tree(form), "administrator": administrator},
    )


@login_required
@require_POST
def administrator_remove(request: HttpRequest, org_id: int, admin_id: int) -> HttpResponse:
    access = org_access(request.user, org_id)
    administrator = services.get_administrator(access, admin_id)
    services.require_editable(access, administrator)
    try:
        services.remove_administrator(access, administrator, ip=client_ip(request))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("organizations:admin_edit", org_id=access.organization.pk, admin_id=administrator.pk)
    messages.success(request, _("%(person)s is no longer an administrator.") % {"person": administrator.user})
    return redirect("organizations:admins", org_id=access.organization.pk)
