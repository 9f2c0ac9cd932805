"""The person's side of data-subject requests: filing (REQ-1 to REQ-3), agents and the
person's confirmation (REQ-9), withdrawal, escalation to a complaint (REQ-10).

A request exists only once the filer typed a fresh SMS code sent to their own verified
number (REQ-3): the code is checked before anything is written and consumed in the same
transaction that creates the request. Uploaded files (correction evidence, an agent's
proof of authority) are stored encrypted inside that transaction and deleted again if
it fails, so a refused filing leaves nothing behind.

Duplicates and excessive repeats (REQ-6) are flagged for the handlers with
``duplicate_of`` and an internal note; they never block the filing or its verification.
"""

from __future__ import annotations

from datetime import timedelta
from functools import partial

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from accounts.models import CodePurpose, User
from accounts.services.codes import check_code, consume_code
from consent.models import Purpose
from dataprotection.deferred_text import deferred
from dataprotection.files import delete_stored, sniff_document_type, store_encrypted
from organizations.models import Member, MemberStatus
from organizations.services.collection import collected_fields
from requests.models import (
    AGENT_PROOF_FILE_PURPOSE,
    DELETION_KINDS,
    EVIDENCE_FILE_PURPOSE,
    KINDS_BY_JURISDICTION,
    AutomatedDecision,
    DataSubjectRequest,
    DeletionGround,
    EventKind,
    Jurisdiction,
    RequestEvent,
    RequestKind,
    RequestStatus,
)
from requests.selectors import CORRECTABLE_PROFILE_FIELDS
from requests.services import deadlines, decisions, fulfilment, workflow

STRUCTURED_KINDS = frozenset({RequestKind.CORRECTION, RequestKind.SUPPLEMENT})
# How the identity behind a request was verified (REQ-3), kept on the request.
VERIFIED_BY_CODE = "sms_code"
VERIFIED_BY_CONFIRMATION = "agent_confirmed"
VERIFIED_BY_ESCALATION = "escalation"
REPEAT_WINDOW = timedelta(days=365)


def file_max_bytes() -> int:
    return settings.REQUEST_FILE_MAX_BYTES


def read_document(upload, *, field: str) -> bytes:
    """The content of an uploaded PDF, PNG or JPEG document, recognized from its bytes
    (never from its name or claimed type) and no larger than ``file_max_bytes()``;
    ``ValidationError`` keyed by ``field`` otherwise."""
    limit = file_max_bytes()
    if upload.size > limit:
        raise ValidationError(
            {
                field: ValidationError(
                    _("The file is %(size)s; the largest allowed is %(limit)s."),
                    code="too_large",
                    params={"size": filesizeformat(upload.size), "limit": filesizeformat(limit)},
                )
            }
        )
    upload.seek(0)
    content = upload.read(limit + 1)
    upload.seek(0)
    if len(content) > limit:  # the declared size lied
        raise ValidationError(
            {
                field: ValidationError(
                    _("The file is larger than %(limit)s."),
                    code="too_large",
                    params={"limit": filesizeformat(limit)},
                )
            }
        )
    if sniff_document_type(content[:16]) is None:
        raise ValidationError({field: ValidationError(_("Upload a PDF, PNG or JPEG file."), code="file_type")})
    return content


def _validate_payload(
    *, kind: str, jurisdiction: str, deletion_grounds, field: str, proposed_value: str, details: str
) -> None:
    """What the kind itself requires (REQ-1, REQ-2), before any code is looked at."""
    if jurisdiction not in Jurisdiction.values:
        raise ValidationError({"jurisdiction": _("Choose where you live.")}, code="jurisdiction")
    if kind not in KINDS_BY_JURISDICTION[jurisdiction]:
        raise ValidationError(
            {"kind": _("This kind of request is not available in the jurisdiction you chose.")}, code="kind"
        )
    errors: dict[str, str] = {}
    if kind in DELETION_KINDS:
        if not deletion_grounds:
            errors["deletion_grounds"] = _("Choose at least one ground for the deletion.")
        elif set(deletion_grounds) - set(DeletionGround.values):
            errors["deletion_grounds"] = _("Choose grounds from the list.")
    if kind in STRUCTURED_KINDS:
        if not field:
            errors["target"] = _("Choose which data is wrong or incomplete.")
        if not proposed_value.strip():
            errors["proposed_value"] = _("Say what the data should be.")
    if kind == RequestKind.CONSENT_WITHDRAWAL and field not in Purpose.values:
        errors["purpose"] = _("Choose the consent you withdraw.")
    if kind == RequestKind.COMPLAINT and not details.strip():
        errors["details"] = _("Describe what you are complaining about.")
    if errors:
        raise ValidationError(errors)


