"""The data-subject request API (the REST API): the person's requests (REQ-1 to REQ-4, REQ-6,
REQ-7, REQ-9) and an organization's queue (REQ-4 to REQ-6) -- the permission matrix of
every endpoint and method, pinned query counts on the lists, and bad input."""

from __future__ import annotations

from datetime import timedelta

import pytest
from rest_framework.test import APIClient

from accounts.models import OneTimeCode, TokenScope
from dataprotection.models import AuditEvent
from organizations.models import Right
from organizations.services.grants import grant_rights
from requests.models import (
    DataSubjectRequest,
    DeletionGround,
    EventKind,
    ExportArchive,
    RequestEvent,
    RequestKind,
    RequestStatus,
)
from tests.api.test_consent_api import as_user, assert_error, token_client
from tests.conftest import last_code
from tests.factories import AdministratorFactory, MemberFactory, UserFactory
from tests.requests.test_exports import built, make_request, unzip
from tests.requests.test_filing import _codes_on_demand  # noqa: F401 (autouse: codes on demand)

pytestmark = pytest.mark.django_db

REQUESTS = "/api/v1/requests/"
CODE = "/api/v1/requests/code/"


@pytest.fixture
def person(db):
    return UserFactory(name="Requesting person")


@pytest.fixture
def code_for(sms_outbox, django_capture_on_commit_callbacks):
    """Ask the API for a code as ``client``; return the code ``user`` received."""

    def send(client, user) -> str:
        with django_capture_on_commit_callbacks(execute=True):  # the SMS leaves after commit
            response = client.post(CODE)
        assert response.status_code == 202, response.content
        return last_code(sms_outbox, user.phone)

    return send


def personal_client(role: str, user, cast) -> APIClient:
    if role == "person":
        return as_user(user)
    if role == "read_token":
        return token_client(user, scope=TokenScope.READ)
    if role == "other_org_token":  # an integration token of an organization the person administers
        AdministratorFactory(organization=cast.organization, user=user)
        return token_client(user, organization_id=cast.organization.pk)
    return APIClient()


def own_url(reference: str, suffix: str = "") -> str:
    return f"{REQUESTS}{reference}/{suffix}"


# --------------------------------------------------------------------------- the person: the matrix

# (GET list, POST file, POST code, GET detail, POST withdraw, GET download)
PERSONAL_EXPECTED = {
    "person": (200, 201, 202, 200, 200, 200),
    "read_token": (200, 403, 403, 200, 403, 200),
    "other_org_token": (403, 403, 403, 403, 403, 403),
    "anonymous": (401, 401, 401, 401, 401, 401),
}


@pytest.mark.parametrize("role", list(PERSONAL_EXPECTED))
def test_personal_permission_matrix(cast, person, role, sms_outbox, django_capture_on_commit_callbacks):
    """REQ-1 to REQ-4, REQ-7: the person's own requests; a read-only token
    reads (and downloads) but cannot file, ask for a code or withdraw; an organization's
    integration token may not act as the person; anonymous callers get a 401. Only the
    allowed callers write."""
    open_request = make_request(subject=person)
    archive = built(make_request(subject=person), django_capture_on_commit_callbacks)
    # A code sent beforehand, so that filing is judged on the caller alone.
    with django_capture_on_commit_callbacks(execute=True):
        as_user(person).post(CODE)
    code = last_code(sms_outbox, person.phone)
    codes_before = OneTimeCode.objects.count()
    client = personal_client(role, person, cast)
    with django_capture_on_commit_callbacks(execute=True):
        got = (
            client.get(REQUESTS).status_code,
            client.post(REQUESTS, {"kind": "access", "code": code}, format="json").status_code,
            client.post(CODE).status_code,
            client.get(own_url(open_request.reference)).status_code,
            client.post(own_url(open_request.reference, "withdraw/")).status_code,
            client.get(own_url(archive.request.reference, f"exports/{archive.pk}/download/")).status_code,
        )
    assert got == PERSONAL_EXPECTED[role]
    allowed = PERSONAL_EXPECTED[role][1] == 201
    assert DataSubjectRequest.objects.count() == (3 if allowed else 2)
    assert (OneTimeCode.objects.count() > codes_before) is allowed
    open_request.refresh_from_db()
    assert (open_request.status == RequestStatus.WITHDRAWN) is allowed


