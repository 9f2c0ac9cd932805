"""REQ-4: daily reminders of requests due soon or overdue."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from accounts.models import SMSMessage
from dataprotection.models import AuditEvent
from organizations.models import AdministratorRole, Right
from organizations.services.grants import grant_rights
from requests.models import EventKind, RequestEvent, RequestStatus
from requests.services import workflow
from requests.tasks.workflow import remind_assignees
from tests.factories import AdministratorFactory, OrganizationFactory, UserFactory
from tests.requests.test_workflow import make_request

pytestmark = pytest.mark.django_db


def due_in(days: int, **extra):
    request = make_request(**extra)
    request.due_on = timezone.localdate() + timedelta(days=days)
    request.save(update_fields=["due_on"])
    return request


def sms_to(user) -> list[str]:
    return [m.body for m in SMSMessage.objects.filter(phone=user.phone)]


def test_assignee_is_reminded_once_a_day(settings):
    """REQ-4: due within REQUEST_DUE_SOON_DAYS: an in-app notice (internal event) and an
    SMS naming only the reference; a second run the same day sends nothing."""
    settings.REQUEST_DUE_SOON_DAYS = 3
    handler = UserFactory(is_staff=True)
    request = due_in(2, assignee=handler)
    assert remind_assignees() == "reminded 1"
    request.refresh_from_db()
    assert request.last_reminded_on == timezone.localdate()
    note = RequestEvent.objects.get(request=request)
    assert (note.kind, note.internal) == (EventKind.NOTE, True)
    assert "Due on" in note.display_text and str(handler) in note.display_text
    [body] = sms_to(handler)
    assert request.reference in body and str(request.subject) not in body
    assert AuditEvent.objects.filter(action="request.reminded").count() == 1
    assert remind_assignees() == "reminded 0"
    assert len(sms_to(handler)) == 1
    # The next day it comes again.
    type(request).objects.filter(pk=request.pk).update(last_reminded_on=timezone.localdate() - timedelta(days=1))
    assert remind_assignees() == "reminded 1"


def test_overdue_is_said(settings):
    handler = UserFactory(is_staff=True)
    request = due_in(-4, assignee=handler)
    remind_assignees()
    assert "Overdue by 4 days" in RequestEvent.objects.get(request=request).display_text
    assert "Overdue by 4 days" in sms_to(handler)[0]


def test_not_due_soon_or_closed_is_left_alone(settings):
    settings.REQUEST_DUE_SOON_DAYS = 3
    handler = UserFactory(is_staff=True)
    due_in(4, assignee=handler)
    due_in(-1, assignee=handler, status=RequestStatus.COMPLETED)
    assert remind_assignees() == "reminded 0"
    assert not SMSMessage.objects.exists() and not RequestEvent.objects.exists()


def test_claim_is_compare_and_set():
    """REQ-4: a second worker holding the same id reminds nobody twice."""
    request = due_in(0, assignee=UserFactory(is_staff=True))
    today = timezone.localdate()
    assert workflow.remind_request(request.pk, today) is True
    assert workflow.remind_request(request.pk, today) is False
    assert RequestEvent.objects.filter(request=request).count() == 1


def test_unassigned_operations_request_reminds_operations_staff():
    superuser = UserFactory(is_staff=True, is_superuser=True)
    handler = UserFactory(is_staff=True)
    handler.user_permissions.add(Permission.objects.get(codename="change_datasubjectrequest"))
    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_datasubjectrequest"))
    UserFactory(is_staff=True, is_superuser=True, is_active=False)
    request = due_in(1)
    assert workflow.reminder_recipients(request) == [superuser, handler]
    remind_assignees()
    assert sms_to(superuser) and sms_to(handler) and not sms_to(viewer)


def test_unassigned_organization_request_reminds_its_request_handlers():
    """REQ-5: the owner and whole-organization holders of "handle members' requests"."""
    org = OrganizationFactory()
    owner = UserFactory()
    AdministratorFactory(organization=org, user=owner, role=AdministratorRole.OWNER)
    handler = UserFactory()
    AdministratorFactory(organization=org, user=handler)
    grant_rights(handler, [Right.HANDLE_REQUESTS], org)
    roster_admin = UserFactory()
    AdministratorFactory(organization=org, user=roster_admin)
    grant_rights(roster_admin, [Right.VIEW_ROSTER], org)
    other_owner = UserFactory()
    AdministratorFactory(organization=OrganizationFactory(), user=other_owner, role=AdministratorRole.OWNER)
    UserFactory(is_staff=True, is_superuser=True)  # operations staff are not told
    request = due_in(0, organization=org)
    assert workflow.reminder_recipients(request) == sorted([owner, handler], key=lambda u: u.pk)
    remind_assignees()
    assert RequestEvent.objects.get(request=request).internal


def test_nobody_to_remind_still_records_the_notice():
    request = due_in(0, organization=OrganizationFactory())
    remind_assignees()
    assert "assign it" in RequestEvent.objects.get(request=request).display_text