def _validate_target(subject: User, kind: str, member: Member | None, field: str) -> None:
    """A correction or supplement is about one of the subject's profile fields, or a
    field their organization collects on their own current roster entry (ORG-5)."""
    if kind not in STRUCTURED_KINDS:
        if member is not None:
            raise ValidationError({"target": _("This kind of request is not about a roster entry.")})
        return
    if member is None:
        if field not in CORRECTABLE_PROFILE_FIELDS:
            raise ValidationError({"target": _("Choose which data is wrong or incomplete.")})
        return
    if (
        member.user_id != subject.pk
        or member.status == MemberStatus.LEFT
        or field not in collected_fields(member.organization)
    ):
        raise ValidationError({"target": _("Choose which data is wrong or incomplete.")})


def _resolve_subject(filer: User, subject: User | None, subject_phone: str, otc) -> User:
    """The person the request is about. An agent names them by their mobile number; a
    number without an account gets one plain answer, and the code is spent so that each
    number tried costs a fresh, rate-limited code (REQ-9)."""
    if subject is not None:
        return subject
    if not subject_phone:
        return filer
    found = User.objects.filter(phone=subject_phone, is_active=True).first()
    if found is None or found.pk == filer.pk:
        with transaction.atomic():
            consume_code(otc)
        raise ValidationError(
            {
                "subject_phone": _(
                    "No request can be filed for this number. Check the number with the person: they need "
                    "a Custodia account. Ask for a new code to try again."
                )
            },
            code="unknown_subject",
        )
    return found


def _flag_repeats(subject: User, kind: str, member: Member | None, field: str, decision) -> tuple:
    """REQ-6: the open request this one repeats, or the latest of the excessive run of
    requests of this kind in twelve months; the notes for the handlers; and the number of
    earlier requests when they are too many (else 0). Never blocks."""
    mine = DataSubjectRequest.objects.filter(subject=subject, kind=kind)
    identical = mine.open().filter(member=member, field=field)
    if kind == RequestKind.AUTOMATED_DECISION:
        identical = identical.filter(automated_decision=decision)
    same = identical.order_by("-received_at", "-pk").first()
    recent = mine.filter(received_at__gte=timezone.now() - REPEAT_WINDOW)
    earlier = recent.count()
    notes = []
    if same is not None:
        notes.append(deferred(gettext_noop("Same as the open request %(reference)s."), reference=same.reference))
    repeated = earlier >= settings.REQUEST_REPEAT_LIMIT
    if repeated:
        notes.append(
            deferred(
                gettext_noop(
                    "Excessive repeat: %(count)d earlier requests of this kind in the last twelve months "
                    "(the limit is %(limit)d)."
                ),
                count=earlier,
                limit=settings.REQUEST_REPEAT_LIMIT,
            )
        )
        if same is None:
            same = recent.order_by("-received_at", "-pk").first()
    return same, notes, earlier if repeated else 0


