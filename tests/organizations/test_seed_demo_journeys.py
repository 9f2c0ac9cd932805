"""``manage.py seed_demo`` leaves every demo role a journey to walk at once: the
sub-administrator's rights on Sales are real guardian grants made by the administrator
services (ORG-9); a third-party service with a working deletion endpoint is in the
catalog (SVC-1, SVC-3); operations staff have a login in each role group (SEC-1);
a certification waits for review (ORG-2) and a request for the request handler
(REQ-5). Seeding again changes nothing; a demo seeded by an older version gets what its
journeys lack."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from accounts.models import User
from consent.models.sharing import Service, ServiceKind
from consent.services.demo_data import DEMO_SERVICE_CODE
from consent.services.sharing import check_catalog_entry
from dataprotection import staff_roles
from dataprotection.models import AuditEvent
from organizations.models import (
    Administrator,
    Certification,
    CertificationStatus,
    DepartmentUserObjectPermission,
    Member,
    Right,
)
from organizations.permissions import org_access
from organizations.services.administrators import update_administrator_rights
from organizations.services.demo_data.logins import DEMO_LOGINS, MEMBER, OWNER, STAFF, STAFF_LOGINS, SUB_ADMIN
from organizations.services.demo_data.seeding import find_demo_organization
from organizations.services.grants import revoke_all_rights
from requests.models import DataSubjectRequest, RequestKind, RequestStatus

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def private_files(settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"


def seed(**options) -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out, members=40, days=1, **options)
    return out.getvalue()


def user(login) -> User:
    return User.objects.get(phone=login.phone)


def journey_state(organization) -> dict:
    return {
        "administrators": Administrator.objects.filter(organization=organization).count(),
        "grants": DepartmentUserObjectPermission.objects.filter(content_object__organization=organization).count(),
        "users": User.objects.filter(phone__in=[login.phone for login in DEMO_LOGINS]).count(),
        "memberships": sum(user(login).groups.count() for login in STAFF_LOGINS),
        "services": Service.objects.filter(code=DEMO_SERVICE_CODE).count(),
        "certifications": Certification.objects.filter(organization=organization).count(),
        "requests": DataSubjectRequest.objects.count(),
        "events": AuditEvent.objects.count(),
    }


def test_every_role_has_its_journey_ready():
    output = seed()
    organization = find_demo_organization()

    # ORG-9: view and edit on the Sales subtree, granted by the owner through the service.
    access = org_access(user(SUB_ADMIN), organization.pk)
    sales = Administrator.objects.get(organization=organization, user=user(SUB_ADMIN)).scope.get()
    assert access.covers(Right.VIEW_ROSTER, sales) and access.covers(Right.EDIT_ROSTER, sales)
    assert not access.has_whole(Right.VIEW_ROSTER) and not access.has(Right.MANAGE_SERVICES)
    member_entry = Member.objects.get(organization=organization, user=user(MEMBER))
    assert access.get_member(member_entry.pk, Right.EDIT_ROSTER) == member_entry
    appointed = AuditEvent.objects.get(action="administrator.appointed")
    assert appointed.actor == user(OWNER) and appointed.metadata["rights"] == ["edit_roster", "view_roster"]

    # SEC-1: one login per role group, with exactly that role's permissions; a superuser beside.
    for login in STAFF_LOGINS:
        account = user(login)
        assert account.is_staff and account.is_superuser == login.superuser
        if login.staff_role:
            role = staff_roles.role_of(login.staff_role)
            assert list(account.groups.values_list("name", flat=True)) == [role.group]
            assert all(account.has_perm(permission) for permission in role.permissions)
            assert not account.has_perm("consent.change_service")
        assert login.phone in output
    assert "Console superuser" in STAFF.label

    # ORG-2: the owner's certification waits for the reviewer.
    certification = Certification.objects.get(organization=organization)
    assert certification.status == CertificationStatus.PENDING and certification.submitted_by == user(OWNER)
    organization.refresh_from_db()
    assert organization.certification_status == CertificationStatus.PENDING

    # SVC-1, SVC-3: a third-party service whose deletion endpoint is the dev receiver.
    service = Service.objects.get(code=DEMO_SERVICE_CODE)
    assert service.kind == ServiceKind.THIRD_PARTY and service.listed
    assert service.notice_url == f"http://127.0.0.1:8000/dev/deletion-notices/{DEMO_SERVICE_CODE}/"
    assert len(service.notice_secret) >= 32
    check_catalog_entry(service)  # a complete catalog entry
    assert AuditEvent.objects.get(action="service.catalog_added").actor == user(STAFF)

    # REQ-5: the member's complaint waits for operations.
    (complaint,) = DataSubjectRequest.objects.filter(subject=user(MEMBER))
    assert complaint.kind == RequestKind.COMPLAINT and complaint.organization_id is None
    assert complaint.status == RequestStatus.RECEIVED

    prepared = AuditEvent.objects.get(action="demo.journeys_prepared")
    assert prepared.metadata["third_party_service"] == 1 and prepared.metadata["request_for_operations"] == 1


def test_seeding_again_changes_nothing():
    seed()
    organization = find_demo_organization()
    before = journey_state(organization)
    output = seed()
    assert "nothing was changed" in output
    assert journey_state(organization) == before


def test_a_demo_seeded_before_the_journeys_gets_them(settings):
    """A demo made by an older version: a sub-administrator without rights, a staff
    superuser in no group, no service, no certification, no request. Seeding again adds
    exactly those, and moves the endpoint to where the portal is served now."""
    seed()
    organization = find_demo_organization()
    revoke_all_rights(user(SUB_ADMIN), organization)
    for login in STAFF_LOGINS:
        if login.staff_role:
            user(login).delete()
    Certification.objects.filter(organization=organization).delete()
    type(organization).objects.filter(pk=organization.pk).update(certification_status=CertificationStatus.UNCERTIFIED)
    DataSubjectRequest.objects.all().delete()
    service = Service.objects.get(code=DEMO_SERVICE_CODE)
    secret = service.notice_secret

    output = seed(portal_url="http://localhost:8111/")
    assert "Prepared for the role journeys" in output
    access = org_access(user(SUB_ADMIN), organization.pk)
    assert access.has(Right.EDIT_ROSTER) and access.has(Right.VIEW_ROSTER)
    assert all(user(login).groups.exists() for login in STAFF_LOGINS if login.staff_role)
    assert Certification.objects.get(organization=organization).status == CertificationStatus.PENDING
    assert DataSubjectRequest.objects.filter(subject=user(MEMBER)).count() == 1
    service.refresh_from_db()
    assert service.notice_url == f"http://localhost:8111/dev/deletion-notices/{DEMO_SERVICE_CODE}/"
    assert service.notice_secret == secret  # kept: the receiver and the portal still agree

    # A sub-administrator whose rights a presenter changed keeps them.
    owner = org_access(user(OWNER), organization.pk)
    sub_admin = Administrator.objects.get(organization=organization, user=user(SUB_ADMIN))
    update_administrator_rights(owner, sub_admin, [Right.VIEW_ROSTER], list(sub_admin.scope.all()))
    before = journey_state(organization)
    seed(portal_url="http://localhost:8111")
    assert journey_state(organization) == before
    access = org_access(user(SUB_ADMIN), organization.pk)
    assert access.has(Right.VIEW_ROSTER) and not access.has(Right.EDIT_ROSTER)


def test_reset_takes_the_demo_peoples_requests_along():
    """``--reset`` leaves no request of nobody in the operations queue."""
    seed()
    assert DataSubjectRequest.objects.count() == 1
    seed(reset=True)
    (complaint,) = DataSubjectRequest.objects.all()
    assert complaint.subject == user(MEMBER)  # the new member's, nothing orphaned
