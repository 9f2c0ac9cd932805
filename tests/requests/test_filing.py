"""Filing data-subject requests (REQ-1 to REQ-3, REQ-6, REQ-9, REQ-10):
``requests.services.filing``."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase
from django.utils import timezone

from accounts.models import CodePurpose, OneTimeCode
from accounts.services.codes import CodeRejected, send_code
from consent.models import Purpose
from dataprotection.files import read_decrypted
from dataprotection.models import AuditEvent
from organizations.models import CollectionSetting, Edition
from requests.models import (
    DELETION_KINDS,
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
from requests.services import deadlines, filing, workflow
from tests.conftest import last_code
from tests.factories import MemberFactory, OrganizationFactory, UserFactory

PDF = b"%PDF-1.4\n% evidence\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture(autouse=True)
def _codes_on_demand(settings, tmp_path):
    # Tests ask for many codes in a row; the rate limits have their own tests.
    settings.SMS_CODE_RESEND_INTERVAL = timedelta(0)
    settings.SMS_CODES_PER_NUMBER_PER_HOUR = 1000
    settings.SMS_CODES_PER_IP_PER_HOUR = 1000
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "private")


@pytest.fixture
def person(db):
    return UserFactory(name="Person")


@pytest.fixture
def code_for(sms_outbox):
    """Send a fresh re-verification code to ``user`` and return it."""

    def send(user) -> str:
        with TestCase.captureOnCommitCallbacks(execute=True):  # the SMS leaves after commit
            send_code(user.phone, CodePurpose.REVERIFY, user=user)
        return last_code(sms_outbox, user.phone)

    return send


def stored_files(settings) -> list[Path]:
    root = Path(settings.PRIVATE_MEDIA_ROOT)
    return sorted(root.glob("*.bin")) if root.exists() else []


def arguments_for(kind: str, user) -> dict:
    """The least a request of ``kind`` needs besides the code."""
    if kind in DELETION_KINDS:
        return {"deletion_grounds": [DeletionGround.NO_LONGER_USED]}
    if kind in (RequestKind.CORRECTION, RequestKind.SUPPLEMENT):
        return {"field": "work_region", "proposed_value": "Hangzhou"}
    if kind == RequestKind.CONSENT_WITHDRAWAL:
        return {"field": Purpose.MARKETING}
    if kind == RequestKind.AUTOMATED_DECISION:
        decision = AutomatedDecision.objects.create(
            subject=user, system="Attendance", decision="Marked absent", explanation="No punch before 10:00."
        )
        return {"automated_decision": decision}
    if kind == RequestKind.COMPLAINT:
        return {"details": "Nobody answered my last request."}
    return {}


def file_for(user, code_for, kind=RequestKind.ACCESS, jurisdiction=Jurisdiction.MAINLAND, **extra):
    arguments = {**arguments_for(kind, user), **extra}
    return filing.file_request(
        filer=user, kind=kind, jurisdiction=jurisdiction, code=code_for(user), ip="203.0.113.5", **arguments
    )


CASES = [(jurisdiction, kind) for jurisdiction, kinds in KINDS_BY_JURISDICTION.items() for kind in kinds]


@pytest.mark.parametrize(("jurisdiction", "kind"), CASES)
def test_every_kind_of_every_jurisdiction_is_filed_verified_and_due(person, code_for, jurisdiction, kind):
    """REQ-1, REQ-3, REQ-4: each kind of each jurisdiction is filed after a fresh code,
    verified by it, due by the jurisdiction's deadline, with a public "received" event
    and one audit event."""
    request = file_for(person, code_for, kind, jurisdiction)
    request.refresh_from_db()
    assert request.status == RequestStatus.RECEIVED
    assert request.subject == person and request.agent is None
    assert request.verified_at is not None and request.verification_method == filing.VERIFIED_BY_CODE
    assert request.due_on == request.original_due_on == deadlines.initial_due_on(jurisdiction, request.received_at)
    event = RequestEvent.objects.get(request=request)
    assert (event.kind, event.to_status, event.internal) == (EventKind.TRANSITION, RequestStatus.RECEIVED, False)
    audit = AuditEvent.objects.get(action="request.filed")
    assert audit.metadata["reference"] == request.reference and audit.ip_address == "203.0.113.5"
    assert OneTimeCode.objects.get(phone=person.phone).used_at is not None


def test_a_kind_of_another_jurisdiction_is_refused(person, code_for):
    """REQ-1: objection is an EEA right; a mainland request cannot be one."""
    with pytest.raises(ValidationError) as caught:
        file_for(person, code_for, RequestKind.OBJECTION, Jurisdiction.MAINLAND)
    assert "kind" in caught.value.message_dict
    assert not DataSubjectRequest.objects.exists()


def test_a_wrong_code_writes_nothing_and_counts_the_guess(person, code_for):
    """REQ-3: only a valid code creates the request."""
    good = code_for(person)
    wrong = "000000" if good != "000000" else "111111"
    with pytest.raises(CodeRejected):
        filing.file_request(filer=person, kind=RequestKind.ACCESS, jurisdiction=Jurisdiction.MAINLAND, code=wrong)
    assert not DataSubjectRequest.objects.exists()
    assert not AuditEvent.objects.filter(action="request.filed").exists()
    assert OneTimeCode.objects.get().failed_attempts == 1


def test_an_expired_code_is_refused(person, code_for):
    """REQ-3: the code must be fresh."""
    code = code_for(person)
    OneTimeCode.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(CodeRejected) as caught:
        filing.file_request(filer=person, kind=RequestKind.ACCESS, jurisdiction=Jurisdiction.MAINLAND, code=code)
    assert caught.value.code == "expired"
    assert not DataSubjectRequest.objects.exists()


def test_a_code_serves_one_request_and_no_code_none(person, code_for):
    """REQ-3: a code is used once; without one sent there is no request."""
    with pytest.raises(CodeRejected) as caught:
        filing.file_request(filer=person, kind=RequestKind.ACCESS, jurisdiction=Jurisdiction.MAINLAND, code="123456")
    assert caught.value.code == "no_code"
    code = code_for(person)
    filing.file_request(filer=person, kind=RequestKind.ACCESS, jurisdiction=Jurisdiction.MAINLAND, code=code)
    with pytest.raises(CodeRejected) as caught:
        filing.file_request(filer=person, kind=RequestKind.ACCESS, jurisdiction=Jurisdiction.MAINLAND, code=code)
    assert caught.value.code == "used"
    assert DataSubjectRequest.objects.count() == 1


def test_a_code_sent_to_someone_else_does_not_verify_the_filer(person, code_for):
    """REQ-3: the code is bound to the signed-in account's own number."""
    other = UserFactory()
    code = code_for(other)
    with pytest.raises(CodeRejected):
        filing.file_request(filer=person, kind=RequestKind.ACCESS, jurisdiction=Jurisdiction.MAINLAND, code=code)
    assert not DataSubjectRequest.objects.exists()


