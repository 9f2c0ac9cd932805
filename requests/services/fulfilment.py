"""Fulfilment of data-subject requests (REQ-5, REQ-7, REQ-8): the archive of an access or
portability request, a correction applied to a roster entry, and a deletion carried out
by the anonymization engine.

Every write is atomic and audited; side effects (the archive build, the engine's
drivers, the notices to recipients) start only after commit. Corrections and deletions
of organization-control data re-check the permission gate here (``org_access`` and
``Right.HANDLE_REQUESTS``), so a task or another page calling them cannot skip it; the
correction itself goes through ``organizations.services.roster.update_member``, which
checks ``edit_roster`` (and ``view_sensitive``) and the organization's collection
settings (ORG-5, ORG-6) as any roster edit does.

Choices made here (see the module docstrings of ``requests.services.exporting`` too):

- The archive is downloaded by the person the request is about, never by the agent who
  filed it (REQ-9), an administrator or staff: the agent asks on the person's behalf,
  the copy goes to the person themselves, so the data never leaves through a third
  account (CCPA allows delivering to the consumer directly).
- A deletion routed to an organization erases that one roster entry and its records
  (a ``member_erasure`` job). A deletion routed to operations staff is about the account:
  it is the account deletion of ACC-5 (the same job kind, cooling-off period and
  cancellation), started without a second SMS code because the request was verified
  with one already (REQ-3). Its recipients are told by the account-deletion cascade.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from accounts.models import AccountDeletionRequest, DeletionStatus, User
from accounts.services.deletion import deletion_blockers
from consent.models import Disclosure, NoticeReason, ServiceKind
from consent.services import notices
from dataprotection import anonymization, deferred_text, files, liveness
from dataprotection.anonymization import StageSpec
from dataprotection.audit import record_event
from dataprotection.deferred_text import deferred
from dataprotection.models import LIVE_JOB_STATUSES, AnonymizationJob, JobKind, StageAction
from dataprotection.personal_data import declared_models
from dataprotection.tasks import enqueue_drivers
from organizations.forms.roster import EDIT_CLEANERS
from organizations.models import Member, MemberStatus
from organizations.permissions import org_access
from organizations.services import roster
from requests import permissions
from requests.models import (
    DELETION_KINDS,
    EVIDENCE_FILE_PURPOSE,
    EXPORT_KINDS,
    OPEN_STATUSES,
    AutomatedDecision,
    DataSubjectRequest,
    ExportArchive,
    ExportStatus,
    RequestEvent,
    RequestKind,
    RequestStatus,
)
from requests.services import workflow
from requests.services.exporting import EXPORT_PURPOSE, SECTIONS
from requests.tasks.exports import build_export

CORRECTION_KINDS = frozenset({RequestKind.CORRECTION, RequestKind.SUPPLEMENT})
# A correction changes data about the person, never the entry's lifecycle (status).
CORRECTABLE_FIELDS = tuple(name for name in roster.EDITABLE_FIELDS if name not in roster.LIFECYCLE_FIELDS)
LIVE_EXPORT_STATUSES = (ExportStatus.QUEUED, ExportStatus.BUILDING, ExportStatus.READY)


class ExportUnavailable(Exception):
    """The archive is not (or no longer) there to download."""


def backup_retention_days() -> int:
    return int(getattr(settings, "BACKUP_RETENTION_DAYS", 30))


def _require_open(request: DataSubjectRequest) -> None:
    if request.status not in OPEN_STATUSES:
        raise ValidationError(_("This request is closed already."), code="closed")


def _start_handling(request: DataSubjectRequest, *, actor, ip=None) -> None:
    """A request acted on leaves ``received``: the person sees it being handled."""
    if request.status == RequestStatus.RECEIVED:
        workflow.transition(request, RequestStatus.IN_PROGRESS, actor=actor, ip=ip)


def _handler_access(request: DataSubjectRequest, actor):
    """The gate for an organization's request: 404/403 as on the pages (REQ-5)."""
    access = org_access(actor, request.organization_id)
    permissions.get_org_request(access, request.pk)
    return access


# --------------------------------------------------------------------------- exports (REQ-7)


