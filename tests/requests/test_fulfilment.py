"""Corrections applied and deletions carried out (REQ-5, REQ-8): through the roster
service and the anonymization engine, with every recipient of the data told, and the
isolation of backups recorded."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from accounts.models import AccountDeletionRequest, User
from consent.models import DeletionNotice, Disclosure, Service, ServiceKind
from consent.services.open_ids import member_open_id
from dataprotection import anonymization
from dataprotection.models import AnonymizationJob, AuditEvent, JobKind, JobStatus
from organizations.models import AttendancePunch, Member, MemberStatus, Right, WorkLog
from organizations.services.grants import grant_rights
from requests.models import (
    AutomatedDecision,
    DataSubjectRequest,
    ExportArchive,
    RequestEvent,
    RequestKind,
    RequestStatus,
)
from requests.services import fulfilment
from tests.anonymization_data import org_rows, populate, residue
from tests.factories import AdministratorFactory, MemberFactory, OrganizationFactory, UserFactory
from tests.requests import test_exports

pytestmark = pytest.mark.django_db


# The exports' verified request, a correction unless told otherwise.
make_request = partial(test_exports.make_request, kind=RequestKind.CORRECTION)


def service(code: str, kind=ServiceKind.THIRD_PARTY, notice_url="https://provider.example/deletion") -> Service:
    return Service.objects.create(
        code=code, name=code.title(), kind=kind, provider_name="Provider", notice_url=notice_url
    )


def correction(cast, field="position", value="Senior engineer") -> DataSubjectRequest:
    return make_request(
        subject=cast.member_user, organization=cast.organization, member=cast.member, field=field, proposed_value=value
    )


# --------------------------------------------------------------------------- corrections


def test_correction_is_applied_and_recipients_are_told(cast):
    """REQ-5, REQ-8: the proposed value is written through the roster service (audited
    there), the request completes with an answer to the person, and every third party
    that received the entry's data gets a "corrected" notice naming that entry only."""
    hr_app, first_party, other_app = service("hrapp"), service("ours", ServiceKind.FIRST_PARTY), service("other")
    Disclosure.objects.create(service=hr_app, organization=cast.organization, member=cast.member, scopes=["name"])
    Disclosure.objects.create(service=first_party, organization=cast.organization, member=cast.member)
    someone = MemberFactory(organization=cast.organization, department=cast.sales_east)
    Disclosure.objects.create(service=other_app, organization=cast.organization, member=someone)
    data_request = correction(cast)

    changed = fulfilment.apply_correction(data_request, actor=cast.owner, ip="10.0.0.1")

    assert changed == ["position"]
    cast.member.refresh_from_db()
    assert cast.member.position == "Senior engineer"
    data_request.refresh_from_db()
    assert data_request.status == RequestStatus.COMPLETED
    assert "corrected" in data_request.answer
    notice = DeletionNotice.objects.get()
    assert notice.service == hr_app and notice.reason == "corrected"
    assert notice.payload["members"] == [member_open_id("hrapp", cast.member.pk)]
    assert notice.payload["scope"] == "people"
    assert AuditEvent.objects.filter(action="member.updated", target_id=str(cast.member.pk)).exists()
    event = AuditEvent.objects.get(action="request.correction_applied")
    assert event.metadata["recipients_notified"] == 1 and event.actor == cast.owner


def test_mobile_correction_is_normalized(cast):
    data_request = correction(cast, field="mobile", value="139 1234 5678")
    fulfilment.apply_correction(data_request, actor=cast.owner)
    cast.member.refresh_from_db()
    assert cast.member.mobile == "+8613912345678"


def test_a_field_the_organization_does_not_collect_is_refused(cast):
    """ORG-5: a correction never writes a field the organization does not collect;
    nothing is written and the request stays open."""
    data_request = correction(cast, field="household_registration", value="Hangzhou")
    with pytest.raises(ValidationError, match="does not collect"):
        fulfilment.apply_correction(data_request, actor=cast.owner)
    cast.member.refresh_from_db()
    data_request.refresh_from_db()
    assert cast.member.household_registration == ""
    assert data_request.status == RequestStatus.RECEIVED
    assert not AuditEvent.objects.filter(action="request.correction_applied").exists()


def test_an_invalid_value_is_refused(cast):
    data_request = correction(cast, field="mobile", value="not a number")
    with pytest.raises(ValidationError):
        fulfilment.apply_correction(data_request, actor=cast.owner)
    assert DataSubjectRequest.objects.get(pk=data_request.pk).status == RequestStatus.RECEIVED


