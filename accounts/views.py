"""Account pages: register, sign in, sign out, password reset, profile, real-person
authentication and account deletion (ACC-1 to ACC-5). Views validate with forms and
write through ``accounts.services``."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, login, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms.utils import ErrorDict
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils.translation import check_for_language, ngettext
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views import i18n as i18n_views
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import assurance, lockout, services, services_two_factor, two_factor
from accounts.api.forms import ApiTokenForm
from accounts.api.tokens import create_api_token, revoke_api_token
from accounts.forms import (
    CodeSignInForm,
    DeletionConfirmForm,
    IdentityVerificationForm,
    PasswordResetForm,
    PasswordSignInForm,
    ProfileForm,
    RegistrationForm,
    SecondFactorForm,
    SendCodeForm,
)
from accounts.models import (
    AccountDeletionRequest,
    ApiToken,
    CodePurpose,
    DeletionStatus,
    IdentityVerification,
    User,
)
from accounts.profile_policy import locked_profile_fields
from accounts.reverification import send_reverification_code
from accounts.session_security import local_url, same_site_path, url_with_next
from accounts.sms import read_file_outbox
from dataprotection.audit import client_ip, organization_names
from dataprotection.masking import mask_id_number
from dataprotection.models import AnonymizationJob, AuditEvent, JobStatus

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
        services.send_code(phone, purpose, ip=client_ip(request))
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
                user = services.register_user(
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
                user = services.sign_in_with_code(phone=phone, code=code_form.cleaned_data["code"], ip=ip)
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
            device = services_two_factor.verify_second_factor(user, form.cleaned_data["code"], ip=client_ip(request))
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
                services.reset_password(
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


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    """ACC-2: the person's own profile, with every field they can correct."""
    user = request.user
    verification = IdentityVerification.objects.filter(user=user).first()
    deletion = AccountDeletionRequest.objects.filter(user=user, status__in=["received", "processing"]).first()
    return render(
        request,
        "accounts/profile.html",
        {
            "profile_user": user,
            "verification": verification,
            "masked_id_number": mask_id_number(verification.id_number) if verification else "",
            "deletion": deletion,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def profile_edit(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = ProfileForm(
            request.POST,
            request.FILES,
            instance=User.objects.get(pk=request.user.pk),
            locked=locked_profile_fields(request.user),
        )
        if form.is_valid():
            changed = services.update_profile(request.user, form.changes(), ip=client_ip(request))
            if changed:
                messages.success(request, _("Your profile was saved."))
            else:
                messages.info(request, _("Nothing changed."))
            response = redirect("accounts:profile")
            if "preferred_language" in changed and request.user.preferred_language:
                response.set_cookie(settings.LANGUAGE_COOKIE_NAME, request.user.preferred_language, samesite="Lax")
            return response
    else:
        form = ProfileForm(instance=request.user, locked=locked_profile_fields(request.user))
    return render(request, "accounts/profile_edit.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def identity(request: HttpRequest) -> HttpResponse:
    """ACC-3: optional real-person authentication, stored encrypted."""
    if request.method == "POST" and "remove" in request.POST:
        services.remove_identity_verification(request.user, ip=client_ip(request))
        messages.success(request, _("Your real-person authentication data was deleted."))
        return redirect("accounts:profile")
    form = IdentityVerificationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.submit_identity_verification(
                request.user,
                legal_name=form.cleaned_data["legal_name"],
                id_number=form.cleaned_data["id_number"],
                explicit_consent=form.cleaned_data["explicit_consent"],
                ip=client_ip(request),
            )
        except ValidationError as exc:
            form.add_error("id_number", exc)
        else:
            messages.success(request, _("Your real-person authentication data was saved, encrypted."))
            return redirect("accounts:profile")
    return render(request, "accounts/identity.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def delete_account(request: HttpRequest) -> HttpResponse:
    """ACC-5 / EN V(IV): re-verify with a fresh SMS code, then record the request."""
    pending = AccountDeletionRequest.objects.filter(user=request.user, status__in=["received", "processing"]).first()
    # The cascade that carries it out: when it runs, and whether it has started.
    job = AnonymizationJob.objects.filter(pk=pending.job_id).first() if pending and pending.job_id else None
    form = DeletionConfirmForm()
    if request.method == "POST" and "send_code" in request.POST:
        refused = send_reverification_code(request)
        if refused is not None:
            form.add_error(None, refused)
    elif request.method == "POST":
        form = DeletionConfirmForm(request.POST)
        if form.is_valid():
            try:
                services.request_account_deletion(
                    request.user,
                    code=form.cleaned_data["code"],
                    reason=form.cleaned_data["reason"],
                    ip=client_ip(request),
                )
            except ValidationError as exc:
                # Something standing in the way (an organization to hand over) is not about the code.
                form.add_error(None if exc.code == "blocked" else "code", exc)
            else:
                if not User.objects.filter(pk=request.user.pk).exists():
                    # Without a cooling-off period the cascade may already be done: the
                    # account is gone, so is the session.
                    logout(request)
                    messages.success(request, _("Your account was deleted. Thank you for having used Custodia."))
                    return redirect("home")
                messages.success(request, _("Your account deletion request was recorded."))
                return redirect("accounts:delete")
    cancellable = (
        pending is not None
        and pending.status == DeletionStatus.RECEIVED
        and (job is None or job.status == JobStatus.SCHEDULED)
    )
    return render(
        request, "accounts/delete.html", {"form": form, "pending": pending, "job": job, "cancellable": cancellable}
    )


@login_required
@require_POST
def cancel_deletion(request: HttpRequest) -> HttpResponse:
    if services.cancel_account_deletion(request.user, ip=client_ip(request)):
        messages.success(request, _("Your account deletion request was cancelled."))
    else:
        messages.error(request, _("There is no deletion request that can still be cancelled."))
    return redirect("accounts:delete")


@require_POST
def switch_language(request: HttpRequest) -> HttpResponse:
    """Django's ``set_language`` (cookie, redirect back), and for a signed-in person
    their preferred language too: what the portal writes to them later, on a worker or
    by SMS, is in the language they chose."""
    response = i18n_views.set_language(request)
    language = request.POST.get(i18n_views.LANGUAGE_QUERY_PARAMETER, "")
    if request.user.is_authenticated and response.status_code in (302, 204) and check_for_language(language):
        services.remember_language(request.user, language, ip=client_ip(request))
    return response


def dev_sms_outbox(request: HttpRequest) -> HttpResponse:
    """Development only: the newest messages written by the file SMS backend, so a demo
    can sign up without a phone. 404 unless DEBUG is on and the file backend is in use."""
    if not settings.DEBUG or settings.SMS_BACKEND != "accounts.sms.FileBackend":
        raise Http404
    messages_sent = read_file_outbox(limit=20)
    for message in messages_sent:
        # Written in UTC: the template shows it in the viewer's time zone, "… ago" in their language.
        message["sent_at"] = datetime.fromisoformat(message["at"])
    # It reads a file and needs no database: no service-notice banner (ANON-6) either.
    return render(request, "accounts/dev_sms.html", {"messages_sent": messages_sent, "shutdown_notices": ()})


@login_required
@require_http_methods(["GET", "POST"])
def api_tokens(request: HttpRequest) -> HttpResponse:
    """The person's personal access tokens: create (the secret is shown on this answer
    only, never stored or put in a message), list, revoke. SEC-1: creating a token is a
    sensitive action of the assurance policy (``accounts.assurance``): this page needs
    the second factor where required and a fresh proof of identity."""
    form = ApiTokenForm(request.POST or None)
    secret = None
    if request.method == "POST" and form.is_valid():
        try:
            secret, _token = create_api_token(
                request.user, minted_by=request.user.assurance, ip=client_ip(request), **form.cleaned_data
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            form = ApiTokenForm()
    tokens = ApiToken.objects.filter(user=request.user).order_by("-created_at", "-pk")
    response = render(request, "accounts/api_tokens.html", {"form": form, "tokens": tokens, "secret": secret})
    if secret:
        response["Cache-Control"] = "no-store"  # the secret must not stay in a cache
    return response


@login_required
@require_POST
def revoke_token(request: HttpRequest, token_id: int) -> HttpResponse:
    token = ApiToken.objects.filter(user=request.user, pk=token_id).first()
    if token is None:
        raise Http404
    if revoke_api_token(token, actor=request.user, ip=client_ip(request)):
        messages.success(request, _("The token “%(name)s” was revoked.") % {"name": token.name})
    return redirect("accounts:api_tokens")


ACCESS_LOG_PAGE_SIZE = 25

# Human-readable labels of the common actions on a person's data; others show their code.
ACCESS_ACTION_LABELS = {
    "member.revealed": _lazy("Revealed a hidden field of your organization record"),
    "member.viewed": _lazy("Viewed your organization record"),
    "member.updated": _lazy("Changed your organization record"),
    "member.face_templates_erased": _lazy("Erased your face recognition templates"),
    "roster.upserted": _lazy("Added or updated you in a roster"),
    "request.filed": _lazy("Filed a request about your data"),
    "request.escalated": _lazy("Escalated a request about your data"),
    "request.details_viewed": _lazy("Viewed the details of your request"),
    "request.evidence_viewed": _lazy("Viewed the evidence attached to your request"),
    "request.correction_applied": _lazy("Corrected your data as you requested"),
    "request.deletion_started": _lazy("Started deleting your data as you requested"),
    "request.export_started": _lazy("Started preparing a copy of your data"),
    "request.export_ready": _lazy("Prepared a copy of your data"),
    "request.export_expired": _lazy("Deleted an expired copy of your data"),
    "invitation.sent": _lazy("Invited you to an organization"),
    "invitation.revoked": _lazy("Withdrew an invitation to you"),
    "administrator.appointed": _lazy("Appointed you as an administrator"),
    "administrator.removed": _lazy("Removed you as an administrator"),
    "administrator.rights_changed": _lazy("Changed your administrator rights"),
    "organization.ownership_transferred": _lazy("Transferred an organization's ownership"),
    "identity.removed": _lazy("Removed your real-person authentication"),
    "certification.file_viewed": _lazy("Viewed a certification document"),
    "automated_decision.made": _lazy("Made an automated decision about you"),
    "account.deleted": _lazy("Deleted your account"),
}
# Actions a person takes on someone else's behalf (an agent), not as an administrator.
AGENT_ACTIONS = {"request.filed", "request.escalated"}


def _access_role(event, organization_names: dict[int, str]) -> str:
    if event.actor_kind == "system":
        return _("system")
    if event.actor_kind == "staff":
        return _("operations staff")
    if event.action in AGENT_ACTIONS:
        return _("a person acting on your behalf")
    if event.organization_id is not None:
        name = organization_names.get(event.organization_id)
        if name:
            return _("administrator of %(organization)s") % {"organization": name}
        return _("administrator of an organization")
    return _("another person")


@login_required
@require_GET
def access_log(request: HttpRequest) -> HttpResponse:
    """SEC-2 "who accessed my data": the audit events about the signed-in person that an
    administrator, operations staff or the system caused -- when, who (display name and
    role) and what, newest first, 25 a page. Never the actors' addresses nor the details
    the events keep. Queries (after the session and user): the page of events with
    their actors, and the names of their organizations (one per registered namer)."""
    try:
        page = max(1, int(request.GET.get("page", "1")))
    except ValueError:
        page = 1
    start = (page - 1) * ACCESS_LOG_PAGE_SIZE
    window = list(
        AuditEvent.objects.accessed_by_others(request.user)
        .select_related("actor")
        .only(
            "occurred_at", "action", "actor_kind", "organization_id", "actor__name", "actor__nickname", "actor__phone"
        )[start : start + ACCESS_LOG_PAGE_SIZE + 1]
    )
    events, has_next = window[:ACCESS_LOG_PAGE_SIZE], len(window) > ACCESS_LOG_PAGE_SIZE
    names = organization_names({event.organization_id for event in events if event.actor_kind == "person"})
    rows = [
        {
            "occurred_at": event.occurred_at,
            "who": (
                _("Custodia")
                if event.actor_kind == "system"
                else (event.actor.display_name if event.actor else _("a deleted account"))
            ),
            "role": _access_role(event, names),
            "what": ACCESS_ACTION_LABELS.get(event.action) or _("Other action (%(code)s)") % {"code": event.action},
        }
        for event in events
    ]
    return render(
        request,
        "accounts/access_log.html",
        {"rows": rows, "page": page, "has_previous": page > 1, "has_next": has_next},
    )