def on_request_received(request_id: int) -> None:
    """Called after commit of a filed (or confirmed) request (REQ-7): a verified access
    or portability request routed to operations staff gets its archive at once; the
    others wait for their handler."""
    request = DataSubjectRequest.objects.filter(pk=request_id).first()
    if request is None or request.kind not in EXPORT_KINDS or request.organization_id is not None:
        return
    if request.status not in (RequestStatus.RECEIVED, RequestStatus.IN_PROGRESS, RequestStatus.EXTENDED):
        return  # verifying (an agent's request not confirmed yet), paused, or closed
    start_export(request)


@transaction.atomic
def start_export(request: DataSubjectRequest, *, actor=None) -> ExportArchive:
    """REQ-7: queue the archive of everything held about the person; the Celery task
    ``build_export`` builds it after commit. Idempotent: an archive queued, building or
    ready (and not expired) is returned as it is."""
    if request.kind not in EXPORT_KINDS:
        raise ValidationError(_("Only an access or portability request is answered with an archive."), code="kind")
    _require_open(request)
    if request.subject_id is None:
        raise ValidationError(_("The person this request is about no longer has an account."), code="no_subject")
    request = DataSubjectRequest.objects.select_for_update().get(pk=request.pk)
    live = (
        ExportArchive.objects.filter(request=request, status__in=LIVE_EXPORT_STATUSES)
        .exclude(status=ExportStatus.READY, expires_at__lte=timezone.now())
        .first()
    )
    if live is not None:
        return live
    _start_handling(request, actor=actor)
    archive = ExportArchive.objects.create(request=request, sections_total=len(SECTIONS))
    record_event(
        "request.export_started",
        actor=actor,
        subject=request.subject,
        target=archive,
        organization=request.organization_id,
        metadata={"reference": request.reference},
    )
    build_export.delay_on_commit(archive.pk)
    return archive


def can_download(archive: ExportArchive, user) -> bool:
    """Only the person the request is about, while the archive is ready and not expired."""
    return (
        getattr(user, "is_authenticated", False)
        and archive.request.subject_id == user.pk
        and archive.status == ExportStatus.READY
        and archive.expires_at is not None
        and archive.expires_at > timezone.now()
    )


def export_progress(archive: ExportArchive) -> dict:
    """REQ-7: how far the archive is, for the download panel and the API: its status
    (expired as soon as a ready archive's time is up, before ``expire_exports`` marks
    it), the sections prepared out of how many, whether it can be downloaded, and since
    when it has been waiting for a worker (``None`` while one builds it)."""
    status = archive.status
    if status == ExportStatus.READY and archive.expires_at and archive.expires_at <= timezone.now():
        status = ExportStatus.EXPIRED
    ready = status == ExportStatus.READY
    total = archive.sections_total or 1
    done = total if ready else min(archive.sections_done, total)
    working = status in (ExportStatus.QUEUED, ExportStatus.BUILDING)
    return {
        "status": status,
        "sections_done": done,
        "sections_total": total,
        "percent": round(100 * done / total),
        "ready": ready,
        # Queued or building, and no live worker on it: since when it waits for one.
        "waiting_since": liveness.waiting_since(archive.heartbeat_at) if working else None,
    }


@transaction.atomic
def download_export(archive: ExportArchive, *, user, ip=None) -> bytes:
    """REQ-7: the archive's ZIP, for the person the request is about only (Http404 for
    anyone else: the archive is not theirs to know of); ``ExportUnavailable`` unless it
    is ready and not expired. Every download is counted and audited."""
    if not getattr(user, "is_authenticated", False) or archive.request.subject_id != user.pk:
        raise Http404
    if not can_download(archive, user):
        raise ExportUnavailable
    data = files.read_decrypted(archive.stored_file, EXPORT_PURPOSE)
    ExportArchive.objects.filter(pk=archive.pk).update(downloads=F("downloads") + 1)
    record_event(
        "request.export_downloaded",
        actor=user,
        subject=user,
        target=archive,
        ip=ip,
        metadata={"reference": archive.request.reference, "sha256": archive.sha256},
    )
    return data


# --------------------------------------------------------------------------- evidence


def read_evidence(request: DataSubjectRequest, *, actor, ip=None) -> bytes:
    """The evidence the person attached to a correction, for its handler; audited
    (the caller passed the permission gate)."""
    if not request.evidence:
        raise Http404
    data = files.read_decrypted(request.evidence, EVIDENCE_FILE_PURPOSE)
    workflow.audit_request("request.evidence_viewed", request, actor=actor, ip=ip)
    return data


# --------------------------------------------------------------------------- corrections (REQ-5)