@pytest.mark.parametrize("grounds", [[], ["not-a-ground"]])
def test_deletion_needs_grounds_from_the_list(person, code_for, grounds):
    """REQ-2: a deletion request records at least one of the policy's grounds."""
    with pytest.raises(ValidationError) as caught:
        file_for(person, code_for, RequestKind.DELETION, deletion_grounds=grounds)
    assert "deletion_grounds" in caught.value.message_dict
    assert not DataSubjectRequest.objects.exists()


def test_deletion_grounds_are_recorded(person, code_for):
    """REQ-2."""
    grounds = [DeletionGround.NO_CONSENT, DeletionGround.SERVICE_ENDED]
    request = file_for(person, code_for, RequestKind.CA_DELETION, Jurisdiction.CALIFORNIA, deletion_grounds=grounds)
    request.refresh_from_db()
    assert request.deletion_grounds == grounds


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        ({"field": "", "proposed_value": "x"}, "target"),
        ({"field": "work_region", "proposed_value": "  "}, "proposed_value"),
        ({"field": "phone", "proposed_value": "+8613900000000"}, "target"),
        ({"field": "is_staff", "proposed_value": "true"}, "target"),
    ],
)
def test_a_correction_names_a_profile_field_and_the_value(person, code_for, extra, error):
    """REQ-1: a correction is structured: which field, the proposed value."""
    with pytest.raises(ValidationError) as caught:
        file_for(person, code_for, RequestKind.CORRECTION, **extra)
    assert error in caught.value.message_dict
    assert not DataSubjectRequest.objects.exists()


