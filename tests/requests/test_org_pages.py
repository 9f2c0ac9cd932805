"""An organization's request queue and request pages (REQ-4, REQ-5, REQ-6): the
permission matrix of every page, the tabs, badges and pagination, and constant query
counts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from dataprotection.files import store_encrypted
from dataprotection.models import AuditEvent
from organizations.models import Right
from organizations.services.grants import grant_rights
from requests.models import DataSubjectRequest, RequestEvent, RequestKind, RequestStatus
from tests.factories import AdministratorFactory, MemberFactory, UserFactory
from tests.organizations.matrix import ROLES, client_as

pytestmark = pytest.mark.django_db


def make_request(
    *,
    subject,
    organization=None,
    member=None,
    kind=RequestKind.CORRECTION,
    status=RequestStatus.RECEIVED,
    due_in: int = 10,
    **fields,
) -> DataSubjectRequest:
    today = timezone.localdate()
    return DataSubjectRequest.objects.create(
        kind=kind,
        jurisdiction="mainland",
        subject=subject,
        organization=organization,
        member=member,
        status=status,
        verified_at=timezone.now(),
        verification_method="sms",
        original_due_on=today + timedelta(days=due_in),
        due_on=today + timedelta(days=due_in),
        closed_at=timezone.now() if status in (RequestStatus.COMPLETED, RequestStatus.REFUSED) else None,
        **fields,
    )


@pytest.fixture
def handlers(cast):
    """The scoped sub-admin handles requests on Sales (where the member is), the
    out-of-scope one on Engineering."""
    grant_rights(cast.sub_admin, [Right.HANDLE_REQUESTS], cast.sales)
    grant_rights(cast.out_of_scope_sub_admin, [Right.HANDLE_REQUESTS], cast.engineering)
    return cast


@pytest.fixture
def about_member(handlers):
    cast = handlers
    evidence = store_encrypted(b"%PDF-1.4 evidence", "requests.request.evidence")
    return make_request(
        subject=cast.member_user,
        organization=cast.organization,
        member=cast.member,
        field="position",
        proposed_value="Senior engineer",
        details="My position is out of date.",
        evidence=evidence,
    )


def queue_url(cast, **query) -> str:
    url = reverse("data_requests:org_queue", args=[cast.organization.pk])
    if query:
        url += "?" + "&".join(f"{k}={v}" for k, v in query.items())
    return url


def detail_url(cast, request) -> str:
    return reverse("data_requests:org_request", args=[cast.organization.pk, request.pk])


QUEUE_MATRIX = {
    "owner": 200,
    "sub_admin": 200,
    "out_of_scope_sub_admin": 200,  # holds the right on Engineering: an empty queue
    "other_org_admin": 404,
    "member_user": 404,
    "anonymous": 302,
}
REQUEST_MATRIX = {
    "owner": 200,
    "sub_admin": 200,
    "out_of_scope_sub_admin": 404,
    "other_org_admin": 404,
    "member_user": 404,
    "anonymous": 302,
}


@pytest.mark.parametrize("role", ROLES)
def test_queue_permission_matrix(client, cast, about_member, role):
    """REQ-5: only administrators of the organization holding handle_requests see its
    queue, and only the requests in their scope."""
    response = client_as(client, cast, role).get(queue_url(cast))
    assert response.status_code == QUEUE_MATRIX[role]
    if response.status_code == 200:
        shown = about_member.reference.encode() in response.content
        assert shown == (role in ("owner", "sub_admin"))


@pytest.mark.parametrize("role", ROLES)
def test_request_page_permission_matrix(client, cast, about_member, role):
    """REQ-5: a request outside the administrator's organization or subtree is a 404."""
    response = client_as(client, cast, role).get(detail_url(cast, about_member))
    assert response.status_code == REQUEST_MATRIX[role]
    if response.status_code == 200:
        assert b"Senior engineer" in response.content


