"""Session security (SEC-1, SEC-5): an idle session is signed out, the activity stamp is
written at most once a minute and costs no query, token requests are untouched; and
dangerous actions need a recent proof of identity (re-authentication), where a stale
POST writes nothing."""

from __future__ import annotations

import time

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import SESSION_KEY
from django.urls import reverse
from django.utils import timezone

from accounts.api.tokens import create_api_token
from accounts.assurance import AUTH_AT_KEY, LAST_ACTIVITY_KEY, SENSITIVE_ACTIONS, Action
from accounts.models import ApiToken, SignInFailure, TokenScope
from dataprotection.models import AuditEvent
from organizations.models import Administrator, DepartmentUserObjectPermission, Right
from organizations.services.grants import grant_rights
from tests.factories import TEST_PASSWORD, AdministratorFactory, UserFactory, verified_session
from tests.organizations.test_roster_views import collect, member_url

pytestmark = pytest.mark.django_db

PROFILE = "/accounts/profile/"
TOKENS = "/accounts/profile/tokens/"
REAUTH = "/accounts/reauthenticate/"


@pytest.fixture
def person():
    return UserFactory(phone="+8613800138123", name="Session Person")


def update_session(client, **values) -> None:
    session = client.session
    session.update(values)
    session.save()


def ago(seconds: int) -> int:
    return int(time.time()) - seconds


def stale(client) -> None:
    update_session(client, **{AUTH_AT_KEY: ago(django_settings.REAUTH_MAX_AGE_SECONDS + 5)})


# --------------------------------------------------------------------------- idle expiry


def test_signing_in_stamps_the_proof_and_the_activity(client, person):
    """SEC-1: the sign-in is the first proof of identity (user_logged_in)."""
    client.force_login(person)
    session = client.session
    assert abs(session[AUTH_AT_KEY] - time.time()) < 5
    assert session[LAST_ACTIVITY_KEY] == session[AUTH_AT_KEY]


def test_an_idle_session_is_signed_out_with_a_message(client, person, settings):
    """SEC-1: idle for more than SESSION_IDLE_TIMEOUT_SECONDS: signed out, sent to sign
    in with ?next=, told why."""
    client.force_login(person)
    update_session(client, **{LAST_ACTIVITY_KEY: ago(settings.SESSION_IDLE_TIMEOUT_SECONDS + 1)})
    response = client.get(PROFILE + "?tab=1")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/sign-in/?next=/accounts/profile/%3Ftab%3D1"
    page = client.get(response["Location"])
    assert "You were signed out after 30 minutes without activity." in page.content.decode()
    assert SESSION_KEY not in client.session
    assert client.get(PROFILE)["Location"].startswith("/accounts/sign-in/")


def test_a_session_just_within_the_timeout_stays(client, person, settings):
    client.force_login(person)
    update_session(client, **{LAST_ACTIVITY_KEY: ago(settings.SESSION_IDLE_TIMEOUT_SECONDS - 30)})
    assert client.get(PROFILE).status_code == 200
    assert abs(client.session[LAST_ACTIVITY_KEY] - time.time()) < 5  # activity renewed


def test_an_idle_post_is_not_carried_out(client, person, settings):
    """SEC-1: a form posted from an idle session writes nothing; the person comes back
    to the form's page after signing in."""
    client.force_login(person)
    update_session(client, **{LAST_ACTIVITY_KEY: ago(settings.SESSION_IDLE_TIMEOUT_SECONDS + 1)})
    response = client.post(
        "/accounts/profile/edit/", {"nickname": "Changed"}, HTTP_REFERER="http://testserver/accounts/profile/edit/"
    )
    assert response["Location"] == "/accounts/sign-in/?next=/accounts/profile/edit/"
    person.refresh_from_db()
    assert person.nickname != "Changed"


def test_the_activity_is_written_at_most_once_a_minute(client, person):
    """SEC-1: no session write per request: within a minute the stamp stays and the
    session is not saved; after a minute it is rewritten once."""
    client.force_login(person)
    recent = ago(30)
    update_session(client, **{LAST_ACTIVITY_KEY: recent})
    response = client.get(PROFILE)
    assert response.status_code == 200
    assert django_settings.SESSION_COOKIE_NAME not in response.cookies  # not saved
    assert client.session[LAST_ACTIVITY_KEY] == recent
    update_session(client, **{LAST_ACTIVITY_KEY: ago(61)})
    response = client.get(PROFILE)
    assert django_settings.SESSION_COOKIE_NAME in response.cookies
    assert abs(client.session[LAST_ACTIVITY_KEY] - time.time()) < 5


