"""Two-factor authentication pages under /accounts/two-factor/ (SEC-1): the security
page, enrollment with a QR code, recovery codes (shown once, downloadable as text),
regeneration, turning it off, and verifying a session. They validate with forms and
write through ``accounts.services.two_factor``."""

from __future__ import annotations

import segno
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from accounts import assurance
from accounts.forms import EnrollTwoFactorForm, SecondFactorForm
from accounts.services import two_factor
from dataprotection.audit import client_ip


def _next(request: HttpRequest) -> str:
    """A local page to go back to afterwards ("" when none or not local)."""
    return assurance.local_url(request, request.POST.get("next") or request.GET.get("next") or "")


def _no_store(response: HttpResponse) -> HttpResponse:
    # Secrets and recovery codes must not stay in a cache.
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_GET
def security(request: HttpRequest) -> HttpResponse:
    """SEC-1: the person's two-factor status and what they can do about it."""
    status = two_factor.two_factor_status(request.user)
    return render(
        request,
        "accounts/two_factor/security.html",
        {"status": status, "verified": request.user.is_verified()},
    )


@login_required
@require_http_methods(["GET", "POST"])
def enroll(request: HttpRequest) -> HttpResponse:
    """SEC-1: scan the QR code (or type the key), then confirm with a code of the app;
    only then does the authenticator count. Replacing one needs a current code."""
    status = two_factor.two_factor_status(request.user)
    secret = request.session.get(two_factor.ENROLL_SECRET_SESSION_KEY)
    if not secret:
        secret = two_factor.new_secret()
        request.session[two_factor.ENROLL_SECRET_SESSION_KEY] = secret
    form = EnrollTwoFactorForm(request.POST or None, replacing=status.enabled)
    if request.method == "POST" and form.is_valid():
        try:
            device, codes = two_factor.enable_two_factor(
                request.user,
                secret=secret,
                code=form.cleaned_data["code"],
                current_code=form.cleaned_data.get("current_code", ""),
                ip=client_ip(request),
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            request.session.pop(two_factor.ENROLL_SECRET_SESSION_KEY, None)
            update_session_auth_hash(request, request.user)  # this session stays, the others end
            assurance.second_factor_passed(request, device)
            assurance.refresh_second_factor_requirement(request)  # enrolled: every session needs it now
            request.session[two_factor.NEW_CODES_SESSION_KEY] = codes
            messages.success(request, _("Two-factor authentication is on."))
            return _to_codes(request)
    device = two_factor.provisioning_device(request.user, secret)
    qr_svg = segno.make(device.config_url, error="m").svg_inline(
        scale=4, title=_("QR code to scan with your authenticator app")
    )
    return _no_store(
        render(
            request,
            "accounts/two_factor/enroll.html",
            {
                "form": form,
                "qr_svg": qr_svg,
                "secret_groups": two_factor.group_secret(secret),
                "replacing": status.enabled,
                "next": _next(request),
            },
        )
    )


def _to_codes(request: HttpRequest) -> HttpResponse:
    return redirect(assurance.url_with_next("accounts:two_factor_recovery_codes", _next(request)))


@login_required
@require_http_methods(["GET", "POST"])
def recovery_codes(request: HttpRequest) -> HttpResponse:
    """SEC-1: the new recovery codes, shown until the person says they saved them; after
    that they are never shown again (only how many are left)."""
    codes = request.session.get(two_factor.NEW_CODES_SESSION_KEY)
    target = _next(request)
    if request.method == "POST":
        request.session.pop(two_factor.NEW_CODES_SESSION_KEY, None)
        return redirect(target or "accounts:two_factor")
    if not codes:
        messages.info(request, _("Recovery codes are shown only once. Make new ones if you lost them."))
        return redirect("accounts:two_factor")
    return _no_store(render(request, "accounts/two_factor/recovery_codes.html", {"codes": codes, "next": target}))


@login_required
@require_GET
def recovery_codes_download(request: HttpRequest) -> HttpResponse:
    codes = request.session.get(two_factor.NEW_CODES_SESSION_KEY)
    if not codes:
        messages.info(request, _("Recovery codes are shown only once. Make new ones if you lost them."))
        return redirect("accounts:two_factor")
    lines = [
        _("Custodia recovery codes for %(phone)s") % {"phone": request.user.masked_phone},
        _("Each code works once, when your authenticator app is not at hand."),
        "",
        *codes,
        "",
    ]
    response = HttpResponse("\n".join(lines), content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="custodia-recovery-codes.txt"'
    return _no_store(response)


@login_required
@require_http_methods(["GET", "POST"])
def regenerate(request: HttpRequest) -> HttpResponse:
    """SEC-1: new recovery codes after a current code; the old ones stop working."""
    form = SecondFactorForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            codes = two_factor.regenerate_recovery_codes(
                request.user, code=form.cleaned_data["code"], ip=client_ip(request)
            )
        except ValidationError as exc:
            form.add_error("code", exc)
        else:
            update_session_auth_hash(request, request.user)
            request.session[two_factor.NEW_CODES_SESSION_KEY] = codes
            messages.success(request, _("New recovery codes were made; the old ones no longer work."))
            return redirect("accounts:two_factor_recovery_codes")
    return render(request, "accounts/two_factor/regenerate.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def disable(request: HttpRequest) -> HttpResponse:
    """SEC-1: turn two-factor authentication off (not when the person's role needs it)."""
    status = two_factor.two_factor_status(request.user)
    if not status.enabled:
        return redirect("accounts:two_factor")
    form = SecondFactorForm(request.POST or None)
    if request.method == "POST" and not status.required and form.is_valid():
        try:
            two_factor.disable_two_factor(request.user, code=form.cleaned_data["code"], ip=client_ip(request))
        except ValidationError as exc:
            form.add_error("code", exc)
        else:
            update_session_auth_hash(request, request.user)
            assurance.second_factor_turned_off(request)
            messages.success(request, _("Two-factor authentication is off."))
            return redirect("accounts:two_factor")
    return render(request, "accounts/two_factor/disable.html", {"form": form, "status": status})


@login_required
@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    """SEC-1: a signed-in session that has not passed the second factor proves it here
    before pages that need it (the console, organization administration)."""
    target = _next(request)
    if not two_factor.has_confirmed_device(request.user):
        return redirect(assurance.url_with_next("accounts:two_factor_enroll", target))
    form = SecondFactorForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device = two_factor.verify_second_factor(request.user, form.cleaned_data["code"], ip=client_ip(request))
        except ValidationError as exc:
            form.add_error("code", exc)
        else:
            assurance.second_factor_passed(request, device)
            return redirect(target or "accounts:two_factor")
    return render(request, "accounts/two_factor/verify.html", {"form": form, "next": target})