@pytest.mark.parametrize("role", ROLES)
def test_evidence_permission_matrix(client, cast, about_member, role):
    """The evidence goes to the request's handlers only, and every download is audited."""
    url = reverse("data_requests:org_request_evidence", args=[cast.organization.pk, about_member.pk])
    response = client_as(client, cast, role).get(url)
    assert response.status_code == REQUEST_MATRIX[role]
    audited = AuditEvent.objects.filter(action="request.evidence_viewed").count()
    if response.status_code == 200:
        assert response.content.startswith(b"%PDF")
        assert response["Content-Disposition"].startswith("attachment")
        assert "no-store" in response["Cache-Control"]
        assert audited == 1
    else:
        assert audited == 0


@pytest.mark.parametrize("role", ROLES)
def test_action_permission_matrix(client, cast, about_member, role):
    """Every action passes the same gate: nothing is written outside the scope."""
    url = reverse("data_requests:org_request_action", args=[cast.organization.pk, about_member.pk, "note"])
    response = client_as(client, cast, role).post(url, {"note-text": "Checked the contract."})
    expected = {200: 302}.get(REQUEST_MATRIX[role], REQUEST_MATRIX[role])
    assert response.status_code == expected
    notes = RequestEvent.objects.filter(request=about_member, kind="note").count()
    assert notes == (1 if REQUEST_MATRIX[role] == 200 else 0)


def test_without_the_right_the_pages_are_forbidden(client, cast):
    """In scope without handle_requests: 403 (the scoped sub-admin of the cast holds only
    roster rights)."""
    data_request = make_request(subject=cast.member_user, organization=cast.organization, member=cast.member)
    client.force_login(cast.sub_admin)
    assert client.get(queue_url(cast)).status_code == 403
    assert client.get(detail_url(cast, data_request)).status_code == 403


def test_request_of_another_organization_is_not_found(client, handlers):
    cast = handlers
    other = make_request(subject=cast.member_user)  # routed to operations staff
    client.force_login(cast.owner)
    assert client.get(detail_url(cast, other)).status_code == 404


def test_whole_organization_grant_sees_requests_about_no_roster_entry(client, cast):
    """A request routed to the organization about no roster entry (a dedicated-edition
    profile correction) needs the right on the whole organization."""
    data_request = make_request(subject=cast.member_user, organization=cast.organization, field="name")
    grant_rights(cast.sub_admin, [Right.HANDLE_REQUESTS], cast.sales)
    client.force_login(cast.sub_admin)
    assert client.get(detail_url(cast, data_request)).status_code == 404
    whole = UserFactory(name="Whole-org handler")
    AdministratorFactory(organization=cast.organization, user=whole)
    grant_rights(whole, [Right.HANDLE_REQUESTS], cast.organization)
    client.force_login(whole)
    assert client.get(detail_url(cast, data_request)).status_code == 200


def test_nav_link_shows_with_the_right(client, handlers):
    cast = handlers
    client.force_login(cast.owner)
    page = client.get(reverse("organizations:dashboard", args=[cast.organization.pk])).content.decode()
    assert queue_url(cast) in page
    client.force_login(cast.sub_admin)  # holds it on Sales (fixture)
    page = client.get(reverse("organizations:roster", args=[cast.organization.pk])).content.decode()
    assert queue_url(cast) in page


def test_nav_link_hidden_without_the_right(client, cast):
    client.force_login(cast.sub_admin)
    page = client.get(reverse("organizations:roster", args=[cast.organization.pk])).content.decode()
    assert queue_url(cast) not in page


# --------------------------------------------------------------------------- tabs and badges


def test_tabs_filter_open_due_soon_overdue_closed(client, handlers, settings):
    """REQ-4: due-soon and overdue queues, with badges; closed ones apart."""
    cast = handlers
    settings.REQUEST_DUE_SOON_DAYS = 3
    org, member, person = cast.organization, cast.member, cast.member_user
    later = make_request(subject=person, organization=org, member=member, due_in=20)
    soon = make_request(subject=person, organization=org, member=member, due_in=2)
    late = make_request(subject=person, organization=org, member=member, due_in=-1)
    done = make_request(subject=person, organization=org, member=member, status=RequestStatus.COMPLETED)
    client.force_login(cast.owner)

    def shown(view):
        content = client.get(queue_url(cast, view=view)).content.decode()
        return {r.reference for r in (later, soon, late, done) if r.reference in content}, content

    refs, content = shown("open")
    assert refs == {later.reference, soon.reference, late.reference}
    assert 'data-testid="overdue"' in content and 'data-testid="due-soon"' in content
    assert content.index(late.reference) < content.index(soon.reference) < content.index(later.reference)
    assert shown("due_soon")[0] == {soon.reference}
    assert shown("overdue")[0] == {late.reference}
    assert shown("closed")[0] == {done.reference}