def file_request(
    *,
    filer: User,
    kind: str,
    jurisdiction: str,
    code: str,
    subject: User | None = None,
    member: Member | None = None,
    details: str = "",
    deletion_grounds=(),
    field: str = "",
    proposed_value: str = "",
    evidence=None,
    agent_proof=None,
    automated_decision: AutomatedDecision | None = None,
    ip: str | None = None,
    subject_phone: str = "",
) -> DataSubjectRequest:
    """REQ-1 to REQ-3, REQ-9: record a request verified by the filer's fresh SMS code.

    ``subject`` (or ``subject_phone``, the person's mobile number in E.164 form) names
    the person when an authorized agent files; the agent's proof of authority is then
    required and the request waits in *verifying* until the person confirms it. Errors
    are ``ValidationError``s keyed by the filing form's field names; nothing is written
    (a wrong code only counts as a wrong guess)."""
    deletion_grounds = list(dict.fromkeys(deletion_grounds or ()))
    details = (details or "").strip()
    proposed_value = (proposed_value or "").strip()
    _validate_payload(
        kind=kind,
        jurisdiction=jurisdiction,
        deletion_grounds=deletion_grounds,
        field=field,
        proposed_value=proposed_value,
        details=details,
    )
    # Only what the kind is about is kept: a stray field or file never reaches the
    # handlers, nor makes two different requests look like duplicates.
    if kind not in DELETION_KINDS:
        deletion_grounds = []
    if kind not in STRUCTURED_KINDS:
        proposed_value, evidence = "", None
        if kind != RequestKind.CONSENT_WITHDRAWAL:
            field = ""
    as_agent = bool(subject_phone) or (subject is not None and subject.pk != filer.pk)
    if as_agent and agent_proof is None:
        raise ValidationError({"agent_proof": _("Upload your proof of authority.")}, code="no_proof")
    if kind == RequestKind.AUTOMATED_DECISION and automated_decision is None:
        raise ValidationError({"automated_decision": _("Choose the decision.")}, code="no_decision")
    evidence_content = read_document(evidence, field="evidence") if evidence is not None else None
    proof_content = read_document(agent_proof, field="agent_proof") if as_agent else None

    otc = check_code(filer.phone, CodePurpose.REVERIFY, code)
    subject = _resolve_subject(filer, subject if as_agent else None, subject_phone, otc)
    _validate_target(subject, kind, member, field)
    if automated_decision is not None and (
        kind != RequestKind.AUTOMATED_DECISION or automated_decision.subject_id != subject.pk
    ):
        raise ValidationError({"automated_decision": _("Choose the decision.")}, code="no_decision")

    written: list[str] = []
    try:
        with transaction.atomic():
            consume_code(otc)
            request = _create_request(
                filer=filer,
                subject=subject,
                as_agent=as_agent,
                kind=kind,
                jurisdiction=jurisdiction,
                member=member,
                details=details,
                deletion_grounds=deletion_grounds,
                field=field,
                proposed_value=proposed_value,
                automated_decision=automated_decision,
                evidence_content=evidence_content,
                proof_content=proof_content,
                written=written,
                ip=ip,
            )
    except BaseException:
        for name in written:
            delete_stored(name)
        raise
    return request


