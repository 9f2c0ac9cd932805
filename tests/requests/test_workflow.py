"""REQ-4 to REQ-6: routing, the state machine, pauses, extensions, refusals, and the
hand-over of a disbanded organization's open requests."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from dataprotection import anonymization
from dataprotection.models import AuditEvent, JobKind
from organizations.models import Edition, MemberStatus, Organization, OrganizationStatus
from requests.models import (
    CLOSED_STATUSES,
    DataSubjectRequest,
    EventKind,
    Holiday,
    Jurisdiction,
    RefusalGround,
    RequestEvent,
    RequestKind,
    RequestStatus,
)
from requests.services import workflow
from requests.services.deadlines import WEEKDAYS, add_months, initial_due_on
from requests.services.workflow import ALLOWED_TRANSITIONS
from tests.factories import MemberFactory, OrganizationFactory, UserFactory

S = RequestStatus
SHANGHAI = ZoneInfo("Asia/Shanghai")


def make_request(
    *,
    subject=None,
    jurisdiction: str = Jurisdiction.EEA,
    kind: str = RequestKind.ACCESS,
    status: str = S.RECEIVED,
    received_at: datetime | None = None,
    **extra,
) -> DataSubjectRequest:
    """A request as filing leaves it (or further along: ``status``), without the
    filing service, so these tests do not depend on it."""
    received_at = received_at or timezone.now()
    due = initial_due_on(jurisdiction, received_at, calendar=WEEKDAYS)
    if status == S.PAUSED:
        extra.setdefault("paused_since", received_at)
    if status == S.EXTENDED:
        extra.setdefault("extended_at", received_at)
    if status in CLOSED_STATUSES:
        extra.setdefault("closed_at", received_at)
    return DataSubjectRequest.objects.create(
        subject=subject or UserFactory(),
        kind=kind,
        jurisdiction=jurisdiction,
        status=status,
        received_at=received_at,
        original_due_on=due,
        due_on=due,
        **extra,
    )


def freeze(monkeypatch, moment: datetime) -> None:
    monkeypatch.setattr(timezone, "now", lambda: moment)


def audit_actions(request) -> list[str]:
    return list(
        AuditEvent.objects.filter(target_type="requests.datasubjectrequest", target_id=str(request.pk))
        .order_by("pk")
        .values_list("action", flat=True)
    )


def move(request, to_status, actor):
    """Take ``request`` to ``to_status`` through the function made for it."""
    if to_status == S.PAUSED:
        return workflow.pause_request(request, actor=actor, reason="We need a copy of your ID document.")
    if to_status == S.EXTENDED:
        return workflow.extend_request(request, actor=actor, reason="The archive spans many systems.")
    if to_status == S.REFUSED:
        return workflow.refuse_request(
            request, actor=actor, ground=RefusalGround.REPEATED, explanation="Same as last week's request."
        )
    if to_status == S.COMPLETED:
        return workflow.complete_request(request, actor=actor, outcome="Your archive is ready.")
    return workflow.transition(request, to_status, actor=actor)


# --------------------------------------------------------------------------- REQ-5


@pytest.mark.django_db
def test_route_roster_entry_goes_to_its_organization():
    """REQ-5: a request about organization-control data goes to the controller."""
    member = MemberFactory()
    assert workflow.route(member.user, RequestKind.CORRECTION, member=member, field="position") == member.organization
    assert workflow.route(None, RequestKind.ACCESS, member=member) == member.organization


@pytest.mark.django_db
def test_route_profile_correction_in_a_dedicated_edition_goes_to_the_organization():
    """ACC-6, REQ-5: a dedicated-edition organization provides the member's basic data."""
    person = UserFactory()
    standard = OrganizationFactory(name="A standard")
    MemberFactory(organization=standard, user=person)
    dedicated = OrganizationFactory(name="B dedicated", edition=Edition.DEDICATED)
    MemberFactory(organization=dedicated, user=person)
    assert workflow.route(person, RequestKind.CORRECTION, field="name") == dedicated
    assert workflow.route(person, RequestKind.SUPPLEMENT, field="company_email") == dedicated
    # Other kinds about the person's own account stay with operations staff.
    assert workflow.route(person, RequestKind.ACCESS) is None
    assert workflow.route(person, RequestKind.DELETION) is None


