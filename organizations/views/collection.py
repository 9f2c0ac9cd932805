"""The collection settings page (ORG-5): which optional roster fields the organization
collects, and why.

Through the gate: outsiders get 404; administrators holding ``edit_roster`` on the whole
organization see the page (others 403); only the owner changes it (a POST from anyone
else is 403), the others see it read-only.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from dataprotection.audit import client_ip
from organizations.forms.collection import CollectionSettingsForm
from organizations.models import Member, Right
from organizations.permissions import OrgAccess, org_access
from organizations.services import collection as services
from organizations.views.common import render_org


@login_required
@require_http_methods(["GET", "POST"])
def collection_settings(request: HttpRequest, org_id: int) -> HttpResponse:
    """ORG-5: each available field grouped as in ORG-4, with its checkbox, its purpose
    (required when collected) and how many members hold a value in it."""
    access = _access(request, org_id)
    organization = access.organization
    fields = services.available_fields(organization)
    current = services.collection_settings(organization)
    counts = services.stored_value_counts(organization, [name for name, (enabled, _p) in current.items() if enabled])
    read_only = not access.is_owner
    if request.method == "POST":
        if read_only:
            raise PermissionDenied
        form = CollectionSettingsForm(request.POST, fields=fields, current=current, counts=counts)
        if form.is_valid():
            holding = form.turned_off_with_values()
            if holding and not form.cleaned_data["erase"]:
                form.add_error(
                    "erase",
                    ValidationError(
                        _(
                            "Members hold values in fields you are turning off (%(fields)s). Tick “Erase the stored "
                            "values of fields I turn off” to erase them, or keep collecting these fields."
                        ),
                        code="values_stored",
                        params={
                            "fields": ", ".join(
                                _("%(field)s: %(count)d members") % {"field": services.field_label(n), "count": c}
                                for n, c in holding.items()
                            )
                        },
                    ),
                )
            else:
                try:
                    result = services.update_collection_settings(
                        access, form.settings_by_field(), ip=client_ip(request), erase=form.cleaned_data["erase"]
                    )
                except ValidationError as exc:
                    form.add_error(None, exc)
                else:
                    if not result.changed:
                        messages.info(request, _("Nothing was changed."))
                    elif result.erased:
                        messages.success(
                            request,
                            _("The collection settings were saved; the stored values of %(fields)s were erased.")
                            % {"fields": ", ".join(services.field_label(name) for name in result.erased)},
                        )
                    else:
                        messages.success(request, _("The collection settings were saved."))
                    return redirect("organizations:collection", org_id=organization.pk)
    else:
        form = CollectionSettingsForm(fields=fields, current=current, counts=counts, read_only=read_only)
    return render_org(
        request,
        "organizations/collection/settings.html",
        access,
        {
            "section": "collection",
            "form": form,
            "groups": form.groups(),
            "always_collected": [Member._meta.get_field(name).verbose_name for name in services.ALWAYS_COLLECTED],
            "read_only": read_only,
        },
    )


def _access(request: HttpRequest, org_id: int) -> OrgAccess:
    """The gate (404 outside the organization), then ``edit_roster`` on the whole
    organization (403 otherwise)."""
    access = org_access(request.user, org_id)
    if not access.has_whole(Right.EDIT_ROSTER):
        raise PermissionDenied
    return access