def _create_request(
    *,
    filer,
    subject,
    as_agent,
    kind,
    jurisdiction,
    member,
    details,
    deletion_grounds,
    field,
    proposed_value,
    automated_decision,
    evidence_content,
    proof_content,
    written,
    ip,
) -> DataSubjectRequest:
    now = timezone.now()
    same, notes, earlier_count = _flag_repeats(subject, kind, member, field, automated_decision)
    repeated = bool(earlier_count)
    evidence_name = proof_name = ""
    if evidence_content is not None:
        evidence_name = store_encrypted(evidence_content, EVIDENCE_FILE_PURPOSE)
        written.append(evidence_name)
    if proof_content is not None:
        proof_name = store_encrypted(proof_content, AGENT_PROOF_FILE_PURPOSE)
        written.append(proof_name)
    # An agent's request waits for the person (REQ-9); its due date is provisional and
    # runs again from their confirmation.
    due_on = deadlines.initial_due_on(jurisdiction, now)
    request = DataSubjectRequest.objects.create(
        kind=kind,
        jurisdiction=jurisdiction,
        subject=subject,
        agent=filer if as_agent else None,
        agent_proof=proof_name,
        organization=workflow.route(subject, kind, member=member, field=field),
        member=member,
        details=details,
        deletion_grounds=deletion_grounds,
        field=field,
        proposed_value=proposed_value,
        evidence=evidence_name,
        automated_decision=automated_decision,
        duplicate_of=same,
        status=RequestStatus.VERIFYING if as_agent else RequestStatus.RECEIVED,
        received_at=now,
        verified_at=None if as_agent else now,
        verification_method="" if as_agent else VERIFIED_BY_CODE,
        original_due_on=due_on,
        due_on=due_on,
    )
    RequestEvent.objects.create(
        request=request,
        kind=EventKind.TRANSITION,
        at=now,
        actor=filer,
        to_status=request.status,
        message=deferred(
            gettext_noop("Filed by an authorized agent. It waits for the person to confirm it.")
            if as_agent
            else gettext_noop("Request received. Your identity was verified with an SMS code.")
        ).dumps(),
        internal=False,
    )
    for note in notes:
        RequestEvent.objects.create(request=request, kind=EventKind.NOTE, at=now, message=note.dumps(), internal=True)
    if repeated:
        # REQ-11: the flag may lead handlers to refuse or charge, so the person can read
        # why it was raised and appeal it like any automated decision -- in their own
        # language, whoever filed (an agent may use another).
        with translation.override(subject.preferred_language or settings.LANGUAGE_CODE):
            decisions.record_automated_decision(
                subject,
                system=_("Repeat check of data-subject requests"),
                decision=_("Request %(reference)s was flagged as an excessive repeat")
                % {"reference": request.reference},
                explanation=_(
                    "You filed %(count)d requests of this kind in the last twelve months; more than %(limit)d may "
                    "be refused or charged for as unreasonable repeats. A person reviews the request before any "
                    "refusal."
                )
                % {"count": earlier_count, "limit": settings.REQUEST_REPEAT_LIMIT},
                organization=request.organization,
            )
    workflow.audit_request(
        "request.filed",
        request,
        actor=filer,
        ip=ip,
        kind=kind,
        jurisdiction=jurisdiction,
        agent=as_agent,
        duplicate_of=same.reference if same else None,
        excessive_repeat=repeated,
    )
    transaction.on_commit(partial(fulfilment.on_request_received, request.pk))
    return request


def _lock(request: DataSubjectRequest) -> DataSubjectRequest:
    return DataSubjectRequest.objects.select_for_update().get(pk=request.pk)


def confirm_as_subject(request: DataSubjectRequest, *, person: User, ip: str | None = None) -> DataSubjectRequest:
    """REQ-9: the person confirms a request an agent filed for them. It is received
    now, and its due date runs from this confirmation (recorded on the timeline)."""
    if request.subject_id != person.pk:
        raise ValidationError(_("Only the person the request is about can confirm it."), code="not_subject")
    with transaction.atomic():
        locked = _lock(request)
        if locked.status != RequestStatus.VERIFYING or locked.agent_id is None:
            raise ValidationError(_("This request is not waiting for your confirmation."), code="not_verifying")
        now = timezone.now()
        due_on = deadlines.initial_due_on(locked.jurisdiction, now)
        locked.subject_confirmed_at = now
        locked.verified_at = now
        locked.verification_method = VERIFIED_BY_CONFIRMATION
        locked.original_due_on = due_on
        locked.due_on = due_on
        locked.save(
            update_fields=["subject_confirmed_at", "verified_at", "verification_method", "original_due_on", "due_on"]
        )
        workflow.transition(
            locked,
            RequestStatus.RECEIVED,
            actor=person,
            text=deferred(gettext_noop("The person confirmed the request. It is due on %(date)s."), date=due_on),
            internal=False,
            ip=ip,
        )
        transaction.on_commit(partial(fulfilment.on_request_received, locked.pk))
    return locked


def withdraw_request(request: DataSubjectRequest, *, person: User, ip: str | None = None) -> DataSubjectRequest:
    """The requester withdraws an open request; the person rejects an agent's request
    that waits for their confirmation (REQ-9). Both end as *withdrawn*."""
    if person.pk not in (request.subject_id, request.agent_id):
        raise ValidationError(_("Only the requester can withdraw this request."), code="not_requester")
    with transaction.atomic():
        locked = _lock(request)
        if not locked.is_open:
            raise ValidationError(_("This request is already closed."), code="closed")
        rejected = (
            locked.status == RequestStatus.VERIFYING and locked.agent_id is not None and person.pk == locked.subject_id
        )
        text = deferred(
            gettext_noop("The person did not confirm the agent's request.")
            if rejected
            else gettext_noop("Withdrawn by the requester.")
        )
        workflow.transition(locked, RequestStatus.WITHDRAWN, actor=person, text=text, internal=False, ip=ip)
    return locked