def clean_proposed_value(field: str, raw: str):
    """The proposed value as the roster stores it (mobile in E.164, ID number
    normalized, dates parsed), or ValidationError naming what is wrong."""
    if field not in CORRECTABLE_FIELDS:
        raise ValidationError(_("“%(field)s” is not a roster field that can be corrected.") % {"field": field})
    raw = (raw or "").strip()
    if field in EDIT_CLEANERS:
        return EDIT_CLEANERS[field](raw)
    return Member._meta.get_field(field).formfield().clean(raw)


def _recipients(member_ids=(), user_ids=()) -> list[tuple[object, list[int], list[int]]]:
    """(service, member ids, user ids) of every third party that received the data
    (SVC-5 ``Disclosure``); first-party services are ours."""
    condition = Q(pk__in=[])
    if member_ids:
        condition |= Q(member_id__in=list(member_ids))
    if user_ids:
        condition |= Q(member__isnull=True, user_id__in=list(user_ids))
    by_service: dict[int, tuple[object, set[int], set[int]]] = {}
    rows = Disclosure.objects.filter(condition).exclude(service__kind=ServiceKind.FIRST_PARTY).select_related("service")
    for disclosure in rows.order_by("service_id", "pk"):
        _service, members, users = by_service.setdefault(disclosure.service_id, (disclosure.service, set(), set()))
        if disclosure.member_id is not None:
            members.add(disclosure.member_id)
        elif disclosure.user_id is not None:
            users.add(disclosure.user_id)
    return [(service, sorted(members), sorted(users)) for service, members, users in by_service.values()]


def _notify_recipients(reason: str, *, organization_id, member_ids=(), user_ids=()) -> int:
    queued = 0
    for service, members, users in _recipients(member_ids, user_ids):
        notice = notices.queue_deletion_notice(
            service, reason, organization_id=organization_id, member_ids=members, user_ids=users
        )
        queued += notice is not None
    return queued


@transaction.atomic
def apply_correction(request: DataSubjectRequest, *, actor, ip=None) -> list[str]:
    """REQ-5: apply the correction or supplement a person asked for to their roster entry,
    through the roster service (edit rights, collection settings and consent rules of
    ORG-5 to ORG-7 apply), complete the request, and tell every third party that
    received the entry's data that its copy is outdated (reason ``corrected``: delete or
    fetch again). Returns the fields changed; nothing is written on an error."""
    if request.kind not in CORRECTION_KINDS:
        raise ValidationError(_("Only a correction or supplement request can be applied."), code="kind")
    _require_open(request)
    if request.organization_id is None or request.member_id is None:
        raise ValidationError(
            _("This request is not about a roster entry: answer it and change the data where it is kept."),
            code="no_member",
        )
    access = _handler_access(request, actor)
    # update_member checks edit_roster (and view_sensitive) on the entry itself.
    member = Member.objects.prefetch_related("departments").filter(pk=request.member_id).first()
    if member is None or member.organization_id != request.organization_id:
        raise ValidationError(_("The roster entry of this request no longer exists."), code="no_member")
    value = clean_proposed_value(request.field, request.proposed_value)
    changed = roster.update_member(access, member, {request.field: value}, ip)
    # The answer is read by the person, in their language, not the handler's.
    label = deferred_text.label(Member._meta.get_field(request.field).verbose_name, capfirst=True)
    if changed:
        recipients = _notify_recipients(
            NoticeReason.CORRECTED, organization_id=request.organization_id, member_ids=[member.pk]
        )
        outcome = deferred(gettext_noop("“%(field)s” was corrected as you asked."), field=label)
    else:
        recipients = 0
        outcome = deferred(
            gettext_noop("“%(field)s” already had the value you asked for: nothing needed to change."), field=label
        )
    _start_handling(request, actor=actor, ip=ip)
    workflow.complete_request(request, actor=actor, outcome=outcome, ip=ip)
    workflow.audit_request(
        "request.correction_applied",
        request,
        actor=actor,
        ip=ip,
        changes=changed,
        field=request.field,
        recipients_notified=recipients,
    )
    return changed


# --------------------------------------------------------------------------- deletion (REQ-8)