@pytest.mark.django_db
def test_route_everything_else_goes_to_operations():
    """REQ-5: without a controlling organization, operations staff answer."""
    person = UserFactory()
    MemberFactory(organization=OrganizationFactory(), user=person)
    assert workflow.route(person, RequestKind.CORRECTION, field="name") is None
    # A dedicated organization the person has left, or one being disbanded, does not count.
    left = OrganizationFactory(edition=Edition.DEDICATED)
    MemberFactory(organization=left, user=person, status=MemberStatus.LEFT)
    frozen = OrganizationFactory(edition=Edition.DEDICATED, status=OrganizationStatus.FROZEN)
    MemberFactory(organization=frozen, user=person)
    assert workflow.route(person, RequestKind.CORRECTION, field="name") is None


# --------------------------------------------------------------------------- REQ-6


ALL_PAIRS = list(itertools.product(S.values, S.values))


@pytest.mark.django_db
@pytest.mark.parametrize(("from_status", "to_status"), [p for p in ALL_PAIRS if p[1] in ALLOWED_TRANSITIONS[p[0]]])
def test_allowed_transition(from_status, to_status):
    """REQ-6: every allowed move writes the new status, one event and one audit event."""
    staff = UserFactory(is_staff=True)
    request = make_request(status=from_status)
    event = move(request, to_status, staff)
    request.refresh_from_db()
    assert request.status == to_status
    assert event.kind == EventKind.TRANSITION
    assert (event.from_status, event.to_status, event.actor) == (from_status, to_status, staff)
    assert RequestEvent.objects.filter(request=request).count() == 1
    assert len(audit_actions(request)) == 1
    assert (request.closed_at is not None) == (to_status in CLOSED_STATUSES)
    assert (request.paused_since is not None) == (to_status == S.PAUSED)


@pytest.mark.django_db
@pytest.mark.parametrize(("from_status", "to_status"), [p for p in ALL_PAIRS if p[1] not in ALLOWED_TRANSITIONS[p[0]]])
def test_refused_transition_writes_nothing(from_status, to_status):
    """REQ-6: a move the state machine does not allow raises a clear error and writes
    nothing."""
    request = make_request(status=from_status)
    before = DataSubjectRequest.objects.values().get(pk=request.pk)
    with pytest.raises(ValidationError) as error:
        move(request, to_status, UserFactory(is_staff=True))
    message = " ".join(error.value.messages)
    assert "cannot become" in message or "already extended" in message
    assert DataSubjectRequest.objects.values().get(pk=request.pk) == before
    assert not RequestEvent.objects.filter(request=request).exists()
    assert audit_actions(request) == []


def test_state_machine_table():
    """REQ-6: closed statuses are final; every status is in the table."""
    assert set(ALLOWED_TRANSITIONS) == set(S.values)
    for status in CLOSED_STATUSES:
        assert ALLOWED_TRANSITIONS[status] == frozenset()
    for status, targets in ALLOWED_TRANSITIONS.items():
        assert status not in targets


@pytest.mark.django_db
@pytest.mark.parametrize("to_status", [S.PAUSED, S.EXTENDED, S.REFUSED])
def test_plain_transition_refuses_moves_that_need_a_reason(to_status):
    """REQ-6: refusing, pausing and extending record a ground or reason."""
    request = make_request(status=S.IN_PROGRESS)
    with pytest.raises(ValidationError, match="records the reason"):
        workflow.transition(request, to_status, actor=None)
    assert not RequestEvent.objects.exists()


@pytest.mark.django_db
def test_unknown_status_is_refused():
    with pytest.raises(ValidationError, match="Unknown status"):
        workflow.transition(make_request(), "lost", actor=None)