def test_a_profile_correction_goes_to_operations_staff(person, code_for):
    """REQ-5: profile data is nobody's control data (standard edition)."""
    request = file_for(person, code_for, RequestKind.CORRECTION, field="name", proposed_value="Li Lei")
    request.refresh_from_db()
    assert (request.field, request.proposed_value, request.member, request.organization) == (
        "name",
        "Li Lei",
        None,
        None,
    )


def test_a_correction_about_a_roster_entry_goes_to_its_organization(person, code_for):
    """REQ-5: a correction of organization-control data is routed to that organization."""
    member = MemberFactory(user=person, status="active")
    request = file_for(person, code_for, RequestKind.CORRECTION, member=member, field="position", proposed_value="CTO")
    request.refresh_from_db()
    assert request.member == member and request.organization == member.organization


def test_a_profile_correction_of_a_dedicated_member_goes_to_the_organization(person, code_for):
    """REQ-5, ACC-6: the dedicated edition provides the profile data."""
    organization = OrganizationFactory(edition=Edition.DEDICATED)
    MemberFactory(user=person, organization=organization, status="active")
    request = file_for(person, code_for, RequestKind.SUPPLEMENT, field="company_email", proposed_value="a@b.cn")
    assert request.organization == organization


def test_a_correction_about_someone_elses_or_an_uncollected_field_is_refused(person, code_for):
    """REQ-5: only the person's own roster entries and the fields their organization collects."""
    theirs = MemberFactory(user=UserFactory(), status="active")
    with pytest.raises(ValidationError) as caught:
        file_for(person, code_for, RequestKind.CORRECTION, member=theirs, field="position", proposed_value="CEO")
    assert "target" in caught.value.message_dict
    mine = MemberFactory(user=person, status="active")
    CollectionSetting.objects.create(organization=mine.organization, field="position", enabled=False)
    with pytest.raises(ValidationError):
        file_for(person, code_for, RequestKind.CORRECTION, member=mine, field="position", proposed_value="CEO")
    assert not DataSubjectRequest.objects.exists()


def test_evidence_is_stored_encrypted(person, code_for, settings):
    """REQ-1: the optional evidence of a correction, stored encrypted (SEC-5)."""
    upload = SimpleUploadedFile("id.pdf", PDF, content_type="application/pdf")
    request = file_for(person, code_for, RequestKind.CORRECTION, evidence=upload)
    request.refresh_from_db()
    [path] = stored_files(settings)
    assert path.name == request.evidence
    assert PDF not in path.read_bytes()
    assert read_decrypted(request.evidence, filing.EVIDENCE_FILE_PURPOSE) == PDF


@pytest.mark.parametrize(
    ("content", "name"),
    [(b"GIF89a not accepted", "photo.pdf"), (b"%PDF-" + b"x" * 2048, "big.pdf")],
    ids=["wrong-type", "too-big"],
)
def test_bad_evidence_writes_nothing_and_leaves_no_file(person, code_for, settings, content, name):
    """REQ-1: evidence is a PDF, PNG or JPEG by its content, and size-limited."""
    settings.REQUEST_FILE_MAX_BYTES = 1024
    upload = SimpleUploadedFile(name, content, content_type="application/pdf")
    with pytest.raises(ValidationError) as caught:
        file_for(person, code_for, RequestKind.CORRECTION, evidence=upload)
    assert "evidence" in caught.value.message_dict
    assert not DataSubjectRequest.objects.exists()
    assert stored_files(settings) == []
    assert OneTimeCode.objects.get().used_at is None  # the code is still good for a retry


def test_files_are_deleted_when_the_transaction_rolls_back(person, code_for, settings, monkeypatch):
    """Nothing is left half-way: a failure after the file was stored removes it."""

    def broken(*args, **kwargs):
        raise RuntimeError("audit trail down")

    monkeypatch.setattr(workflow, "audit_request", broken)  # the filing's audit event
    upload = SimpleUploadedFile("id.png", PNG, content_type="image/png")
    with pytest.raises(RuntimeError):
        file_for(person, code_for, RequestKind.CORRECTION, evidence=upload)
    assert not DataSubjectRequest.objects.exists()
    assert stored_files(settings) == []
    assert OneTimeCode.objects.get().used_at is None