# --------------------------------------------------------------------------- the person: behaviour


def test_list_shows_own_requests_as_subject_or_agent_in_fixed_queries(person, django_assert_num_queries):
    """REQ-4, REQ-9: the caller's requests and those they filed as an agent, newest
    first, never anyone else's; the same number of queries for any page size."""
    mine = [make_request(subject=person) for _ in range(3)]
    for_someone = make_request(subject=UserFactory(), agent=person)
    make_request(subject=UserFactory())  # not the caller's
    client = as_user(person)
    with django_assert_num_queries(2):  # count, page
        body = client.get(REQUESTS).json()
    assert body["count"] == 4
    roles = {row["reference"]: row["role"] for row in body["results"]}
    assert roles == {**{r.reference: "subject" for r in mine}, for_someone.reference: "agent"}
    assert body["results"][0]["due_on"] and body["results"][0]["is_overdue"] is False
    with django_assert_num_queries(2):
        assert len(client.get(REQUESTS, {"page_size": 1}).json()["results"]) == 1


def test_filing_with_the_fresh_code(person, code_for):
    """REQ-1 to REQ-3: the code sent to the person's own number files the request,
    received and due, with one audit event; the code is spent."""
    client = as_user(person)
    code = code_for(client, person)
    response = client.post(
        REQUESTS,
        {"kind": "deletion", "jurisdiction": "mainland", "code": code, "deletion_grounds": ["no_longer_used"]},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    created = DataSubjectRequest.objects.get(reference=body["reference"])
    assert (created.subject, created.kind, created.status) == (person, "deletion", RequestStatus.RECEIVED)
    assert created.deletion_grounds == [DeletionGround.NO_LONGER_USED]
    assert body["status"] == "received" and body["due_on"] == created.due_on.isoformat()
    assert [event["to_status"] for event in body["events"]] == ["received"]
    assert AuditEvent.objects.filter(action="request.filed").count() == 1
    again = client.post(REQUESTS, {"kind": "access", "code": code}, format="json")
    assert "code" in assert_error(again, 400)["fields"]


def test_a_correction_of_a_roster_field(cast, code_for, settings):
    """REQ-2, REQ-5: a correction of the person's own roster entry is routed to its
    organization; another person's entry is refused."""
    client = as_user(cast.member_user)
    code = code_for(client, cast.member_user)
    other = MemberFactory(organization=cast.organization, department=cast.sales)
    refused = client.post(
        REQUESTS,
        {"kind": "correction", "code": code, "member_id": other.pk, "field": "name", "proposed_value": "X"},
        format="json",
    )
    assert "member_id" in assert_error(refused, 400)["fields"]
    response = client.post(
        REQUESTS,
        {"kind": "correction", "code": code, "member_id": cast.member.pk, "field": "name", "proposed_value": "Zed"},
        format="json",
    )
    assert response.status_code == 201, response.content
    created = DataSubjectRequest.objects.get(reference=response.json()["reference"])
    assert (created.organization, created.member, created.field) == (cast.organization, cast.member, "name")


def test_a_wrong_code_writes_nothing_and_counts_the_guess(person, code_for):
    """REQ-3: nothing is filed, and the wrong guess is counted even when the call
    carries an Idempotency-Key (its transaction must not roll the count back)."""
    client = as_user(person)
    code = code_for(client, person)
    wrong = "000000" if code != "000000" else "111111"
    response = client.post(REQUESTS, {"kind": "access", "code": wrong}, format="json", HTTP_IDEMPOTENCY_KEY="f1")
    assert "code" in assert_error(response, 400, "invalid")["fields"]
    assert not DataSubjectRequest.objects.exists()
    assert OneTimeCode.objects.get(user=person).failed_attempts == 1


def test_an_idempotency_key_replays_the_filing(person, code_for):
    """The REST API: a retried filing with the same key (and the code it spent) is answered
    again without a second request."""
    client = as_user(person)
    body = {"kind": "access", "code": code_for(client, person)}
    first = client.post(REQUESTS, body, format="json", HTTP_IDEMPOTENCY_KEY="file-1")
    again = client.post(REQUESTS, body, format="json", HTTP_IDEMPOTENCY_KEY="file-1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["reference"] == first.json()["reference"]
    assert DataSubjectRequest.objects.count() == 1


@pytest.mark.parametrize(
    "body, field",
    [
        ({"kind": "telepathy"}, "kind"),
        ({"kind": "portability", "jurisdiction": "mainland"}, "kind"),  # an EEA kind
        ({"kind": "access", "jurisdiction": "mars"}, "jurisdiction"),
        ({"kind": "access", "code": "12ab56"}, "code"),
        ({"kind": "deletion"}, "deletion_grounds"),
        ({"kind": "deletion", "deletion_grounds": ["boredom"]}, "deletion_grounds"),
        ({"kind": "correction", "field": "phone", "proposed_value": "x"}, "field"),
        ({"kind": "correction", "field": "name"}, "proposed_value"),
        ({"kind": "consent_withdrawal", "field": "telepathy"}, "field"),
        ({"kind": "complaint"}, "details"),
        ({"kind": "automated_decision", "automated_decision": 999999}, "automated_decision"),
        ({"kind": "access", "details": "x" * 5000}, "details"),
        ({"kind": "access", "member_id": "one"}, "member_id"),
        ({"kind": "access", "subject_phone": "+8613800000000"}, "subject_phone"),  # agents file on the pages
        ({"kind": "access", "evidence": "base64"}, "evidence"),
    ],
)
def test_bad_filings_are_400_naming_the_field_and_write_nothing(person, code_for, body, field):
    """REQ-1, REQ-2: each problem is a 400 naming the field; nothing is
    written and the code stays usable."""
    client = as_user(person)
    code = code_for(client, person)
    response = client.post(REQUESTS, {"code": code, **body}, format="json")
    fields = assert_error(response, 400, "invalid")["fields"]
    assert any(name.split(".")[0] == field for name in fields), fields
    assert not DataSubjectRequest.objects.exists()
    assert client.post(REQUESTS, {"kind": "access", "code": code}, format="json").status_code == 201


def test_code_requests_are_rate_limited_with_a_429(person, settings):
    """REQ-3, ACC-1: the SMS limits hold through the API."""
    settings.SMS_CODE_RESEND_INTERVAL = timedelta(minutes=1)
    client = as_user(person)
    assert client.post(CODE).status_code == 202
    assert_error(client.post(CODE), 429, "throttled")
    assert OneTimeCode.objects.count() == 1


def test_detail_shows_the_public_timeline_only(person):
    """REQ-6: the requester reads transitions and messages, never handlers' notes; a
    stranger's request does not exist (404)."""
    data_request = make_request(subject=person)
    RequestEvent.objects.create(request=data_request, kind=EventKind.NOTE, text="Internal remark", internal=True)
    RequestEvent.objects.create(request=data_request, kind=EventKind.MESSAGE, text="We are on it", internal=False)
    body = as_user(person).get(own_url(data_request.reference)).json()
    assert [event["text"] for event in body["events"]] == ["We are on it"]
    assert body["can_withdraw"] is True and body["exports"] == []
    assert_error(as_user(UserFactory()).get(own_url(data_request.reference)), 404)
    assert_error(as_user(person).get(own_url("R-NOPE")), 404)


def test_withdrawing_twice_is_a_409(person):
    data_request = make_request(subject=person)
    client = as_user(person)
    response = client.post(own_url(data_request.reference, "withdraw/"))
    assert response.status_code == 200 and response.json()["status"] == "withdrawn"
    assert_error(client.post(own_url(data_request.reference, "withdraw/")), 409)


def test_only_the_person_downloads_the_archive(cast, django_capture_on_commit_callbacks):
    """REQ-7: the ZIP for the person the request is about, counted and audited; the
    agent who filed it, another person and another request's path get a 404."""
    agent = UserFactory(name="Agent")
    data_request = make_request(subject=cast.member_user, agent=agent)
    archive = built(data_request, django_capture_on_commit_callbacks)
    url = own_url(data_request.reference, f"exports/{archive.pk}/download/")
    detail = as_user(cast.member_user).get(own_url(data_request.reference)).json()
    assert detail["exports"][0]["ready"] is True and detail["exports"][0]["download_url"] == url
    assert as_user(agent).get(own_url(data_request.reference)).json()["exports"] == []
    response = as_user(cast.member_user).get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert "no-store" in response["Cache-Control"]
    assert "profile.json" in unzip(response.content)
    assert_error(as_user(agent).get(url), 404)
    other = make_request(subject=cast.member_user)
    assert_error(as_user(cast.member_user).get(own_url(other.reference, f"exports/{archive.pk}/download/")), 404)
    archive.refresh_from_db()
    assert archive.downloads == 1
    assert AuditEvent.objects.filter(action="request.export_downloaded").count() == 1


def test_an_expired_archive_is_a_410_in_json_even_when_zip_is_accepted(person, django_capture_on_commit_callbacks):
    """REQ-7: after expiry there is nothing to download; the error body stays JSON."""
    archive = built(make_request(subject=person), django_capture_on_commit_callbacks)
    ExportArchive.objects.filter(pk=archive.pk).update(expires_at=archive.created_at)
    url = own_url(archive.request.reference, f"exports/{archive.pk}/download/")
    response = as_user(person).get(url, HTTP_ACCEPT="application/zip")
    assert_error(response, 410, "gone")
    assert response["Content-Type"].startswith("application/json")


# --------------------------------------------------------------------------- the organization's queue


@pytest.fixture
def handlers(cast):
    """The scoped sub-admin handles requests on Sales (where the member is), the
    out-of-scope one on Engineering."""
    grant_rights(cast.sub_admin, [Right.HANDLE_REQUESTS], cast.sales)
    grant_rights(cast.out_of_scope_sub_admin, [Right.HANDLE_REQUESTS], cast.engineering)
    return cast


def queue_url(cast, suffix: str = "") -> str:
    return f"/api/v1/organizations/{cast.organization.pk}/requests/{suffix}"


def org_client(role: str, cast) -> APIClient:
    if role == "read_token":
        return token_client(cast.owner, scope=TokenScope.READ)
    if role == "other_org_token":
        other = cast.other_org_admin.administrations.get().organization
        AdministratorFactory(organization=other, user=cast.owner)  # tokens are restricted to one's own
        return token_client(cast.owner, organization_id=other.pk)
    if role == "anonymous":
        return APIClient()
    return as_user(getattr(cast, role))


# (GET queue, GET detail, POST note); the request is about the member in Sales East.
QUEUE_EXPECTED = {
    "owner": (200, 200, 201),
    "sub_admin": (200, 200, 201),  # handle_requests on Sales
    "out_of_scope_sub_admin": (200, 404, 404),  # on Engineering: an empty queue, the request is out of scope
    "other_org_admin": (404, 404, 404),
    "member_user": (404, 404, 404),
    "anonymous": (401, 401, 401),
    "read_token": (200, 200, 403),
    "other_org_token": (404, 404, 404),
}


@pytest.mark.parametrize("role", list(QUEUE_EXPECTED))
def test_queue_permission_matrix(handlers, role):
    """REQ-5, ORG-9: the pages' gate -- out of scope 404, outside the
    administrator's subtrees 404, read-only tokens cannot write a note."""
    cast = handlers
    data_request = make_request(subject=cast.member_user, organization=cast.organization, member=cast.member)
    client = org_client(role, cast)
    queue = client.get(queue_url(cast))
    got = (
        queue.status_code,
        client.get(queue_url(cast, f"{data_request.reference}/")).status_code,
        client.post(
            queue_url(cast, f"{data_request.reference}/notes/"), {"text": "Checking"}, format="json"
        ).status_code,
    )
    assert got == QUEUE_EXPECTED[role]
    if queue.status_code == 200:
        expected = [] if role == "out_of_scope_sub_admin" else [data_request.reference]
        assert [row["reference"] for row in queue.json()["results"]] == expected
    wrote = QUEUE_EXPECTED[role][2] == 201
    assert RequestEvent.objects.filter(request=data_request, kind=EventKind.NOTE).exists() is wrote


def test_without_handle_requests_the_queue_is_403(cast):
    """REQ-5: a sub-administrator with roster rights only is in scope but forbidden."""
    data_request = make_request(subject=cast.member_user, organization=cast.organization, member=cast.member)
    client = as_user(cast.sub_admin)
    assert_error(client.get(queue_url(cast)), 403)
    assert_error(client.get(queue_url(cast, f"{data_request.reference}/")), 403)


def test_queue_costs_a_fixed_number_of_queries_and_filters_by_tab(cast, django_assert_num_queries):
    """REQ-4: administrator row, count, page -- whatever the page size; the view
    parameter picks the queue's tab; an unknown tab is a 400."""
    for due_in in (-2, 3, 20):
        _queued(cast, due_in)
    _queued(cast, 5, status=RequestStatus.COMPLETED)
    client = as_user(cast.owner)
    with django_assert_num_queries(3):
        body = client.get(queue_url(cast)).json()
    assert body["count"] == 4
    with django_assert_num_queries(3):
        assert len(client.get(queue_url(cast), {"page_size": 1}).json()["results"]) == 1
    assert client.get(queue_url(cast), {"view": "overdue"}).json()["count"] == 1
    assert client.get(queue_url(cast), {"view": "closed"}).json()["count"] == 1
    assert client.get(queue_url(cast), {"view": "open"}).json()["count"] == 3
    assert "view" in assert_error(client.get(queue_url(cast), {"view": "later"}), 400)["fields"]


def _queued(cast, due_in: int, status=RequestStatus.RECEIVED) -> DataSubjectRequest:
    from django.utils import timezone

    today = timezone.localdate()
    return DataSubjectRequest.objects.create(
        kind=RequestKind.ACCESS,
        jurisdiction="mainland",
        subject=UserFactory(),
        organization=cast.organization,
        status=status,
        original_due_on=today + timedelta(days=due_in),
        due_on=today + timedelta(days=due_in),
        closed_at=timezone.now() if status == RequestStatus.COMPLETED else None,
    )


def test_org_detail_has_the_full_timeline_and_notes_reach_the_person_only_when_asked(cast):
    """REQ-6: handlers see internal notes; a note with to_person is a message the
    person reads on their request."""
    data_request = make_request(subject=cast.member_user, organization=cast.organization, member=cast.member)
    client = as_user(cast.owner)
    note = client.post(queue_url(cast, f"{data_request.reference}/notes/"), {"text": "Internal"}, format="json")
    assert note.status_code == 201 and note.json()["internal"] is True
    message = client.post(
        queue_url(cast, f"{data_request.reference}/notes/"), {"text": "Hello", "to_person": True}, format="json"
    )
    assert message.status_code == 201 and message.json()["kind"] == "message"
    detail = client.get(queue_url(cast, f"{data_request.reference}/")).json()
    assert [event["text"] for event in detail["events"]] == ["Internal", "Hello"]
    assert detail["events"][0]["actor_name"] == cast.owner.name
    public = as_user(cast.member_user).get(own_url(data_request.reference)).json()
    assert [event["text"] for event in public["events"]] == ["Hello"]
    assert AuditEvent.objects.filter(action__in=["request.note", "request.message"]).count() == 2


@pytest.mark.parametrize("body", [{}, {"text": ""}, {"text": "x" * 5000}, {"text": "ok", "internal": False}, []])
def test_bad_notes_are_400(cast, body):
    data_request = make_request(subject=cast.member_user, organization=cast.organization, member=cast.member)
    response = as_user(cast.owner).post(queue_url(cast, f"{data_request.reference}/notes/"), body, format="json")
    assert_error(response, 400, "invalid")
    assert not RequestEvent.objects.filter(request=data_request).exists()


def test_another_organizations_request_is_404(cast):
    """REQ-5: a request routed elsewhere does not exist for this organization."""
    elsewhere = make_request(subject=cast.member_user)  # operations staff's
    assert_error(as_user(cast.owner).get(queue_url(cast, f"{elsewhere.reference}/")), 404)