def test_an_authorization_header_never_keeps_an_idle_session(client, person, settings):
    """SEC-1: idleness is a property of the session, never of headers: an idle session
    sent with a bearer token is signed out all the same; the token answers for itself."""
    secret, _token = create_api_token(person, minted_by=verified_session(), name="script", scope=TokenScope.READ)
    client.force_login(person)
    update_session(client, **{LAST_ACTIVITY_KEY: ago(settings.SESSION_IDLE_TIMEOUT_SECONDS + 1)})
    response = client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 200
    assert SESSION_KEY not in client.session


def test_the_pinned_tokens_page_costs_no_extra_query(client, person, django_assert_num_queries):
    """SEC-1: the middleware and the re-authentication check read only the session and
    user loaded anyway: the tokens page keeps its three queries (session, user, tokens)."""
    client.force_login(person)
    client.get(TOKENS)
    with django_assert_num_queries(3):
        assert client.get(TOKENS).status_code == 200


# --------------------------------------------------------------------------- re-authentication


def test_reauthentication_page_confirms_the_password_and_returns(client, person):
    """SEC-1: the page asks for the password; the right one returns to ``next`` and
    renews the proof; a foreign ``next`` is never followed."""
    client.force_login(person)
    stale(client)
    response = client.get(TOKENS)
    assert response["Location"] == f"{REAUTH}?next=%2Faccounts%2Fprofile%2Ftokens%2F"
    page = client.get(response["Location"])
    assert "This action needs a recent sign-in." in page.content.decode()
    response = client.post(REAUTH, {"password": "wrong-password", "next": TOKENS})
    assert response.status_code == 200 and "The password is wrong." in response.content.decode()
    assert SignInFailure.objects.filter(kind="password").count() == 1
    response = client.post(REAUTH, {"password": TEST_PASSWORD, "next": TOKENS})
    assert response["Location"] == TOKENS
    assert abs(client.session[AUTH_AT_KEY] - time.time()) < 5
    assert client.get(TOKENS).status_code == 200
    assert AuditEvent.objects.filter(action="account.reauthenticated", subject_user=person).count() == 1
    stale(client)
    response = client.post(REAUTH, {"password": TEST_PASSWORD, "next": "https://evil.example/"})
    assert response["Location"] == reverse(django_settings.LOGIN_REDIRECT_URL)


def test_reauthentication_locks_after_repeated_wrong_passwords(client, person, settings):
    """SEC-1: wrong passwords on the re-authentication page count toward the lockout."""
    client.force_login(person)
    for _ in range(settings.SIGN_IN_LOCKOUT_THRESHOLD):
        response = client.post(REAUTH, {"password": "wrong-password"})
    assert "This account is locked for security" in response.content.decode()
    response = client.post(REAUTH, {"password": TEST_PASSWORD})
    assert response.status_code == 200 and "This account is locked" in response.content.decode()


def test_a_session_without_a_proof_of_identity_is_stale(client, person):
    """SEC-1: a session signed in before the stamp existed proves nothing recent, even
    when the person signed in elsewhere a moment ago: it is asked to re-authenticate."""
    client.force_login(person)
    assert client.get(TOKENS).status_code == 200
    session = client.session
    del session[AUTH_AT_KEY]
    session.save()
    person.__class__.objects.filter(pk=person.pk).update(last_login=timezone.now())
    assert client.get(TOKENS)["Location"].startswith(REAUTH)


def test_each_sensitive_action_is_declared_once_for_its_page_and_its_endpoint():
    """SEC-1: the page and the API endpoint of the same action share one declaration
    (transfer of ownership has no endpoint)."""
    for action, urls in SENSITIVE_ACTIONS.items():
        pages = [name for name in urls if ":" in name]
        endpoints = [name for name in urls if name.startswith("api-")]
        assert pages, action
        assert endpoints or action == Action.TRANSFER_OWNERSHIP, action


# --------------------------------------------------------------------------- guarded views