@pytest.mark.django_db
def test_stale_instance_is_checked_against_the_row():
    """REQ-6: a handler acting on an old copy cannot reopen a request closed meanwhile."""
    request = make_request(status=S.IN_PROGRESS)
    stale = DataSubjectRequest.objects.get(pk=request.pk)
    workflow.transition(request, S.WITHDRAWN, actor=request.subject)
    with pytest.raises(ValidationError):
        workflow.complete_request(stale, actor=None, outcome="Done")
    assert DataSubjectRequest.objects.get(pk=request.pk).status == S.WITHDRAWN


@pytest.mark.django_db
def test_refusal_needs_a_ground_and_an_explanation_shown_to_the_person():
    """REQ-6: only a recorded ground; the requester gets the reason."""
    staff = UserFactory(is_staff=True)
    request = make_request(status=S.IN_PROGRESS)
    with pytest.raises(ValidationError, match="grounds"):
        workflow.refuse_request(request, actor=staff, ground="dislike", explanation="No.")
    with pytest.raises(ValidationError, match="Explain"):
        workflow.refuse_request(request, actor=staff, ground=RefusalGround.TRADE_SECRETS, explanation="  ")
    assert not RequestEvent.objects.exists()
    event = workflow.refuse_request(
        request, actor=staff, ground=RefusalGround.TRADE_SECRETS, explanation="The model weights are a secret."
    )
    request.refresh_from_db()
    assert request.refusal_ground == RefusalGround.TRADE_SECRETS
    assert request.outcome == "The model weights are a secret."
    assert event.internal is False and event.text == "The model weights are a secret."
    audit = AuditEvent.objects.get(action="request.refused")
    assert audit.subject_user == request.subject
    assert audit.metadata["ground"] == RefusalGround.TRADE_SECRETS


@pytest.mark.django_db
def test_complete_records_the_outcome_for_the_person():
    request = make_request(status=S.IN_PROGRESS)
    with pytest.raises(ValidationError):
        workflow.complete_request(request, actor=None, outcome="")
    event = workflow.complete_request(request, actor=None, outcome="We corrected your name.")
    request.refresh_from_db()
    assert request.outcome == "We corrected your name." and request.closed_at is not None
    assert event.internal is False
    assert audit_actions(request) == ["request.completed"]


@pytest.mark.django_db
def test_audit_event_names_subject_and_organization():
    """REQ-6: every transition is audited in the organization's trail, about the person."""
    org = OrganizationFactory()
    request = make_request(organization=org)
    workflow.transition(request, S.IN_PROGRESS, actor=None, ip="203.0.113.5")
    audit = AuditEvent.objects.get(action="request.in_progress")
    assert audit.organization_id == org.pk
    assert audit.subject_user == request.subject
    assert audit.ip_address == "203.0.113.5"
    assert audit.metadata == {"reference": request.reference, "from": "received", "to": "in_progress"}


# --------------------------------------------------------------------------- REQ-4


@pytest.mark.django_db
def test_pause_needs_a_reason_and_stops_the_clock(monkeypatch):
    """REQ-4: paused four calendar days in the EEA, the due date moves four days."""
    start = datetime(2026, 3, 2, 10, tzinfo=SHANGHAI)
    request = make_request(status=S.IN_PROGRESS, received_at=start)
    assert request.due_on == date(2026, 4, 2)
    with pytest.raises(ValidationError, match="paused"):
        workflow.pause_request(request, actor=None, reason="")
    freeze(monkeypatch, start + timedelta(days=1))
    event = workflow.pause_request(request, actor=None, reason="Please send the document.")
    assert event.internal is False and request.paused_since == start + timedelta(days=1)
    freeze(monkeypatch, start + timedelta(days=5, hours=3))
    workflow.resume_request(request, actor=None)
    request.refresh_from_db()
    assert request.status == S.IN_PROGRESS
    assert (request.paused_days, request.due_on, request.paused_since) == (4, date(2026, 4, 6), None)
    assert request.original_due_on == date(2026, 4, 2)
    assert audit_actions(request) == ["request.paused", "request.resumed"]


