"""Development-only pages."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.services.sms_gateway import read_file_outbox


def dev_sms_outbox(request: HttpRequest) -> HttpResponse:
    """Development only: the newest messages written by the file SMS backend, so a demo
    can sign up without a phone. 404 unless DEBUG is on and the file backend is in use."""
    if not settings.DEBUG or settings.SMS_BACKEND != "accounts.services.sms_gateway.FileBackend":
        raise Http404
    messages_sent = read_file_outbox(limit=20)
    for message in messages_sent:
        # Written in UTC: the template shows it in the viewer's time zone, "… ago" in their language.
        message["sent_at"] = datetime.fromisoformat(message["at"])
    # It reads a file and needs no database: no service-notice banner (ANON-6) either.
    return render(request, "accounts/dev_sms.html", {"messages_sent": messages_sent, "shutdown_notices": ()})
