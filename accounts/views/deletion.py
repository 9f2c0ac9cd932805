"""Deleting one's account, and changing one's mind during the cooling-off period (ACC-5)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.forms import DeletionConfirmForm
from accounts.models import AccountDeletionRequest, DeletionStatus, User
from accounts.services import deletion
from accounts.views.reverification import send_reverification_code
from dataprotection.audit import client_ip
from dataprotection.models import AnonymizationJob, JobStatus


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
                deletion.request_account_deletion(
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
    if deletion.cancel_account_deletion(request.user, ip=client_ip(request)):
        messages.success(request, _("Your account deletion request was cancelled."))
    else:
        messages.error(request, _("There is no deletion request that can still be cancelled."))
    return redirect("accounts:delete")