def plan_member_erasure(job: AnonymizationJob) -> list[StageSpec]:
    """REQ-8: the planner of a ``member_erasure`` job: the roster entries named in the
    job (one, for a deletion request) become anonymous placeholders with status left,
    and every record pointing at them is anonymized or deleted per its declaration --
    the logic of ``organizations.services.disband.plan_member_records_of_person`` for
    the named entries only. The account, its administrator rows and other memberships
    are not touched, nor are the requests themselves (the record that a request was
    answered; it loses the entry's link with its other personal fields only when the
    account is deleted)."""
    member_ids = [int(pk) for pk in job.preview.get("member_ids", [])]
    if not member_ids:
        return []
    specs: list[StageSpec] = []
    for model in sorted(declared_models(), key=lambda m: m._meta.label):
        if model._meta.app_label == "requests" or not anonymization.has_personal_data(model):
            continue
        action = anonymization.default_action(model)
        phase = 1 if action == StageAction.DELETE else 0
        if model is Member:
            specs.append(StageSpec(model._meta.label, {"pk__in": member_ids}, extra={"status": MemberStatus.LEFT}))
            continue
        for fk in model._meta.concrete_fields:
            if fk.many_to_one and fk.related_model is Member:
                specs.append(StageSpec(model._meta.label, {f"{fk.attname}__in": member_ids}, phase=phase))
    return specs


def _request_of_job(job: AnonymizationJob) -> DataSubjectRequest | None:
    request_id = (job.preview or {}).get("request_id")
    if not request_id:
        return None
    return DataSubjectRequest.objects.filter(pk=request_id, status__in=OPEN_STATUSES).first()


def finish_request_deletion(job: AnonymizationJob) -> None:
    """Finisher of the jobs a deletion request started (member erasure, or the account
    deletion): the request completes when the engine has verified the cascade (ANON-7)."""
    request = _request_of_job(job)
    if request is None:
        return
    # Written on a worker: stored as a message, rendered in the reader's language.
    if job.kind == JobKind.ACCOUNT_DELETION:
        outcome = deferred(gettext_noop("Your account and the data held about you were deleted."))
    else:
        outcome = deferred(
            gettext_noop("The data %(organization)s held about you in its roster and records was deleted."),
            organization=request.organization.name
            if request.organization
            else deferred(gettext_noop("the organization")),
        )
    workflow.complete_request(request, actor=None, outcome=outcome)


# Phases of the account-deletion stages of this app: what hangs off a request first,
# then the requests lose the person (the lookups of the first phase go through them),
# all before the account row (accounts.services.deletion.ACCOUNT_PHASE).
REQUEST_CHILDREN_PHASE = 1
REQUEST_PHASE = 2


def plan_person_requests(job: AnonymizationJob) -> list[StageSpec]:
    """ACC-5, ANON-3: account deletion and the requests app. The person's requests stay
    as the record that they were answered, without the person (subject, details,
    proposed value, evidence and outcome go, per the declaration); their visible and
    internal events lose their text, archives are deleted with their files, automated
    decisions about them are deleted. Requests they filed as someone's agent lose the
    agent and the proof; events they wrote as a handler lose the author."""
    user_id = job.subject_id
    label = lambda model: model._meta.label  # noqa: E731
    return [
        StageSpec(label(RequestEvent), {"request__subject_id": user_id}, phase=REQUEST_CHILDREN_PHASE),
        StageSpec(label(RequestEvent), {"actor_id": user_id}, only=("actor",), phase=REQUEST_CHILDREN_PHASE),
        StageSpec(label(ExportArchive), {"request__subject_id": user_id}, phase=REQUEST_CHILDREN_PHASE),
        StageSpec(label(AutomatedDecision), {"subject_id": user_id}, phase=REQUEST_CHILDREN_PHASE),
        StageSpec(label(DataSubjectRequest), {"agent_id": user_id}, only=("agent", "agent_proof"), phase=REQUEST_PHASE),
        StageSpec(label(DataSubjectRequest), {"subject_id": user_id}, phase=REQUEST_PHASE),
    ]


def _record_backup_isolation(request: DataSubjectRequest, *, actor, ip=None) -> dt.datetime:
    """EN V(II), REQ-8: backups cannot be rewritten; what they hold of the person is kept
    out of any processing (never restored into live systems, never read) until the
    backup is purged. Recorded on the request, for the person to read."""
    purge_on = timezone.now() + dt.timedelta(days=backup_retention_days())
    workflow.add_note(
        request,
        actor=actor,
        internal=False,
        ip=ip,
        text=deferred(
            gettext_noop(
                "Backups that still hold this data are isolated from any processing until they are purged on "
                "%(date)s: they are never restored into live systems or read."
            ),
            date=timezone.localdate(purge_on),
        ),
    )
    return purge_on


