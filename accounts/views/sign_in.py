"""Signing up, in and out, and resetting the password (ACC-1, ACC-4, SEC-1). Views
validate with forms and write through ``accounts.services``."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, login
from django.contrib.auth import views as auth_views
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms.utils import ErrorDict
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods

from accounts import assurance
from accounts.assurance import local_url, same_site_path, url_with_next
from accounts.forms import (
    CodeSignInForm,
    PasswordResetForm,
    PasswordSignInForm,
    RegistrationForm,
    SecondFactorForm,
    SendCodeForm,
)
from accounts.models import CodePurpose, User
from accounts.services import codes, lockout, two_factor
from accounts.services import sign_in as sign_in_service
from dataprotection.audit import client_ip

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


def _send_code_from(request: HttpRequest, form, purpose: str, *, must_exist: bool | None) -> bool:
    """Handle a "send code" button: validate only the phone field of ``form`` and issue
    a code. Returns True when a code went out; otherwise errors are on ``form``."""
    phone_form = SendCodeForm(request.POST)
    if not phone_form.is_valid():
        form.add_error("phone", phone_form.errors["phone"])
        return False
    phone = phone_form.cleaned_data["phone"]
    exists = User.objects.filter(phone=phone).exists()
    if must_exist is False and exists:
        form.add_error("phone", _("This number already has an account. Sign in instead."))
        return False
    if must_exist is True and not exists:
        form.add_error("phone", _("No account uses this number. Register first."))
        return False
    try:
        codes.send_code(phone, purpose, ip=client_ip(request))
    except ValidationError as exc:
        form.add_error("phone", exc)
        return False
    messages.info(request, _("We sent a six-digit code to %(phone)s. It is valid for five minutes.") % {"phone": phone})
    return True


def _next_from(request: HttpRequest) -> str:
    """Where to go after signing in or registering, carried through every form post."""
    return request.POST.get("next") or request.GET.get("next") or ""


def _safe_target(request: HttpRequest, target: str) -> str:
    # Never an open redirect to another site; the default as a path, not a URL name:
    # the target travels on as ``?next=`` (to enrollment), where only paths are taken.
    return local_url(request, target) or resolve_url(settings.LOGIN_REDIRECT_URL)


def _sign_in(request: HttpRequest, user: User, *, method: str = "password") -> HttpResponse:
    """The first factor passed (SEC-1). With a confirmed authenticator the person is not
    signed in yet: the second step asks for a code. Someone whose role needs a second
    factor and has none is signed in and sent straight to enrollment."""
    target = _safe_target(request, _next_from(request))
    if two_factor.has_confirmed_device(user):
        two_factor.begin_pending_sign_in(request, user, next_url=target, method=method)
        return redirect("accounts:sign_in_second_step")
    if two_factor.second_factor_required(user):
        response = _complete_sign_in(request, user, target=target)
        messages.warning(request, _("Your role requires two-factor authentication. Set it up now."))
        return redirect_with_next("accounts:two_factor_enroll", target, response)
    return _complete_sign_in(request, user, target=target)


def redirect_with_next(view_name: str, target: str, response: HttpResponse) -> HttpResponse:
    """``response`` (for its cookies) redirected to ``view_name`` carrying ``next``."""
    response["Location"] = url_with_next(view_name, target)
    return response


def _complete_sign_in(request: HttpRequest, user: User, *, target: str, device=None) -> HttpResponse:
    """Both factors passed (or only one is needed): sign in, and clear the failure counts."""
    login(request, user, backend=MODEL_BACKEND)
    ip = client_ip(request)
    lockout.record_success(user.phone, ip)
    if device is not None:
        assurance.second_factor_passed(request, device)
        lockout.record_success(f"user:{user.pk}", ip)
    response = redirect(target)
    if user.preferred_language:
        response.set_cookie(settings.LANGUAGE_COOKIE_NAME, user.preferred_language, samesite="Lax")
    return response


def _unbound_copy(form_class, request: HttpRequest):
    """Re-show the posted values after "send code" without running full validation."""
    form = form_class(initial={key: request.POST.get(key, "") for key in ("phone", "name")})
    # An unbound form with an empty error dict: errors can be attached to the phone
    # field without validating (and complaining about) the fields not filled in yet.
    form._errors = ErrorDict()
    form.cleaned_data = {}
    return form


@require_http_methods(["GET", "POST"])
def register(request: HttpRequest) -> HttpResponse:
    """ACC-1: register with a mobile number proven by an SMS code."""
    if request.user.is_authenticated:
        return redirect("accounts:profile")
    if request.method == "POST" and "send_code" in request.POST:
        form = _unbound_copy(RegistrationForm, request)
        _send_code_from(request, form, CodePurpose.REGISTER, must_exist=False)
    elif request.method == "POST":
        form = RegistrationForm(request.POST)
        if form.is_valid():
            try:
                user = sign_in_service.register_user(
                    phone=form.cleaned_data["phone"],
                    code=form.cleaned_data["code"],
                    password=form.cleaned_data["password1"],
                    name=form.cleaned_data["name"],
                    ip=client_ip(request),
                    language=request.LANGUAGE_CODE if request.LANGUAGE_CODE in dict(settings.LANGUAGES) else "",
                )
            except ValidationError as exc:
                form.add_error("code" if exc.code != "exists" else "phone", exc)
            else:
                messages.success(request, _("Welcome to Custodia. Your account is ready."))
                return _sign_in(request, user, method="register")
    else:
        form = RegistrationForm()
    return render(request, "accounts/register.html", {"form": form, "next": _next_from(request)})


@require_http_methods(["GET", "POST"])
def sign_in(request: HttpRequest) -> HttpResponse:
    """ACC-4: sign in with password or with an SMS code; SEC-1: then with the second
    factor when the person has one. Failures are counted per number and per address."""
    method = request.POST.get("method") or request.GET.get("method") or "password"
    if method not in {"password", "sms"}:
        method = "password"
    password_form, code_form = PasswordSignInForm(), CodeSignInForm()
    ip = client_ip(request)
    if request.method == "POST" and method == "password":
        password_form = PasswordSignInForm(request.POST)
        if password_form.is_valid():
            phone = password_form.cleaned_data["phone"]
            try:
                lockout.ensure_not_locked(phone, ip)
            except ValidationError as exc:
                password_form.add_error(None, exc)
            else:
                user = authenticate(request, phone=phone, password=password_form.cleaned_data["password"])
                if user is not None:
                    return _sign_in(request, user, method="password")
                locked = lockout.record_failure(phone, ip, kind="password")  # the failure that locks says so
                password_form.add_error(
                    None, locked if locked is not None else _("The mobile number or password is wrong.")
                )
    elif request.method == "POST" and "send_code" in request.POST:
        code_form = _unbound_copy(CodeSignInForm, request)
        _send_code_from(request, code_form, CodePurpose.SIGN_IN, must_exist=True)
    elif request.method == "POST":
        code_form = CodeSignInForm(request.POST)
        if code_form.is_valid():
            phone = code_form.cleaned_data["phone"]
            try:
                # The service refuses a locked number and counts wrong codes (SEC-1).
                user = sign_in_service.sign_in_with_code(phone=phone, code=code_form.cleaned_data["code"], ip=ip)
            except lockout.LockedOut as exc:
                code_form.add_error(None, exc)
            except ValidationError as exc:
                code_form.add_error("code", exc)
            else:
                return _sign_in(request, user, method="sms")
    return render(
        request,
        "accounts/sign_in.html",
        {"method": method, "password_form": password_form, "code_form": code_form, "next": _next_from(request)},
    )


@require_http_methods(["GET", "POST"])
def sign_in_second_step(request: HttpRequest) -> HttpResponse:
    """SEC-1: the second step of signing in: a code of the authenticator app or a
    recovery code, within five minutes of the first factor."""
    pending = two_factor.pending_sign_in(request)
    user = None
    if pending is not None:
        user = User.objects.filter(pk=pending.user_id, is_active=True).first()
        if user is not None and user.security_stamp != pending.stamp:
            user = None  # the factors changed meanwhile: start again
    if user is None:
        two_factor.end_pending_sign_in(request)
        messages.error(request, _("Your sign-in took too long or was interrupted. Sign in again."))
        return redirect("accounts:login")
    form = SecondFactorForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device = two_factor.verify_second_factor(user, form.cleaned_data["code"], ip=client_ip(request))
        except ValidationError as exc:
            form.add_error("code", exc)
        else:
            two_factor.end_pending_sign_in(request)
            response = _complete_sign_in(request, user, target=_safe_target(request, pending.next), device=device)
            if device.persistent_id.startswith("otp_static."):
                left = device.token_set.count()
                messages.warning(
                    request,
                    ngettext(
                        "You used a recovery code: %(n)d is left. Make new ones on the security page.",
                        "You used a recovery code: %(n)d are left. Make new ones on the security page.",
                        left,
                    )
                    % {"n": left},
                )
            return response
    return render(request, "accounts/sign_in_second_step.html", {"form": form})


@require_http_methods(["GET", "HEAD"])
def console_sign_in(request: HttpRequest) -> HttpResponse:
    """SEC-1: the console (``/ops/``) has no sign-in of its own. Its login address hands
    over to the portal's sign-in -- password or SMS code, then the second factor, with
    the same lockout -- which comes back to the console page asked for."""
    target = same_site_path(request, request.GET.get("next", ""))
    if not target.startswith(reverse("admin:index")):
        target = reverse("admin:index")
    if request.user.is_authenticated:
        if not request.user.is_staff:
            raise PermissionDenied(_("The operations console is for operations staff."))
        return redirect(target)  # the assurance policy asks for the second factor if missing
    return redirect(url_with_next("accounts:login", target))


class SignOutView(auth_views.LogoutView):
    http_method_names = ["post", "options"]


@require_http_methods(["GET", "POST"])
def password_reset(request: HttpRequest) -> HttpResponse:
    """ACC-4: reset a forgotten password with an SMS code."""
    if request.method == "POST" and "send_code" in request.POST:
        form = _unbound_copy(PasswordResetForm, request)
        _send_code_from(request, form, CodePurpose.PASSWORD_RESET, must_exist=True)
    elif request.method == "POST":
        form = PasswordResetForm(request.POST)
        if form.is_valid():
            try:
                sign_in_service.reset_password(
                    phone=form.cleaned_data["phone"],
                    code=form.cleaned_data["code"],
                    new_password=form.cleaned_data["password1"],
                    ip=client_ip(request),
                )
            except ValidationError as exc:
                form.add_error("code", exc)
            else:
                messages.success(request, _("Your password was changed. Sign in with the new password."))
                return redirect("accounts:login")
    else:
        form = PasswordResetForm()
    return render(request, "accounts/password_reset.html", {"form": form})
