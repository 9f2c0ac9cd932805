"""The "send me a code" step shared by every page that re-verifies the signed-in person
before a dangerous action (ACC-5 account deletion, ORG-11 disband, ORG-12 transfer)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext as _

from accounts.models import CodePurpose
from accounts.services.codes import send_code
from dataprotection.audit import client_ip


def send_reverification_code(request: HttpRequest) -> ValidationError | None:
    """Send a fresh re-verification code to the signed-in person's number and say so;
    return the refusal (rate limits) for the page to show, or ``None`` once sent."""
    try:
        send_code(request.user.phone, CodePurpose.REVERIFY, ip=client_ip(request), user=request.user)
    except ValidationError as exc:
        return exc
    messages.info(request, _("We sent a six-digit code to %(phone)s.") % {"phone": request.user.masked_phone})
    return None