@transaction.atomic
def carry_out_deletion(request: DataSubjectRequest, *, actor, ip=None) -> AnonymizationJob | None:
    """REQ-8: carry out a deletion request. Routed to an organization: the roster entry
    and its records are erased by the anonymization engine (a ``member_erasure`` job);
    routed to operations staff: the account deletion (ACC-5) is scheduled. Every third
    party that received the data is told to delete it, the isolation of backups is
    recorded on the request, and the request completes when the job does (right away,
    with an outcome, when nothing is left to delete). Returns the job, if any."""
    if request.kind not in DELETION_KINDS:
        raise ValidationError(_("Only a deletion request can be carried out."), code="kind")
    _require_open(request)
    if request.organization_id is not None:
        _handler_access(request, actor)
        job = _erase_member(request, actor=actor, ip=ip)
    else:
        job = _delete_account(request, actor=actor, ip=ip)
    _start_handling(request, actor=actor, ip=ip)
    purge_on = _record_backup_isolation(request, actor=actor, ip=ip)
    if job is None:
        workflow.complete_request(
            request,
            actor=actor,
            ip=ip,
            outcome=deferred(gettext_noop("Nothing about you was left to delete: the data was deleted already.")),
        )
    workflow.audit_request(
        "request.deletion_started",
        request,
        actor=actor,
        ip=ip,
        job=job.pk if job is not None else None,
        backups_isolated_until=purge_on.isoformat(),
    )
    return job


def _erase_member(request: DataSubjectRequest, *, actor, ip=None) -> AnonymizationJob | None:
    member = Member.objects.filter(pk=request.member_id, organization_id=request.organization_id).first()
    if member is None:
        return None
    # The recipients are read before the cascade unlinks the disclosures from the entry.
    _notify_recipients(NoticeReason.DELETION_REQUESTED, organization_id=request.organization_id, member_ids=[member.pk])
    job = anonymization.create_job(
        JobKind.MEMBER_ERASURE,
        organization_id=request.organization_id,
        subject_id=request.subject_id,
        requested_by=actor if getattr(actor, "is_authenticated", False) else None,
        label=f"{request.reference}",
        preview={"request_id": request.pk, "member_ids": [member.pk]},
    )
    enqueue_drivers(job.pk)
    return job


def _delete_account(request: DataSubjectRequest, *, actor, ip=None) -> AnonymizationJob | None:
    """The account deletion of ACC-5 on the person's verified request: the same job kind
    and cooling-off period (the person can still cancel it from their account page),
    the same blockers (an owner hands the organization over first)."""
    user = User.objects.filter(pk=request.subject_id).first()
    if user is None:
        return None
    blockers = deletion_blockers(user)
    if blockers:
        raise ValidationError(" ".join(blockers), code="blocked")
    pending = AccountDeletionRequest.objects.filter(
        user=user, status__in=[DeletionStatus.RECEIVED, DeletionStatus.PROCESSING]
    ).first()
    if pending is not None and pending.job_id:
        job = AnonymizationJob.objects.filter(pk=pending.job_id, status__in=LIVE_JOB_STATUSES).first()
        if job is not None:
            # Already on its way: this request completes with it.
            AnonymizationJob.objects.filter(pk=job.pk).update(preview={**job.preview, "request_id": request.pk})
            return job
    now = timezone.now()
    grace = dt.timedelta(days=settings.ACCOUNT_DELETION_GRACE_DAYS)
    job = anonymization.create_job(
        JobKind.ACCOUNT_DELETION,
        subject_id=user.pk,
        requested_by=actor if getattr(actor, "is_authenticated", False) else None,
        not_before=now + grace,
        label=request.reference,
        preview={"request_id": request.pk},
    )
    deletion = AccountDeletionRequest.objects.create(
        user=user,
        reason=_("Deletion request %(reference)s") % {"reference": request.reference},
        requested_at=now,
        verified_at=request.verified_at or now,
        job_id=job.pk,
    )
    record_event("account.deletion_requested", actor=actor, subject=user, target=deletion, ip=ip)
    if not grace:
        enqueue_drivers(job.pk)
    return job


def deletion_is_running(request: DataSubjectRequest) -> AnonymizationJob | None:
    """The live job a deletion request started, for its page."""
    return (
        AnonymizationJob.objects.filter(preview__request_id=request.pk, status__in=LIVE_JOB_STATUSES)
        .order_by("-pk")
        .first()
    )