def test_consent_withdrawal_names_a_purpose(person, code_for):
    """REQ-1: which consent is withdrawn."""
    with pytest.raises(ValidationError) as caught:
        file_for(person, code_for, RequestKind.CONSENT_WITHDRAWAL, field="everything")
    assert "purpose" in caught.value.message_dict
    request = file_for(person, code_for, RequestKind.CONSENT_WITHDRAWAL, field=Purpose.FACE_RECOGNITION)
    assert request.field == Purpose.FACE_RECOGNITION


def test_an_automated_decision_request_is_about_the_persons_own_decision(person, code_for):
    """REQ-11: a person appeals their own decisions only."""
    other = AutomatedDecision.objects.create(subject=UserFactory(), system="S", decision="D", explanation="E")
    with pytest.raises(ValidationError) as caught:
        file_for(person, code_for, RequestKind.AUTOMATED_DECISION, automated_decision=other)
    assert "automated_decision" in caught.value.message_dict
    with pytest.raises(ValidationError):
        file_for(person, code_for, RequestKind.AUTOMATED_DECISION, automated_decision=None)
    assert not DataSubjectRequest.objects.exists()


def test_a_complaint_says_what_it_is_about(person, code_for):
    """REQ-1, REQ-10."""
    with pytest.raises(ValidationError) as caught:
        file_for(person, code_for, RequestKind.COMPLAINT, details=" ")
    assert "details" in caught.value.message_dict


def test_fulfilment_hears_of_the_request_after_commit(
    person, code_for, monkeypatch, django_capture_on_commit_callbacks
):
    """REQ-7: side effects wait for the commit (``fulfilment.on_request_received``)."""
    heard = []
    monkeypatch.setattr(filing.fulfilment, "on_request_received", heard.append)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        request = file_for(person, code_for)
    assert heard == []
    for callback in callbacks:
        callback()
    assert heard == [request.pk]


# --------------------------------------------------------------------------- REQ-6


def test_an_identical_open_request_is_linked_not_blocked(person, code_for):
    """REQ-6: the same request filed again is filed (and verified) but linked to the
    first one, with a note for the handlers."""
    first = file_for(person, code_for, RequestKind.CORRECTION, field="name", proposed_value="A")
    second = file_for(person, code_for, RequestKind.CORRECTION, field="name", proposed_value="B")
    other_field = file_for(person, code_for, RequestKind.CORRECTION, field="nickname", proposed_value="C")
    assert second.status == RequestStatus.RECEIVED and second.verified_at is not None
    assert second.duplicate_of == first
    assert other_field.duplicate_of is None
    note = RequestEvent.objects.get(request=second, kind=EventKind.NOTE)
    assert note.internal and first.reference in note.display_text
    assert AuditEvent.objects.get(target_id=str(second.pk)).metadata["duplicate_of"] == first.reference


def test_a_closed_request_is_no_duplicate(person, code_for):
    """REQ-6: only an open request makes the new one a duplicate."""
    first = file_for(person, code_for)
    filing.withdraw_request(first, person=person)
    assert file_for(person, code_for).duplicate_of is None


