"""Downloading the archive of an access or portability request (REQ-7).

Only the person the request is about downloads it -- not the agent who filed it, an
organization administrator or staff (see ``requests.services.fulfilment``): for anyone
else the archive does not exist (404). It is there while ready and not expired (410
after). Every download is counted and audited; the response is an attachment that no
cache keeps. The status endpoint feeds the progress bar of the download panel.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from dataprotection import liveness
from dataprotection.audit import client_ip
from requests.models import ExportArchive, ExportStatus
from requests.services import fulfilment


def _own_archive(user, archive_id: int) -> ExportArchive:
    archive = ExportArchive.objects.select_related("request").filter(pk=archive_id).first()
    if archive is None or archive.request.subject_id != user.pk:
        raise Http404
    return archive


def archive_state(archive: ExportArchive) -> dict:
    """What the panel shows, as JSON for the poller."""
    progress = fulfilment.export_progress(archive)
    since = progress.pop("waiting_since")
    return {
        **progress,
        "waiting_since": liveness.since_label(since) if since else "",
        "waiting_text": _(
            "Waiting for a worker since %(since)s. Nothing is lost: the work goes on where it stopped as soon as "
            "a worker takes it up, and operations staff see that it waits."
        )
        % {"since": liveness.since_label(since)}
        if since
        else "",
        "status_label": str(ExportStatus(progress["status"]).label),
        "expires_at": timezone.localtime(archive.expires_at).strftime("%Y-%m-%d %H:%M") if archive.expires_at else "",
        "download_url": reverse("data_requests:export_download", args=[archive.pk]) if progress["ready"] else "",
    }


def archive_response(data: bytes, reference: str) -> HttpResponse:
    """The archive's ZIP as an attachment no cache keeps (the pages and the API)."""
    response = HttpResponse(data, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="custodia-data-{reference}.zip"'
    response["Cache-Control"] = "no-store, private"
    response["Content-Length"] = str(len(data))
    return response


@never_cache
@login_required
@require_GET
def download(request: HttpRequest, archive_id: int) -> HttpResponse:
    archive = _own_archive(request.user, archive_id)
    try:
        data = fulfilment.download_export(archive, user=request.user, ip=client_ip(request))
    except fulfilment.ExportUnavailable:
        return HttpResponse(
            _("This archive is no longer available: it has expired. File a new access request for a fresh copy."),
            status=410,
            content_type="text/plain; charset=utf-8",
        )
    return archive_response(data, archive.request.reference)


@never_cache
@login_required
@require_GET
def status(request: HttpRequest, archive_id: int) -> JsonResponse:
    archive = _own_archive(request.user, archive_id)
    return JsonResponse(archive_state(archive))


urlpatterns = [
    path("requests/exports/<int:archive_id>/download/", download, name="export_download"),
    path("requests/exports/<int:archive_id>/status.json", status, name="export_status"),
]