def test_api_token_creation_needs_a_recent_proof(client, person):
    """SEC-1: a stale POST creating a token writes nothing and goes to re-authentication,
    then back to the tokens page; after re-authenticating it works."""
    client.force_login(person)
    stale(client)
    response = client.post(
        TOKENS, {"name": "ci", "scope": "read", "days": "7"}, HTTP_REFERER=f"http://testserver{TOKENS}"
    )
    assert response["Location"] == f"{REAUTH}?next=%2Faccounts%2Fprofile%2Ftokens%2F"
    assert not ApiToken.objects.exists()
    client.post(REAUTH, {"password": TEST_PASSWORD, "next": TOKENS})
    response = client.post(TOKENS, {"name": "ci", "scope": "read", "days": "7"})
    assert response.status_code == 200
    assert ApiToken.objects.filter(user=person).count() == 1


@pytest.fixture
def helper(cast):
    user = UserFactory(name="Helper")
    administrator = AdministratorFactory(organization=cast.organization, user=user, scope=[cast.sales_east])
    grant_rights(user, [Right.VIEW_ROSTER], cast.sales_east)
    return administrator


def appoint_data(phone: str, cast) -> dict:
    return {
        "phone": phone,
        "rights": [Right.VIEW_ROSTER],
        "scope": "departments",
        "departments": [cast.sales.pk],
    }


def grant_state():
    return (Administrator.objects.count(), DepartmentUserObjectPermission.objects.count())


def test_appointing_an_administrator_needs_a_recent_proof(client, cast):
    """SEC-1: appointing a sub-administrator: the form itself and a stale POST go to
    re-authentication; the POST writes nothing; afterwards the appointment works."""
    UserFactory(phone="+8613911114444")
    url = reverse("organizations:admin_appoint", args=[cast.organization.pk])
    client.force_login(cast.owner)
    stale(client)
    assert client.get(url)["Location"] == f"{REAUTH}?next={url.replace('/', '%2F')}"
    before = grant_state()
    response = client.post(url, appoint_data("+8613911114444", cast), HTTP_REFERER=f"http://testserver{url}")
    assert response["Location"].startswith(REAUTH)
    assert grant_state() == before
    assert not AuditEvent.objects.filter(action="administrator.appointed").exists()
    assert client.post(REAUTH, {"password": TEST_PASSWORD, "next": url})["Location"] == url
    assert client.get(url).status_code == 200
    assert client.post(url, appoint_data("+8613911114444", cast)).status_code == 302
    assert AuditEvent.objects.filter(action="administrator.appointed").count() == 1


def test_changing_and_removing_an_administrator_need_a_recent_proof(client, cast, helper):
    """SEC-1: editing rights and removing an administrator, likewise."""
    edit = reverse("organizations:admin_edit", args=[cast.organization.pk, helper.pk])
    remove = reverse("organizations:admin_remove", args=[cast.organization.pk, helper.pk])
    client.force_login(cast.owner)
    stale(client)
    assert client.get(edit)["Location"].startswith(REAUTH)
    before = grant_state()
    changed = {"rights": [Right.VIEW_ROSTER, Right.EDIT_ROSTER], "scope": "departments", "departments": [cast.sales.pk]}
    response = client.post(edit, changed, HTTP_REFERER=f"http://testserver{edit}")
    assert response["Location"] == f"{REAUTH}?next={edit.replace('/', '%2F')}"
    response = client.post(remove, HTTP_REFERER=f"http://testserver{edit}")
    assert response["Location"] == f"{REAUTH}?next={edit.replace('/', '%2F')}"
    assert grant_state() == before
    assert not AuditEvent.objects.filter(action__startswith="administrator.").exists()
    client.post(REAUTH, {"password": TEST_PASSWORD, "next": edit})
    assert client.post(edit, changed).status_code == 302
    assert AuditEvent.objects.filter(action="administrator.rights_changed").count() == 1
    assert client.post(remove).status_code == 302
    assert not Administrator.objects.filter(pk=helper.pk).exists()


def test_revealing_a_sensitive_value_needs_a_recent_proof(client, cast):
    """SEC-1/ORG-10: a stale reveal shows nothing and records nothing; it returns to the
    member's page after re-authentication, where the reveal works."""
    collect(cast.organization, "id_number")
    reveal = member_url(cast, "member_reveal", field="id_number")
    detail = member_url(cast)
    client.force_login(cast.owner)
    stale(client)
    response = client.post(reveal, HTTP_REFERER=f"http://testserver{detail}")
    assert response["Location"] == f"{REAUTH}?next={detail.replace('/', '%2F')}"
    assert not AuditEvent.objects.filter(action="member.revealed").exists()
    assert client.post(REAUTH, {"password": TEST_PASSWORD, "next": detail})["Location"] == detail
    assert client.post(reveal).status_code == 200
    assert AuditEvent.objects.filter(action="member.revealed").count() == 1
