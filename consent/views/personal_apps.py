"""A person's apps (SVC-4, SVC-5): the mini-programs they authorized themselves, and
every app that received their data, from which organization, since when. Apps hosted
outside the data region say so, and authorizing one needs the cross-border consent
(SEC-6).

The gate is the signed-in person: an authorization of someone else is out of scope (404).
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from consent.models import DataScope, GrantStatus, PersonalAuthorization, Service, ServiceKind
from consent.services import personal_apps, sharing
from dataprotection.audit import client_ip

# The scope every mini-program gets, and the only one (SVC-4).
BASIC_INFORMATION = (gettext_lazy("User ID"), gettext_lazy("Avatar"), gettext_lazy("Nickname"))


class AuthorizeForm(forms.Form):
    confirm = forms.BooleanField(
        label=gettext_lazy("I authorize this mini-program to receive my basic information."),
        error_messages={"required": gettext_lazy("Tick the box to confirm the authorization.")},
    )
    # SEC-6: only for a mini-program hosted outside the data region. Not required here:
    # the service refuses without it, with the clear message, and audits the refusal.
    cross_border = forms.BooleanField(required=False)

    def __init__(self, *args, service: Service, **kwargs):
        super().__init__(*args, **kwargs)
        if service.hosted_outside_region:
            self.fields["cross_border"].label = _(
                "I explicitly consent to the transfer of my basic information to %(app)s, hosted in %(place)s, "
                "outside the %(region)s region where my data is kept."
            ) % sharing.cross_border_params(service)
        else:
            del self.fields["cross_border"]


@login_required
def my_apps(request: HttpRequest) -> HttpResponse:
    authorizations = list(personal_apps.authorizations_of(request.user))
    recipients = list(personal_apps.recipients_of(request.user))
    for disclosure in recipients:
        disclosure.scope_labels = [DataScope(scope).label for scope in disclosure.scopes if scope in DataScope.values]
    active = {authorization.service_id for authorization in authorizations if authorization.status == "active"}
    return render(
        request,
        "consent/apps/my_apps.html",
        {
            "data_region": sharing.data_region_label(),
            "authorizations": authorizations,
            "recipients": recipients,
            "available": [app for app in personal_apps.available_mini_programs() if app.pk not in active],
            "basic_information": BASIC_INFORMATION,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def authorize(request: HttpRequest, code: str) -> HttpResponse:
    service = get_object_or_404(Service, code=code, kind=ServiceKind.MINI_PROGRAM, listed=True)
    form = AuthorizeForm(request.POST if request.method == "POST" else None, service=service)
    if request.method == "POST" and form.is_valid():
        try:
            personal_apps.authorize_mini_program(
                request.user,
                service,
                cross_border_consent=form.cleaned_data.get("cross_border", False),
                ip=client_ip(request),
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("%(app)s can now receive your basic information.") % {"app": service.name})
            return redirect("consent:my_apps")
    return render(
        request,
        "consent/apps/authorize.html",
        {
            "service": service,
            "form": form,
            "basic_information": BASIC_INFORMATION,
            "data_region": sharing.data_region_label(),
        },
    )


@login_required
@require_POST
def revoke(request: HttpRequest, pk: int) -> HttpResponse:
    authorization = get_object_or_404(
        PersonalAuthorization.objects.select_related("service", "user"), pk=pk, user=request.user
    )
    if authorization.status != GrantStatus.ACTIVE:
        messages.info(request, _("%(app)s was already revoked.") % {"app": authorization.service.name})
        return redirect("consent:my_apps")
    personal_apps.revoke_authorization(authorization, actor=request.user, ip=client_ip(request))
    messages.success(
        request,
        _("%(app)s can no longer receive your data and has been asked to delete what it received.")
        % {"app": authorization.service.name},
    )
    return redirect("consent:my_apps")


urlpatterns = [
    path("privacy/apps/", my_apps, name="my_apps"),
    path("privacy/apps/<slug:code>/authorize/", authorize, name="authorize_app"),
    path("privacy/apps/authorizations/<int:pk>/revoke/", revoke, name="revoke_app"),
]