def test_excessive_repeats_are_flagged_without_blocking(person, code_for, settings):
    """REQ-6: more than REQUEST_REPEAT_LIMIT requests of one kind in twelve months are
    flagged (linked to the latest, noted for handlers); the filing still succeeds."""
    settings.REQUEST_REPEAT_LIMIT = 2
    made = []
    for _ in range(2):
        request = file_for(person, code_for)
        filing.withdraw_request(request, person=person)
        made.append(request)
    old = made[0]
    DataSubjectRequest.objects.filter(pk=old.pk).update(received_at=timezone.now() - timedelta(days=400))
    assert file_for(person, code_for).duplicate_of is None  # one of the two is older than a year
    flagged = file_for(person, code_for)
    assert flagged.status == RequestStatus.RECEIVED
    assert flagged.duplicate_of is not None
    notes = [event.display_text for event in RequestEvent.objects.filter(request=flagged, kind=EventKind.NOTE)]
    assert any("Excessive repeat" in note for note in notes)
    assert all(event.internal for event in RequestEvent.objects.filter(request=flagged, kind=EventKind.NOTE))
    filed = AuditEvent.objects.get(target_id=str(flagged.pk), action="request.filed")
    assert filed.metadata["excessive_repeat"] is True
    # REQ-11: the flag is an automated decision the person can read and appeal.
    decision = AutomatedDecision.objects.get(subject=person)
    assert flagged.reference in decision.decision and "3 requests of this kind" not in decision.explanation
    assert "2 requests of this kind" in decision.explanation


# --------------------------------------------------------------------------- REQ-9


@pytest.fixture
def agent(db):
    return UserFactory(name="Agent")


def proof():
    return SimpleUploadedFile("power-of-attorney.pdf", PDF, content_type="application/pdf")


def test_an_agent_files_for_a_person_who_then_confirms(person, agent, code_for, settings):
    """REQ-9: the agent's request waits (verifying) with the proof stored encrypted; the
    person confirms; it is received and its due date runs from the confirmation."""
    request = filing.file_request(
        filer=agent,
        kind=RequestKind.ACCESS,
        jurisdiction=Jurisdiction.CALIFORNIA,
        code=code_for(agent),
        subject_phone=person.phone,
        agent_proof=proof(),
    )
    request.refresh_from_db()
    assert (request.subject, request.agent, request.status) == (person, agent, RequestStatus.VERIFYING)
    assert request.verified_at is None
    assert read_decrypted(request.agent_proof, filing.AGENT_PROOF_FILE_PURPOSE) == PDF
    # The person confirms 20 days later: the clock starts then.
    long_ago = timezone.now() - timedelta(days=20)
    DataSubjectRequest.objects.filter(pk=request.pk).update(
        received_at=long_ago, due_on=long_ago.date(), original_due_on=long_ago.date()
    )
    request.refresh_from_db()
    with pytest.raises(ValidationError):
        filing.confirm_as_subject(request, person=agent)
    filing.confirm_as_subject(request, person=person)
    request.refresh_from_db()
    assert request.status == RequestStatus.RECEIVED
    assert request.subject_confirmed_at is not None and request.verified_at is not None
    assert request.verification_method == filing.VERIFIED_BY_CONFIRMATION
    assert request.due_on == deadlines.initial_due_on(Jurisdiction.CALIFORNIA, request.subject_confirmed_at)
    assert request.due_on > timezone.localdate()
    event = request.events.get(to_status=RequestStatus.RECEIVED, from_status=RequestStatus.VERIFYING)
    assert not event.internal and request.due_on.isoformat() in event.display_text
    with pytest.raises(ValidationError):
        filing.confirm_as_subject(request, person=person)


def test_the_person_rejects_an_agents_request(person, agent, code_for):
    """REQ-9: a request the person did not authorize ends withdrawn."""
    request = filing.file_request(
        filer=agent,
        kind=RequestKind.DELETION,
        jurisdiction=Jurisdiction.MAINLAND,
        code=code_for(agent),
        subject_phone=person.phone,
        agent_proof=proof(),
        deletion_grounds=[DeletionGround.UNLAWFUL],
    )
    filing.withdraw_request(request, person=person)
    request.refresh_from_db()
    assert request.status == RequestStatus.WITHDRAWN and request.closed_at is not None
    assert "did not confirm" in request.events.get(to_status=RequestStatus.WITHDRAWN).display_text


