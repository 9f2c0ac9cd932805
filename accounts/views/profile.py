"""The person's profile, real-person authentication and language (ACC-2, ACC-3, ACC-6)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import check_for_language
from django.utils.translation import gettext as _
from django.views import i18n as i18n_views
from django.views.decorators.http import require_http_methods, require_POST

from accounts.forms import IdentityVerificationForm, ProfileForm
from accounts.models import AccountDeletionRequest, IdentityVerification, User
from accounts.services import identity as identity_service
from accounts.services import profile as profile_service
from accounts.services.profile import locked_profile_fields
from dataprotection.audit import client_ip
from dataprotection.masking import mask_id_number


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
            changed = profile_service.update_profile(request.user, form.changes(), ip=client_ip(request))
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
        identity_service.remove_identity_verification(request.user, ip=client_ip(request))
        messages.success(request, _("Your real-person authentication data was deleted."))
        return redirect("accounts:profile")
    form = IdentityVerificationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            identity_service.submit_identity_verification(
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


@require_POST
def switch_language(request: HttpRequest) -> HttpResponse:
    """Django's ``set_language`` (cookie, redirect back), and for a signed-in person
    their preferred language too: what the portal writes to them later, on a worker or
    by SMS, is in the language they chose."""
    response = i18n_views.set_language(request)
    language = request.POST.get(i18n_views.LANGUAGE_QUERY_PARAMETER, "")
    if request.user.is_authenticated and response.status_code in (302, 204) and check_for_language(language):
        profile_service.remember_language(request.user, language, ip=client_ip(request))
    return response
