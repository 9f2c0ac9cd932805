"""Re-authentication before dangerous actions (SEC-1): the signed-in person re-enters
their password; a wrong one counts toward the sign-in lockout. Pages guarded by
the sign-in assurance policy (``accounts.assurance``, sensitive actions) send people here."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from accounts.assurance import mark_authenticated, same_site_path
from accounts.forms import ReauthenticateForm
from accounts.services import sign_in
from dataprotection.audit import client_ip


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def reauthenticate(request: HttpRequest) -> HttpResponse:
    """SEC-1: confirm the password, then go back to the guarded page (``?next=``)."""
    next_url = same_site_path(request, request.POST.get("next") or request.GET.get("next") or "")
    form = ReauthenticateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            sign_in.reauthenticate(request.user, form.cleaned_data["password"], ip=client_ip(request))
        except ValidationError as exc:
            form.add_error("password", exc)
        else:
            mark_authenticated(request)
            return redirect(next_url or settings.LOGIN_REDIRECT_URL)
    return render(
        request,
        "accounts/reauthenticate.html",
        {"form": form, "next": next_url, "minutes": max(1, settings.REAUTH_MAX_AGE_SECONDS // 60)},
    )