@pytest.mark.django_db
def test_pause_in_a_working_day_jurisdiction_counts_working_days(monkeypatch):
    """REQ-4: Japan's deadline is in working days, so is the pause (holidays skipped)."""
    Holiday.objects.create(jurisdiction=Jurisdiction.JAPAN, date=date(2026, 3, 20), name="Vernal Equinox Day")
    friday = datetime(2026, 3, 6, 10, tzinfo=SHANGHAI)
    request = make_request(jurisdiction=Jurisdiction.JAPAN, status=S.IN_PROGRESS, received_at=friday)
    request.due_on = date(2026, 3, 27)
    request.save(update_fields=["due_on"])
    freeze(monkeypatch, friday)
    workflow.pause_request(request, actor=None, reason="Waiting for your proof of identity.")
    freeze(monkeypatch, friday + timedelta(days=7))  # the next Friday: 5 working days
    workflow.resume_request(request, actor=None)
    request.refresh_from_db()
    assert request.paused_days == 5
    # Fri 27 Mar + 5 working days = Fri 3 Apr.
    assert request.due_on == date(2026, 4, 3)


@pytest.mark.django_db
def test_leaving_a_pause_by_refusal_also_stops_the_clock(monkeypatch):
    start = datetime(2026, 3, 2, 10, tzinfo=SHANGHAI)
    request = make_request(status=S.PAUSED, received_at=start)
    freeze(monkeypatch, start + timedelta(days=2))
    workflow.refuse_request(request, actor=None, ground=RefusalGround.ABUSE, explanation="Abusive.")
    request.refresh_from_db()
    assert request.paused_since is None and request.paused_days == 2


@pytest.mark.django_db
def test_resume_only_a_paused_request():
    with pytest.raises(ValidationError, match="paused"):
        workflow.resume_request(make_request(status=S.IN_PROGRESS), actor=None)


@pytest.mark.django_db
def test_eea_extension_two_months_from_the_first_due_date():
    """REQ-4: EEA extension up to two more months, recorded with a reason the person sees."""
    request = make_request(status=S.IN_PROGRESS, received_at=datetime(2026, 1, 31, 10, tzinfo=SHANGHAI))
    assert request.original_due_on == date(2026, 2, 28)
    with pytest.raises(ValidationError, match="more time"):
        workflow.extend_request(request, actor=None, reason=" ")
    event = workflow.extend_request(request, actor=None, reason="Data is spread across many systems.")
    request.refresh_from_db()
    assert request.due_on == add_months(date(2026, 2, 28), 2) == date(2026, 4, 28)
    assert request.extension_reason == "Data is spread across many systems."
    assert request.extended_at is not None and event.internal is False
    # Only once, even after going back to work on it.
    workflow.transition(request, S.IN_PROGRESS, actor=None)
    with pytest.raises(ValidationError, match="already extended"):
        workflow.extend_request(request, actor=None, reason="More.")


@pytest.mark.django_db
def test_eea_extension_keeps_the_days_paused_before(monkeypatch):
    start = datetime(2026, 3, 2, 10, tzinfo=SHANGHAI)
    request = make_request(status=S.IN_PROGRESS, received_at=start)
    freeze(monkeypatch, start)
    workflow.pause_request(request, actor=None, reason="Need ID.")
    freeze(monkeypatch, start + timedelta(days=3))
    workflow.resume_request(request, actor=None)
    workflow.extend_request(request, actor=None, reason="Complex.")
    request.refresh_from_db()
    assert request.due_on == date(2026, 6, 5)  # 2 Jun + 3 days paused


