"""The provider API (SVC-2 to SVC-5): tokens only for open grants with the right
secret, members with exactly the confirmed scopes that the organization collects,
every member returned recorded as a disclosure in a fixed number of queries, and clear
JSON errors for bad tokens, cursors and input, in the REST API's one error body."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from consent.models.sharing import (
    Disclosure,
    GrantStatus,
    PersonalAuthorization,
    ProviderToken,
    ServiceKind,
)
from consent.services import sharing, tokens
from consent.services.open_ids import member_open_id, organization_open_id, user_open_id
from organizations.models import CollectionSetting, MemberStatus
from tests.consent.test_sharing import CLIENT_SECRET, add_scopes, open_for, owner_access, third_party
from tests.factories import MemberFactory, UserFactory

pytestmark = pytest.mark.django_db

TOKEN_URL = "/provider/v1/token"
MEMBERS_URL = "/provider/v1/members"
ME_URL = "/provider/v1/me"


def bearer(raw: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def error_code(response) -> str:
    """The code of the REST API's one error body, ``{"error": {"status", "code",
    "message", "fields"?}}`` (dataprotection.api.errors), checking its shape."""
    error = response.json()["error"]
    assert error["status"] == response.status_code and error["message"]
    assert set(error) <= {"status", "code", "message", "fields"}
    return error["code"]


@pytest.fixture
def opened(cast):
    """A third-party app declaring name, mobile, office email and departments, opened."""
    service = third_party(scopes=["name", "mobile", "office_email", "departments"])
    grant = open_for(cast, service)
    cast.member.mobile = "+8613912340000"
    cast.member.office_email = "member@example.com"
    cast.member.employee_number = "E-1"
    cast.member.save()
    return service, grant


def test_urls_are_mounted():
    assert reverse("consent:provider_token") == TOKEN_URL
    assert reverse("consent:provider_members") == MEMBERS_URL


# --------------------------------------------------------------------------- token


@pytest.mark.parametrize("as_json", [False, True])
def test_token_for_an_open_grant(cast, opened, as_json, settings):
    """SVC-3: client credentials plus the organization's open ID give a bearer token
    (no CSRF token: providers are no browsers)."""
    client = Client(enforce_csrf_checks=True)
    service, grant = opened
    data = {
        "client_id": service.code,
        "client_secret": CLIENT_SECRET,
        "organization": organization_open_id(service.code, cast.organization.pk),
    }
    if as_json:
        response = client.post(TOKEN_URL, json.dumps(data), content_type="application/json")
    else:
        response = client.post(TOKEN_URL, data)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["expires_in"] == settings.PROVIDER_TOKEN_LIFETIME_SECONDS and body["token_type"] == "Bearer"
    assert tokens.authenticate_token(body["access_token"]).grant == grant
    assert "no-store" in response["Cache-Control"]


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"client_secret": "wrong"}, 401, "invalid_client"),
        ({"client_id": "no-such-app"}, 401, "invalid_client"),
        ({"client_id": "attendance"}, 401, "invalid_client"),  # first-party: no client
        ({"organization": "0" * 32}, 403, "no_active_grant"),
        ({"client_secret": ""}, 400, "invalid_request"),
        ({"user": "someone"}, 400, "invalid_request"),  # both organization and user
        ({"client_id": ["a", "b"]}, 400, "invalid_request"),
    ],
)
def test_token_refusals(client, cast, opened, change, status, code):
    service, _grant = opened
    data = {
        "client_id": service.code,
        "client_secret": CLIENT_SECRET,
        "organization": organization_open_id(service.code, cast.organization.pk),
        **change,
    }
    response = client.post(TOKEN_URL, json.dumps(data), content_type="application/json")
    assert (response.status_code, error_code(response)) == (status, code)
    assert not ProviderToken.objects.exists()


def test_token_refused_once_the_service_is_closed(client, cast, opened):
    service, grant = opened
    sharing.close_service(owner_access(cast), grant)
    response = client.post(
        TOKEN_URL,
        {
            "client_id": service.code,
            "client_secret": CLIENT_SECRET,
            "organization": organization_open_id(service.code, cast.organization.pk),
        },
    )
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("body", "content_type"),
    [("{not json", "application/json"), ("[1, 2]", "application/json"), ("x" * 20000, "application/json")],
)
def test_token_bad_bodies_are_400_not_500(client, body, content_type):
    response = client.post(TOKEN_URL, body, content_type=content_type)
    assert response.status_code == 400
    assert error_code(response) == "invalid_request"


def test_wrong_method_is_json(client):
    response = client.get(TOKEN_URL)
    assert response.status_code == 405 and error_code(response) == "method_not_allowed"
    assert response["Allow"] == "POST, OPTIONS"


# --------------------------------------------------------------------------- members


def test_members_send_basic_info_and_confirmed_collected_scopes(client, cast, opened):
    """SVC-2: the basic information and the confirmed scopes, by open IDs only."""
    service, grant = opened
    raw, _token = tokens.issue_token(grant=grant)
    response = client.get(MEMBERS_URL, **bearer(raw))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["scopes"] == ["basic", "name", "mobile", "office_email", "departments"]
    assert body["next_cursor"] is None
    [item] = body["data"]
    assert item == {
        "member_id": member_open_id(service.code, cast.member.pk),
        "user_id": user_open_id(service.code, cast.member_user.pk),
        "nickname": cast.member_user.nickname,
        "avatar_url": None,
        "name": "Member",
        "mobile": "+8613912340000",
        "office_email": "member@example.com",
        "departments": ["Sales East"],
    }
    assert "employee_number" not in item  # not a declared scope


def test_a_field_the_organization_does_not_collect_is_never_sent(client, cast, opened):
    """ORG-5, SVC-2: office email turned off: not sent, not recorded as disclosed."""
    _service, grant = opened
    CollectionSetting.objects.create(organization=cast.organization, field="office_email", enabled=False)
    raw, _token = tokens.issue_token(grant=grant)
    body = client.get(MEMBERS_URL, **bearer(raw)).json()
    assert "office_email" not in body["data"][0]
    assert "office_email" not in body["scopes"]
    assert "office_email" not in Disclosure.objects.get().scopes


def test_scopes_added_later_are_not_sent_until_confirmed(client, cast, opened):
    """SVC-2: the provider asks for employee numbers; until the administrator confirms,
    it gets only what was confirmed."""
    service, grant = opened
    add_scopes(service, "employee_number")
    raw, _token = tokens.issue_token(grant=grant)
    item = client.get(MEMBERS_URL, **bearer(raw)).json()["data"][0]
    assert "employee_number" not in item
    sharing.reconfirm_service(
        owner_access(cast), grant, scopes=service.data_scopes, scopes_revision=service.scopes_revision
    )
    item = client.get(MEMBERS_URL, **bearer(raw)).json()["data"][0]
    assert item["employee_number"] == "E-1"


def test_disclosures_are_recorded_set_based_with_a_fixed_query_count(client, cast, opened, django_assert_num_queries):
    """SVC-5: every member returned is recorded (first and last time, times, scopes) in
    the same number of queries for one member or for many."""
    _service, grant = opened
    raw, _token = tokens.issue_token(grant=grant)
    client.get(MEMBERS_URL, **bearer(raw))  # one member: warms caches
    for _ in range(30):
        MemberFactory(organization=cast.organization, user=UserFactory(), department=cast.sales)
    MemberFactory(organization=cast.organization, status=MemberStatus.LEFT)
    # token, collection settings, the children left out (SEC-3), members, departments;
    # then in two nested savepoints (4 queries): existing disclosures, one UPDATE, one
    # INSERT, last_used_at
    with django_assert_num_queries(13):
        response = client.get(MEMBERS_URL + "?limit=200", **bearer(raw))
    data = response.json()["data"]
    assert len(data) == 31  # the member who left is not sent
    assert Disclosure.objects.count() == 31
    first = Disclosure.objects.get(member=cast.member)
    assert (first.times, first.organization_id, first.user_id) == (2, cast.organization.pk, cast.member_user.pk)
    assert first.scopes == sorted(["basic", "name", "mobile", "office_email", "departments"])
    assert set(Disclosure.objects.exclude(member=cast.member).values_list("times", flat=True)) == {1}
    assert ProviderToken.objects.get().last_used_at is not None


def test_keyset_pages_and_opaque_cursors(client, cast, opened):
    _service, grant = opened
    for _ in range(4):
        MemberFactory(organization=cast.organization)
    raw, _token = tokens.issue_token(grant=grant)
    seen, cursor, pages = [], "", 0
    while True:
        response = client.get(MEMBERS_URL, {"limit": 2, "cursor": cursor}, **bearer(raw)).json()
        seen += [item["member_id"] for item in response["data"]]
        pages += 1
        cursor = response["next_cursor"]
        if cursor is None:
            break
        assert cursor.startswith("enc1:")  # opaque: no internal key readable
    assert pages == 3 and len(seen) == len(set(seen)) == 5
    # a cursor is bound to the grant that received it
    other = third_party("other-app", scopes=["name"])
    other_raw, _token = tokens.issue_token(grant=open_for(cast, other))
    first = client.get(MEMBERS_URL, {"limit": 2}, **bearer(raw)).json()["next_cursor"]
    response = client.get(MEMBERS_URL, {"cursor": first}, **bearer(other_raw))
    assert (response.status_code, error_code(response)) == (400, "invalid")
    assert response.json()["error"]["fields"] == {"cursor": ["The cursor is not one this API gave for this token."]}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"cursor": "garbage"}, "cursor"),
        ({"cursor": "enc1:x:AAAA"}, "cursor"),
        ({"cursor": ["a", "b"]}, "cursor"),
        ({"limit": "0"}, "limit"),
        ({"limit": "201"}, "limit"),
        ({"limit": "-5"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"limit": ["5", "6"]}, "limit"),
    ],
)
def test_bad_cursors_and_limits_are_400(client, cast, opened, params, field):
    """The shared pagination reads its parameters strictly: a 400 naming the parameter."""
    _service, grant = opened
    raw, _token = tokens.issue_token(grant=grant)
    response = client.get(MEMBERS_URL, params, **bearer(raw))
    assert (response.status_code, error_code(response)) == (400, "invalid")
    assert list(response.json()["error"]["fields"]) == [field]
    assert not Disclosure.objects.exists()


@pytest.mark.parametrize("header", ["", "Bearer", "Bearer nonsense", "Basic abc", "Bearer cst_unknown"])
def test_bad_tokens_are_401(client, header):
    response = client.get(MEMBERS_URL, HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert error_code(response) == "invalid_token"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_closed_grant_stops_the_api_at_once(client, cast, opened):
    """SVC-3: the next request after closing is refused; nothing more is disclosed."""
    _service, grant = opened
    raw, _token = tokens.issue_token(grant=grant)
    assert client.get(MEMBERS_URL, **bearer(raw)).status_code == 200
    sharing.close_service(owner_access(cast), grant)
    assert client.get(MEMBERS_URL, **bearer(raw)).status_code == 401
    assert Disclosure.objects.get().times == 1


# --------------------------------------------------------------------------- mini-programs


@pytest.fixture
def mini_program(cast):
    app = third_party("mini", scopes=[], kind=ServiceKind.MINI_PROGRAM)
    authorization = PersonalAuthorization.objects.create(user=cast.member_user, service=app)
    cast.member_user.nickname = "Little Bee"
    cast.member_user.save()
    return app, authorization


def test_mini_program_token_and_me(client, cast, mini_program):
    """SVC-4, SVC-5: a person's authorization gives the mini-program their basic
    information only, recorded as a personal disclosure."""
    app, authorization = mini_program
    response = client.post(
        TOKEN_URL,
        {"client_id": app.code, "client_secret": CLIENT_SECRET, "user": user_open_id(app.code, cast.member_user.pk)},
    )
    assert response.status_code == 200, response.content
    raw = response.json()["access_token"]
    body = client.get(ME_URL, **bearer(raw)).json()
    assert body == {
        "user_id": user_open_id(app.code, cast.member_user.pk),
        "nickname": "Little Bee",
        "avatar_url": None,
    }
    client.get(ME_URL, **bearer(raw))
    disclosure = Disclosure.objects.get()
    assert (disclosure.user, disclosure.member, disclosure.times, disclosure.scopes) == (
        cast.member_user,
        None,
        2,
        ["basic"],
    )
    assert client.get(MEMBERS_URL, **bearer(raw)).status_code == 403  # not an organization's grant
    PersonalAuthorization.objects.filter(pk=authorization.pk).update(status=GrantStatus.REVOKED)
    assert client.get(ME_URL, **bearer(raw)).status_code == 401


def test_me_refuses_an_organization_token_and_unknown_people(client, cast, opened, mini_program):
    _service, grant = opened
    raw, _token = tokens.issue_token(grant=grant)
    assert client.get(ME_URL, **bearer(raw)).status_code == 403
    app, _authorization = mini_program
    response = client.post(TOKEN_URL, {"client_id": app.code, "client_secret": CLIENT_SECRET, "user": "nobody"})
    assert (response.status_code, error_code(response)) == (403, "no_active_grant")


def test_errors_are_json_in_the_one_error_body_whatever_the_accept_header(client, cast, opened):
    """Every refusal of the provider API has the REST API's error body, as JSON even to a
    client that asks for HTML."""
    _service, grant = opened
    raw, _token = tokens.issue_token(grant=grant)
    response = client.get(ME_URL, HTTP_ACCEPT="text/html", **bearer(raw))
    assert response["Content-Type"] == "application/json"
    assert (response.status_code, error_code(response)) == (403, "wrong_token")
    response = client.get(f"{MEMBERS_URL}/{'0' * 32}", HTTP_ACCEPT="text/html", **bearer(raw))
    assert (response.status_code, error_code(response)) == (404, "not_found")


def test_a_session_is_never_a_provider_credential(client, cast):
    """SEC-1 (Area.PROVIDER): a signed-in browser gets nothing from the provider API."""
    client.force_login(cast.owner)
    response = client.get(MEMBERS_URL)
    assert (response.status_code, error_code(response)) == (401, "invalid_token")
    assert response["WWW-Authenticate"] == 'Bearer error="invalid_token"'
