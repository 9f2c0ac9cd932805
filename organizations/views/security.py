"""The organization's security settings page (SEC-1), owner only: whether every
administrator needs two-factor authentication. Writes through
``organizations.services.security``."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from dataprotection.audit import client_ip
from organizations.forms.security import SecuritySettingsForm
from organizations.permissions import org_access
from organizations.services import security as services
from organizations.views.common import render_org


@login_required
@require_http_methods(["GET", "POST"])
def security_settings(request: HttpRequest, org_id: int) -> HttpResponse:
    """SEC-1: outsiders 404, sub-administrators 403, the owner sees and changes it."""
    access = org_access(request.user, org_id)
    access.require_owner(writing=request.method == "POST")
    organization = access.organization
    if request.method == "POST":
        form = SecuritySettingsForm(request.POST)
        if form.is_valid():
            required = form.cleaned_data["require_admin_two_factor"]
            if services.set_admin_two_factor_requirement(access, required, ip=client_ip(request)):
                if required:
                    messages.success(request, _("Every administrator now needs two-factor authentication."))
                else:
                    messages.success(request, _("Only the owner needs two-factor authentication now."))
            else:
                messages.info(request, _("Nothing was changed."))
            return redirect("organizations:security", org_id=organization.pk)
    else:
        form = SecuritySettingsForm(initial={"require_admin_two_factor": organization.require_admin_two_factor})
    return render_org(request, "organizations/security/settings.html", access, {"section": "security", "form": form})