def test_a_handler_without_edit_roster_cannot_apply(cast):
    """The roster service re-checks edit_roster: handling requests is not editing the roster."""
    handler = UserFactory()
    AdministratorFactory(organization=cast.organization, user=handler)
    grant_rights(handler, [Right.HANDLE_REQUESTS], cast.organization)
    data_request = correction(cast)
    with pytest.raises(PermissionDenied):
        fulfilment.apply_correction(data_request, actor=handler)
    cast.member.refresh_from_db()
    assert cast.member.position != "Senior engineer"


def test_an_administrator_of_another_organization_cannot_apply(cast):
    data_request = correction(cast)
    from django.http import Http404

    with pytest.raises(Http404):
        fulfilment.apply_correction(data_request, actor=cast.other_org_admin)


def test_apply_from_the_request_page(client, cast):
    data_request = correction(cast)
    client.force_login(cast.owner)
    url = reverse("data_requests:org_request_action", args=[cast.organization.pk, data_request.pk, "apply"])
    response = client.post(url, {}, follow=True)
    assert b"This field is required" in response.content  # the confirmation box
    response = client.post(url, {"apply-confirm": "on"}, follow=True)
    assert b"The correction was applied" in response.content
    data_request.refresh_from_db()
    assert data_request.status == RequestStatus.COMPLETED


# --------------------------------------------------------------------------- deletion


@pytest.fixture
def populated(cast):
    people = [UserFactory(name=f"Person {i}") for i in range(3)]
    organization = OrganizationFactory(name="Populated Co.")
    owner = UserFactory(name="Populated owner")
    AdministratorFactory(organization=organization, user=owner, role="owner")
    data = populate(organization, members=3, records_per_member=2, users=people)
    return data, owner, people


def isolation_events(data_request) -> list[RequestEvent]:
    # The text is encrypted at rest: read it back, not in SQL.
    return [event for event in RequestEvent.objects.filter(request=data_request) if "isolated" in event.display_text]


def _values_of(member: Member, values: set[str]) -> set[str]:
    """The personal values written for ``member`` and the records pointing at it."""
    found = set()
    for label, row in org_rows(member.organization_id):
        ids = {row.get(name) for name in ("id", "member_id", "applicant_id", "owner_id", "student_id")}
        key = row.get("id") if label == "organizations.Member" else None
        if (label == "organizations.Member" and key == member.pk) or (
            label != "organizations.Member" and member.pk in ids - {row.get("id")}
        ):
            found |= {str(value) for value in row.values() if str(value) in values}
    return found


def test_deletion_erases_exactly_that_members_records_and_tells_recipients(populated, settings):
    """REQ-8: the anonymization engine erases the roster entry the request is about and
    every record pointing at it -- nothing of the other members; every third party that
    received the entry's data gets a "deletion_requested" notice; the isolation of
    backups is recorded for the person; the request completes when the job does."""
    settings.BACKUP_RETENTION_DAYS = 40
    data, owner, people = populated
    target, other = data.members[1], data.members[2]
    app = service("hrapp")
    Disclosure.objects.create(service=app, organization=data.organization, member=target, user=people[1])
    Disclosure.objects.create(service=service("other"), organization=data.organization, member=other)
    target_values = _values_of(target, data.values)
    other_values = _values_of(other, data.values)
    assert target_values and other_values
    data_request = make_request(
        subject=people[1],
        organization=data.organization,
        member=target,
        kind=RequestKind.DELETION,
        deletion_grounds=["no_longer_used"],
    )

    job = fulfilment.carry_out_deletion(data_request, actor=owner, ip="10.0.0.2")

    assert job.kind == JobKind.MEMBER_ERASURE and job.preview["member_ids"] == [target.pk]
    notice = DeletionNotice.objects.get()
    assert notice.service == app and notice.reason == "deletion_requested"
    assert notice.payload["members"] == [member_open_id("hrapp", target.pk)]
    (isolation,) = isolation_events(data_request)
    assert not isolation.internal
    purge_on = timezone.localtime(timezone.now() + timedelta(days=40)).date().isoformat()
    assert purge_on in isolation.display_text
    data_request.refresh_from_db()
    assert data_request.status == RequestStatus.IN_PROGRESS

    assert anonymization.drive(job.pk, budget_seconds=600) == "finished"

    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED and job.report["verified"]
    assert residue(data.organization.pk, target_values) == []
    assert set(residue(data.organization.pk, other_values))  # the others' data is all there
    assert _values_of(other, data.values) == other_values
    erased = Member.objects.get(pk=target.pk)
    assert erased.status == MemberStatus.LEFT and erased.user_id is None
    assert not WorkLog.objects.filter(member=target).exclude(content="").filter(content__contains="Log").exists()
    assert AttendancePunch.objects.filter(member=other).count() == 2
    assert Member.objects.get(pk=data.members[0].pk).user_id == people[0].pk
    assert User.objects.filter(pk=people[1].pk).exists()  # the account stays
    data_request.refresh_from_db()
    assert data_request.status == RequestStatus.COMPLETED
    assert data_request.subject_id == people[1].pk  # the request stays the person's record
    assert "deleted" in data_request.answer