@pytest.mark.django_db
def test_california_one_45_day_extension():
    request = make_request(
        jurisdiction=Jurisdiction.CALIFORNIA,
        status=S.RECEIVED,
        received_at=datetime(2026, 3, 2, 10, tzinfo=SHANGHAI),
    )
    workflow.extend_request(request, actor=None, reason="Complex request.")
    request.refresh_from_db()
    assert request.due_on == request.original_due_on + timedelta(days=45) == date(2026, 5, 31)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "jurisdiction", [Jurisdiction.MAINLAND, Jurisdiction.INTERNATIONAL, Jurisdiction.JAPAN, Jurisdiction.AUSTRALIA]
)
def test_no_extension_elsewhere(jurisdiction):
    """REQ-4: jurisdictions without a legal extension refuse one, writing nothing."""
    request = make_request(jurisdiction=jurisdiction, status=S.IN_PROGRESS)
    with pytest.raises(ValidationError, match="allows no extension"):
        workflow.extend_request(request, actor=None, reason="Busy.")
    request.refresh_from_db()
    assert request.status == S.IN_PROGRESS and request.extended_at is None
    assert not RequestEvent.objects.exists()


# --------------------------------------------------------------------------- handling


@pytest.mark.django_db
def test_assign_and_notes_are_internal_and_audited():
    staff = UserFactory(is_staff=True)
    handler = UserFactory(is_staff=True, name="Handler")
    request = make_request()
    event = workflow.assign_request(request, handler, actor=staff)
    assert request.assignee == handler
    assert DataSubjectRequest.objects.get(pk=request.pk).assignee == handler
    assert event.kind == EventKind.ASSIGNMENT and event.internal
    note = workflow.add_note(request, actor=staff, text="Called the archive team.")
    message = workflow.add_note(request, actor=staff, text="We are on it.", internal=False)
    assert (note.kind, note.internal) == (EventKind.NOTE, True)
    assert (message.kind, message.internal) == (EventKind.MESSAGE, False)
    with pytest.raises(ValidationError):
        workflow.add_note(request, actor=staff, text="")
    workflow.assign_request(request, None, actor=staff)
    assert DataSubjectRequest.objects.get(pk=request.pk).assignee is None
    assert audit_actions(request) == ["request.assigned", "request.note", "request.message", "request.assigned"]


@pytest.mark.django_db
def test_closed_requests_cannot_be_assigned():
    request = make_request(status=S.COMPLETED)
    with pytest.raises(ValidationError):
        workflow.assign_request(request, UserFactory(), actor=None)


# --------------------------------------------------------------------------- ORG-11


def test_disband_finisher_is_registered():
    assert workflow.hand_over_on_disband in anonymization._finishers[JobKind.DISBAND]


@pytest.mark.django_db
def test_disband_hands_open_requests_to_operations():
    """REQ-5, ORG-11: a disbanded organization's open requests go to operations staff,
    with an event the person sees; closed ones and other organizations' stay."""
    owner = UserFactory()
    org = OrganizationFactory()
    other = OrganizationFactory()
    admin = UserFactory()
    member = MemberFactory(organization=org, user=UserFactory())
    open_request = make_request(
        subject=member.user, organization=org, member=member, status=S.IN_PROGRESS, assignee=admin
    )
    closed = make_request(organization=org, status=S.COMPLETED)
    elsewhere = make_request(organization=other)
    job = anonymization.create_job("disband", organization_id=org.pk, requested_by=owner)
    Organization.objects.filter(pk=org.pk).update(status=OrganizationStatus.FROZEN)
    assert anonymization.drive(job.pk, budget_seconds=600) == "finished"
    open_request.refresh_from_db()
    assert open_request.organization is None and open_request.assignee is None
    assert open_request.status == S.IN_PROGRESS
    event = open_request.events.get()
    assert event.internal is False and "disbanded" in event.display_text
    assert DataSubjectRequest.objects.get(pk=closed.pk).organization_id == org.pk
    assert DataSubjectRequest.objects.get(pk=elsewhere.pk).organization_id == other.pk
    assert audit_actions(open_request) == ["request.handed_over"]
    audit = AuditEvent.objects.get(action="request.handed_over")
    assert audit.organization_id is None and audit.metadata["disbanded_organization"] == org.pk