def can_escalate(request: DataSubjectRequest) -> bool:
    return request.status in (RequestStatus.COMPLETED, RequestStatus.REFUSED) and request.subject_id is not None


def escalate_to_complaint(
    request: DataSubjectRequest, *, person: User, details: str, ip: str | None = None
) -> DataSubjectRequest:
    """REQ-10: a requester not satisfied with the answer to a completed or refused
    request turns it into a complaint, linked by ``escalated_from``. The complaint is
    answered by operations staff unless routing says otherwise; the requester's pages
    name the regulator of their jurisdiction (``regulator_route``)."""
    if person.pk not in (request.subject_id, request.agent_id):
        raise ValidationError(_("Only the requester can escalate this request."), code="not_requester")
    details = (details or "").strip()
    if not details:
        raise ValidationError({"details": _("Say what you are not satisfied with.")}, code="no_details")
    with transaction.atomic():
        original = _lock(request)
        if not can_escalate(original):
            raise ValidationError(
                _("Only a completed or refused request can be escalated to a complaint."), code="not_closed"
            )
        if original.escalations.open().exists():
            raise ValidationError(_("A complaint about this request is already open."), code="already_escalated")
        now = timezone.now()
        due_on = deadlines.initial_due_on(original.jurisdiction, now)
        complaint = DataSubjectRequest.objects.create(
            kind=RequestKind.COMPLAINT,
            jurisdiction=original.jurisdiction,
            subject=original.subject,
            agent=original.agent,
            agent_proof="",
            subject_confirmed_at=original.subject_confirmed_at,
            organization=workflow.route(original.subject, RequestKind.COMPLAINT),
            details=details,
            escalated_from=original,
            status=RequestStatus.RECEIVED,
            received_at=now,
            verified_at=now,
            verification_method=VERIFIED_BY_ESCALATION,
            original_due_on=due_on,
            due_on=due_on,
        )
        RequestEvent.objects.create(
            request=complaint,
            kind=EventKind.TRANSITION,
            at=now,
            actor=person,
            to_status=RequestStatus.RECEIVED,
            message=deferred(
                gettext_noop("Complaint about the answer to request %(reference)s."), reference=original.reference
            ).dumps(),
            internal=False,
        )
        RequestEvent.objects.create(
            request=original,
            kind=EventKind.MESSAGE,
            at=now,
            actor=person,
            message=deferred(
                gettext_noop("Escalated to the complaint %(reference)s."), reference=complaint.reference
            ).dumps(),
            internal=False,
        )
        workflow.audit_request("request.escalated", complaint, actor=person, ip=ip, escalated_from=original.reference)
        transaction.on_commit(partial(fulfilment.on_request_received, complaint.pk))
    return complaint


def regulator_route(jurisdiction: str) -> str:
    """REQ-10: where a requester still not satisfied after our answer can turn, by
    jurisdiction (EEA addendum 4, Australia addendum of the EN policy)."""
    routes = {
        Jurisdiction.EEA: _(
            "You can complain to the data protection supervisory authority of the EEA member state where you "
            "live or work, or where you believe the infringement took place."
        ),
        Jurisdiction.AUSTRALIA: _(
            "If you are not satisfied with the outcome of our assessment of your complaint, you may contact the "
            "Office of the Australian Information Commissioner (OAIC)."
        ),
        Jurisdiction.MAINLAND: _(
            "You can report or complain to the Cyberspace Administration of China or the other regulators "
            "responsible for personal information protection, or bring the matter before a court."
        ),
        Jurisdiction.CALIFORNIA: _(
            "You can complain to the California Privacy Protection Agency or to the California Attorney General."
        ),
        Jurisdiction.JAPAN: _("You can complain to the Personal Information Protection Commission of Japan."),
        Jurisdiction.INTERNATIONAL: _(
            "Your complaint is reviewed by our data protection team, independently of whoever answered the "
            "request; you can also contact the data protection authority where you live."
        ),
    }
    return routes.get(jurisdiction, routes[Jurisdiction.INTERNATIONAL])
