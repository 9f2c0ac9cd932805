"""The operations console for data-subject requests (REQ-4 to REQ-6): the queue with its
filters, one request's page (masked details, timeline, handling forms through the
workflow services), organization requests read-only for staff, the dashboard."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from dataprotection.models import AuditEvent
from requests.models import DataSubjectRequest, Holiday, Jurisdiction, RefusalGround, RequestEvent, RequestStatus
from requests.services import workflow
from tests.factories import OrganizationFactory, UserFactory
from tests.requests.test_workflow import make_request

pytestmark = pytest.mark.django_db
S = RequestStatus
CHANGELIST = "admin:requests_datasubjectrequest_changelist"


def change_url(request) -> str:
    return reverse("admin:requests_datasubjectrequest_change", args=[request.pk])


def act_url(request, action: str) -> str:
    return reverse("admin:requests_datasubjectrequest_act", args=[request.pk, action])


def staff_with(*codenames: str):
    """Operations staff holding exactly these permissions."""
    user = UserFactory(is_staff=True, name="Ops handler")
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user


HANDLER_PERMS = ("view_datasubjectrequest", "change_datasubjectrequest")


def due_in(days: int, **extra) -> DataSubjectRequest:
    request = make_request(**extra)
    request.due_on = timezone.localdate() + timedelta(days=days)
    request.save(update_fields=["due_on"])
    return request


def listed(response) -> set[str]:
    return {obj.reference for obj in response.context["cl"].result_list}


# --------------------------------------------------------------------------- the queue


def test_queue_shows_deadline_badge_and_routing(client, cast, settings):
    """REQ-4, REQ-5: reference, kind, status, due date, days left / overdue, who answers."""
    settings.REQUEST_DUE_SOON_DAYS = 3
    overdue = due_in(-2, assignee=cast.staff)
    org_request = due_in(10, organization=cast.organization)
    client.force_login(cast.staff)
    page = client.get(reverse(CHANGELIST)).content.decode()
    assert overdue.reference in page and org_request.reference in page
    assert "Overdue by 2 days" in page
    assert "10 days left" in page
    assert "Operations staff" in page and cast.organization.name in page


def test_queue_query_count_is_constant(client, cast, django_assert_num_queries):
    """The changelist costs the same number of queries for 1 row or 8."""
    client.force_login(cast.staff)
    due_in(1, organization=cast.organization, assignee=cast.owner)
    with CaptureQueriesContext(connection) as one:
        assert client.get(reverse(CHANGELIST)).status_code == 200
    for i in range(7):
        due_in(i, organization=OrganizationFactory(), assignee=UserFactory(is_staff=True))
    with django_assert_num_queries(len(one.captured_queries)):
        response = client.get(reverse(CHANGELIST))
    assert len(response.context["cl"].result_list) == 8


def test_filters(client, cast, settings):
    """REQ-4: due soon and overdue queues; REQ-5: routed to operations; assigned to me;
    status, kind and jurisdiction; search by reference."""
    settings.REQUEST_DUE_SOON_DAYS = 3
    overdue = due_in(-1)
    soon = due_in(2, assignee=cast.staff)
    later = due_in(20, organization=cast.organization, jurisdiction=Jurisdiction.JAPAN)
    closed_late = due_in(-5, status=S.COMPLETED, kind="deletion")
    client.force_login(cast.staff)
    url = reverse(CHANGELIST)
    assert listed(client.get(url, {"due": "overdue"})) == {overdue.reference}
    assert listed(client.get(url, {"due": "soon"})) == {soon.reference}
    operations = {overdue.reference, soon.reference, closed_late.reference}
    assert listed(client.get(url, {"routed": "operations"})) == operations
    assert listed(client.get(url, {"routed": "organization"})) == {later.reference}
    assert listed(client.get(url, {"assigned": "me"})) == {soon.reference}
    assert listed(client.get(url, {"status__exact": "completed"})) == {closed_late.reference}
    assert listed(client.get(url, {"kind__exact": "deletion"})) == {closed_late.reference}
    assert listed(client.get(url, {"jurisdiction__exact": "japan"})) == {later.reference}
    assert listed(client.get(url, {"q": later.reference})) == {later.reference}


def test_assign_to_me_action_skips_organization_requests(client):
    handler = staff_with(*HANDLER_PERMS)
    mine = make_request()
    theirs = make_request(organization=OrganizationFactory())
    client.force_login(handler)
    response = client.post(
        reverse(CHANGELIST),
        {"action": "assign_to_me", "_selected_action": [mine.pk, theirs.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert DataSubjectRequest.objects.get(pk=mine.pk).assignee == handler
    assert DataSubjectRequest.objects.get(pk=theirs.pk).assignee is None
    assert "1 request skipped" in response.content.decode()


# --------------------------------------------------------------------------- one request


def test_details_are_masked_without_the_permission(client):
    """SEC-1: staff without requests.view_request_details see the details masked."""
    request = make_request(details="My secret story about the payroll", kind="correction", proposed_value="Li Lei")
    client.force_login(staff_with(*HANDLER_PERMS))
    page = client.get(change_url(request)).content.decode()
    assert "My secret story" not in page and "Li Lei" not in page
    assert "••••••" in page
    assert not AuditEvent.objects.filter(action="request.details_viewed").exists()


def test_details_shown_with_the_permission_and_audited(client):
    request = make_request(details="My secret story about the payroll")
    viewer = staff_with(*HANDLER_PERMS, "view_request_details")
    client.force_login(viewer)
    page = client.get(change_url(request)).content.decode()
    assert "My secret story about the payroll" not in page  # SEC-1: masked by default
    reveal = reverse("admin:requests_datasubjectrequest_reveal", args=[request.pk, "details"])
    assert reveal in page
    assert not AuditEvent.objects.filter(action="request.details_viewed").exists()
    assert "My secret story about the payroll" in client.post(reveal).content.decode()
    audit = AuditEvent.objects.get(action="request.details_viewed")
    assert audit.actor == viewer and audit.subject_user == request.subject


def test_request_page_shows_the_timeline_and_forms(client):
    handler = staff_with(*HANDLER_PERMS)
    request = make_request()
    workflow.add_note(request, actor=handler, text="Checked the archive.")
    client.force_login(handler)
    response = client.get(change_url(request))
    page = response.content.decode()
    assert "Checked the archive." in page
    names = [name for name, _form, _label in response.context["handling_forms"]]
    # EEA received: every action (extension allowed there).
    assert names == ["assign", "note", "start", "pause", "extend", "refuse", "complete"]
    assert 'name="_save"' not in page  # nothing is edited on the form itself


def test_refuse_through_the_console(client):
    """REQ-6: a ground and an explanation; the service writes the event and audit."""
    handler = staff_with(*HANDLER_PERMS)
    request = make_request(status=S.IN_PROGRESS)
    client.force_login(handler)
    response = client.post(
        act_url(request, "refuse"),
        {"refuse-ground": RefusalGround.REPEATED, "refuse-explanation": "You asked the same last week."},
        follow=True,
    )
    assert response.status_code == 200
    request.refresh_from_db()
    assert (request.status, request.refusal_ground) == (S.REFUSED, RefusalGround.REPEATED)
    event = RequestEvent.objects.get(request=request)
    assert event.actor == handler and not event.internal
    assert AuditEvent.objects.get(action="request.refused").actor == handler


def test_refusal_without_ground_writes_nothing(client):
    request = make_request(status=S.IN_PROGRESS)
    client.force_login(staff_with(*HANDLER_PERMS))
    response = client.post(act_url(request, "refuse"), {"refuse-explanation": "No."}, follow=True)
    assert "Ground" in response.content.decode()
    assert DataSubjectRequest.objects.get(pk=request.pk).status == S.IN_PROGRESS
    assert not RequestEvent.objects.exists()


def test_handling_forms_go_through_the_services(client):
    """Assign, note, start, pause, resume, extend, complete from the request page."""
    handler = staff_with(*HANDLER_PERMS)
    request = make_request()
    client.force_login(handler)
    steps = [
        ("assign", {"assign-assignee": handler.pk}),
        ("note", {"note-text": "Internal remark"}),
        ("note", {"note-text": "We are on it", "note-to_person": "on"}),
        ("start", {}),
        ("pause", {"pause-reason": "Send your ID"}),
        ("resume", {}),
        ("extend", {"extend-reason": "Many systems"}),
        ("complete", {"complete-outcome": "Here is your archive."}),
    ]
    for action, data in steps:
        assert client.post(act_url(request, action), data).status_code == 302
    request.refresh_from_db()
    assert request.assignee == handler
    assert request.status == S.COMPLETED and request.outcome == "Here is your archive."
    assert request.extended_at is not None
    kinds = list(RequestEvent.objects.filter(request=request).values_list("kind", "to_status", "internal"))
    assert kinds == [
        ("assignment", "", True),
        ("note", "", True),
        ("message", "", False),
        ("transition", "in_progress", False),
        ("transition", "paused", False),
        ("transition", "in_progress", False),
        ("transition", "extended", False),
        ("transition", "completed", False),
    ]


def test_a_refused_move_shows_the_error(client):
    request = make_request(jurisdiction=Jurisdiction.MAINLAND, status=S.IN_PROGRESS)
    client.force_login(staff_with(*HANDLER_PERMS))
    response = client.post(act_url(request, "extend"), {"extend-reason": "Busy"}, follow=True)
    assert "allows no extension" in response.content.decode()
    assert DataSubjectRequest.objects.get(pk=request.pk).status == S.IN_PROGRESS


def test_organization_requests_are_read_only_for_staff(client, cast):
    """REQ-5: the organization answers; staff see the page without forms and cannot post."""
    request = make_request(organization=cast.organization)
    client.force_login(cast.staff)  # even a superuser
    response = client.get(change_url(request))
    assert response.status_code == 200
    assert response.context["handling_forms"] == []
    assert "read-only here" in response.content.decode()
    response = client.post(act_url(request, "complete"), {"complete-outcome": "Done"})
    assert response.status_code == 403
    assert DataSubjectRequest.objects.get(pk=request.pk).status == S.RECEIVED


def test_view_only_staff_cannot_act(client):
    request = make_request()
    client.force_login(staff_with("view_datasubjectrequest"))
    assert client.get(change_url(request)).context["handling_forms"] == []
    assert client.post(act_url(request, "start")).status_code == 403


def test_people_without_staff_cannot_open_the_console(client):
    request = make_request()
    client.force_login(request.subject)
    response = client.get(change_url(request))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_holiday_admin(client, cast):
    Holiday.objects.create(jurisdiction=Jurisdiction.JAPAN, date=timezone.localdate(), name="Showa Day")
    client.force_login(cast.staff)
    assert "Showa Day" in client.get(reverse("admin:requests_holiday_changelist")).content.decode()


# --------------------------------------------------------------------------- dashboard


def test_dashboard_numbers(client, cast, django_assert_num_queries):
    """REQ-4: on-time rate per month and open requests by age, as text and bars."""
    now = timezone.now()
    today = timezone.localdate()
    # Closed this month: two on time, one late; a withdrawal does not count.
    for late in (False, False, True):
        request = make_request(status=S.COMPLETED)
        DataSubjectRequest.objects.filter(pk=request.pk).update(
            closed_at=now, due_on=today - timedelta(days=1) if late else today
        )
    make_request(status=S.WITHDRAWN)
    # Open requests by age: 3, 10, 20, 40 days.
    for age in (3, 10, 20, 40, 40):
        make_request(received_at=now - timedelta(days=age))
    client.force_login(cast.staff)
    url = reverse("admin:requests_datasubjectrequest_dashboard")
    client.get(url)  # warm the session
    with django_assert_num_queries(4):  # session, user, and the two of the dashboard
        response = client.get(url)
    this_month = response.context["on_time"][-1]
    assert (this_month["total"], this_month["on_time"], this_month["rate"]) == (3, 2, 67)
    assert len(response.context["on_time"]) == 12
    assert [bucket["count"] for bucket in response.context["ages"]] == [1, 1, 1, 2]
    page = response.content.decode()
    assert "67%" in page and "<svg" in page and "5 open requests" in page


def test_dashboard_needs_the_view_permission(client):
    client.force_login(UserFactory(is_staff=True))
    assert client.get(reverse("admin:requests_datasubjectrequest_dashboard")).status_code == 403