def test_deletion_with_nothing_left_completes_at_once(cast):
    """A deletion routed to the organization about no roster entry (it was erased
    already): the request completes right away with an answer."""
    data_request = make_request(subject=cast.member_user, organization=cast.organization, kind=RequestKind.DELETION)
    assert fulfilment.carry_out_deletion(data_request, actor=cast.owner) is None
    data_request.refresh_from_db()
    assert data_request.status == RequestStatus.COMPLETED
    assert "Nothing" in data_request.answer
    assert not AnonymizationJob.objects.exists()


def test_deletion_of_account_level_data_is_the_account_deletion(cast, settings):
    """REQ-8, ACC-5: a deletion routed to operations staff schedules the account deletion
    (cooling-off period included); the request completes when the cascade does."""
    settings.ACCOUNT_DELETION_GRACE_DAYS = 0
    person = UserFactory(name="Leaving person")
    app = service("weather", ServiceKind.MINI_PROGRAM)
    Disclosure.objects.create(service=app, user=person)
    data_request = make_request(
        subject=person, kind=RequestKind.DELETION, deletion_grounds=["no_longer_used"], details="Please delete me."
    )
    earlier = make_request(subject=person, kind=RequestKind.ACCESS)
    ExportArchive.objects.create(request=earlier)
    AutomatedDecision.objects.create(subject=person, system="Planner", decision="Night shifts", explanation="Load")
    RequestEvent.objects.create(request=earlier, kind="note", text="Asked about Night shifts", internal=True)

    job = fulfilment.carry_out_deletion(data_request, actor=cast.staff)

    assert job.kind == JobKind.ACCOUNT_DELETION and job.preview["request_id"] == data_request.pk
    assert AccountDeletionRequest.objects.get(user=person).job_id == job.pk
    assert [event.internal for event in isolation_events(data_request)] == [False]
    assert anonymization.drive(job.pk, budget_seconds=600) == "finished"
    assert not User.objects.filter(pk=person.pk).exists()
    data_request.refresh_from_db()
    assert data_request.status == RequestStatus.COMPLETED
    # ANON-3: the requests stay as the record that they were answered, without the person.
    assert data_request.subject_id is None and data_request.details == ""
    assert [event.text for event in RequestEvent.objects.filter(request=earlier)] == [""]
    assert not ExportArchive.objects.exists() and not AutomatedDecision.objects.exists()
    # The account-deletion cascade told the recipient.
    assert DeletionNotice.objects.filter(service=app, reason="account_deleted").exists()


def test_deletion_of_an_owner_account_is_refused(cast):
    data_request = make_request(subject=cast.owner, kind=RequestKind.DELETION)
    with pytest.raises(ValidationError, match="Transfer the ownership"):
        fulfilment.carry_out_deletion(data_request, actor=cast.staff)
    assert not AnonymizationJob.objects.exists()
    assert not RequestEvent.objects.filter(request=data_request).exists()


def test_deletion_from_the_request_page(client, cast):
    data_request = make_request(
        subject=cast.member_user, organization=cast.organization, member=cast.member, kind=RequestKind.DELETION
    )
    client.force_login(cast.owner)
    url = reverse("data_requests:org_request_action", args=[cast.organization.pk, data_request.pk, "delete"])
    client.post(url, {"delete-confirm": "on"})
    job = AnonymizationJob.objects.get(kind=JobKind.MEMBER_ERASURE)
    assert job.preview["request_id"] == data_request.pk
    page = client.get(reverse("data_requests:org_request", args=[cast.organization.pk, data_request.pk]))
    assert b'data-testid="deletion-running"' in page.content


def test_only_deletion_requests_are_carried_out(cast):
    with pytest.raises(ValidationError):
        fulfilment.carry_out_deletion(correction(cast), actor=cast.owner)