def test_queue_paginates(client, handlers):
    cast = handlers
    made = [
        make_request(subject=cast.member_user, organization=cast.organization, member=cast.member, due_in=i)
        for i in range(27)
    ]
    client.force_login(cast.owner)
    first = client.get(queue_url(cast)).content.decode()
    second = client.get(queue_url(cast, view="open", page=2)).content.decode()
    assert sum(r.reference in first for r in made) == 25
    assert sum(r.reference in second for r in made) == 2
    assert "page=2" in first


def _fill(cast, count: int) -> None:
    for i in range(count):
        person = UserFactory()
        member = MemberFactory(organization=cast.organization, user=person, department=cast.sales_east)
        assignee = cast.owner if i % 2 else None
        make_request(subject=person, organization=cast.organization, member=member, due_in=i - 3, assignee=assignee)


@pytest.mark.parametrize("role", ["owner", "sub_admin"])
def test_queue_query_count_is_constant(client, handlers, django_assert_num_queries, role):
    """The queue costs the same whatever the page size: session, user, the gate (the
    administrator row; the grants for a sub-administrator), the page and the tab counts
    (the site-wide shutdown banner is cached, so one page is loaded first)."""
    cast = handlers
    client_as(client, cast, role)
    expected = 5 if role == "owner" else 6
    _fill(cast, 2)
    client.get(queue_url(cast))
    with django_assert_num_queries(expected):
        assert client.get(queue_url(cast)).status_code == 200
    _fill(cast, 23)
    with django_assert_num_queries(expected):
        response = client.get(queue_url(cast))
    assert response.content.decode().count("data-request=") == 25


# --------------------------------------------------------------------------- actions


def test_actions_go_through_the_workflow(client, cast, about_member):
    """REQ-6: assign, note, pause, resume and refuse with a ground, each audited by the
    workflow services."""
    client.force_login(cast.owner)

    def post(action, data=None):
        url = reverse("data_requests:org_request_action", args=[cast.organization.pk, about_member.pk, action])
        return client.post(url, data or {}, follow=True)

    post("assign", {"assign-assignee": cast.sub_admin.pk})
    about_member.refresh_from_db()
    assert about_member.assignee == cast.sub_admin
    post("pause", {"pause-reason": "Waiting for the contract copy."})
    about_member.refresh_from_db()
    assert about_member.status == RequestStatus.PAUSED
    post("resume")
    about_member.refresh_from_db()
    assert about_member.status == RequestStatus.IN_PROGRESS
    response = post("refuse", {"refuse-ground": "nope", "refuse-explanation": "x"})
    assert b"Select a valid choice" in response.content
    post("refuse", {"refuse-ground": "not_about_requester", "refuse-explanation": "This is someone else's entry."})
    about_member.refresh_from_db()
    assert about_member.status == RequestStatus.REFUSED
    assert about_member.refusal_ground == "not_about_requester"


def test_assigning_to_an_administrator_who_cannot_handle_it_is_refused(client, cast, about_member):
    client.force_login(cast.owner)
    url = reverse("data_requests:org_request_action", args=[cast.organization.pk, about_member.pk, "assign"])
    response = client.post(url, {"assign-assignee": cast.out_of_scope_sub_admin.pk}, follow=True)
    assert b"cannot handle this request" in response.content
    about_member.refresh_from_db()
    assert about_member.assignee is None


def test_timeline_shows_internal_notes_to_handlers(client, cast, about_member):
    RequestEvent.objects.create(request=about_member, kind="note", text="Internal: ask HR.", internal=True)
    client.force_login(cast.owner)
    content = client.get(detail_url(cast, about_member)).content.decode()
    assert "Internal: ask HR." in content
    assert "Apply the correction" in content