def test_an_agent_needs_proof_and_an_existing_account(person, agent, code_for, settings):
    """REQ-9: no proof, no request; a number without an account gets one plain answer
    and spends the code, so trying numbers costs a code each."""
    with pytest.raises(ValidationError) as caught:
        filing.file_request(
            filer=agent,
            kind=RequestKind.ACCESS,
            jurisdiction=Jurisdiction.MAINLAND,
            code=code_for(agent),
            subject_phone=person.phone,
        )
    assert "agent_proof" in caught.value.message_dict
    for number in ("+8613912345678", agent.phone):
        code = code_for(agent)
        with pytest.raises(ValidationError) as caught:
            filing.file_request(
                filer=agent,
                kind=RequestKind.ACCESS,
                jurisdiction=Jurisdiction.MAINLAND,
                code=code,
                subject_phone=number,
                agent_proof=proof(),
            )
        assert "subject_phone" in caught.value.message_dict
        assert OneTimeCode.objects.filter(phone=agent.phone).order_by("-created_at").first().used_at is not None
    assert not DataSubjectRequest.objects.exists()
    assert stored_files(settings) == []


# --------------------------------------------------------------------------- withdraw, escalate


def test_the_requester_withdraws_an_open_request(person, code_for):
    """The requester may withdraw while the request is open; nobody else can."""
    request = file_for(person, code_for)
    with pytest.raises(ValidationError):
        filing.withdraw_request(request, person=UserFactory())
    filing.withdraw_request(request, person=person)
    request.refresh_from_db()
    assert request.status == RequestStatus.WITHDRAWN
    with pytest.raises(ValidationError):
        filing.withdraw_request(request, person=person)


def test_a_refused_request_is_escalated_to_a_complaint(person, code_for):
    """REQ-10: a dissatisfied requester turns a refused request into a complaint linked
    by escalated_from; operations staff answer it."""
    member = MemberFactory(user=person, status="active")
    request = file_for(person, code_for, RequestKind.CORRECTION, member=member, field="position", proposed_value="X")
    with pytest.raises(ValidationError):
        filing.escalate_to_complaint(request, person=person, details="Too slow")  # still open
    workflow.refuse_request(request, actor=None, ground="impractical", explanation="We cannot.")
    with pytest.raises(ValidationError) as caught:
        filing.escalate_to_complaint(request, person=person, details="")
    assert "details" in caught.value.message_dict
    with pytest.raises(ValidationError):
        filing.escalate_to_complaint(request, person=UserFactory(), details="Not mine")
    complaint = filing.escalate_to_complaint(request, person=person, details="The refusal is wrong.")
    complaint.refresh_from_db()
    assert (complaint.kind, complaint.status, complaint.escalated_from) == (
        RequestKind.COMPLAINT,
        RequestStatus.RECEIVED,
        request,
    )
    assert complaint.organization is None and complaint.details == "The refusal is wrong."
    assert complaint.due_on == deadlines.initial_due_on(Jurisdiction.MAINLAND, complaint.received_at)
    assert complaint.reference in request.events.get(kind=EventKind.MESSAGE).display_text
    assert AuditEvent.objects.filter(action="request.escalated", target_id=str(complaint.pk)).exists()
    with pytest.raises(ValidationError):
        filing.escalate_to_complaint(request, person=person, details="Again")


@pytest.mark.parametrize(
    ("jurisdiction", "words"),
    [
        (Jurisdiction.EEA, "supervisory authority"),
        (Jurisdiction.AUSTRALIA, "Office of the Australian Information Commissioner"),
        (Jurisdiction.MAINLAND, "Cyberspace Administration"),
        (Jurisdiction.CALIFORNIA, "California Privacy Protection Agency"),
        (Jurisdiction.JAPAN, "Personal Information Protection Commission"),
        (Jurisdiction.INTERNATIONAL, "data protection team"),
    ],
)
def test_the_regulator_route_of_each_jurisdiction(jurisdiction, words):
    """REQ-10: the reply names the regulator route (EEA, Australia addenda)."""
    assert words in filing.regulator_route(jurisdiction)


def test_only_what_the_kind_is_about_is_kept(person, code_for, settings):
    """A field, value or file that does not belong to the kind is dropped, so it never
    reaches the handlers nor makes different requests look like duplicates (REQ-6)."""
    upload = SimpleUploadedFile("id.pdf", PDF, content_type="application/pdf")
    request = file_for(person, code_for, RequestKind.ACCESS, field="name", proposed_value="X", evidence=upload)
    request.refresh_from_db()
    assert (request.field, request.proposed_value, request.evidence) == ("", "", "")
    assert stored_files(settings) == []
