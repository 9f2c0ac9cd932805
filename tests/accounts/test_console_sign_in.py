"""The console (/ops/) has no door of its own (SEC-1): its login hands over to the
portal's sign-in -- password or SMS code, then the second factor, with the lockout per
account and per address -- and no session that skipped a step reaches any page."""

from __future__ import annotations

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client

from accounts.assurance import REFUSAL_HEADER
from tests.accounts.test_two_factor import SECOND_STEP, SIGN_IN, enrolled, fresh_code, password_step
from tests.factories import TEST_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

CONSOLE = "/ops/"
CONSOLE_LOGIN = "/ops/login/"


@pytest.fixture
def staff():
    user = UserFactory(phone="+8613900139009", name="Operations", is_staff=True, is_superuser=True)
    device, _codes = enrolled(user)
    return user, device


def test_the_console_sends_anonymous_visitors_to_the_portal_sign_in(client):
    response = client.get(CONSOLE, follow=True)
    assert response.redirect_chain == [
        (f"{CONSOLE_LOGIN}?next=/ops/", 302),
        (f"{SIGN_IN}?next=%2Fops%2F", 302),
    ]
    assert response.templates[0].name == "accounts/sign_in.html"


def test_the_console_login_keeps_only_a_console_page_to_return_to(client):
    assert client.get(f"{CONSOLE_LOGIN}?next=/ops/consent/service/")["Location"] == (
        f"{SIGN_IN}?next=%2Fops%2Fconsent%2Fservice%2F"
    )
    for elsewhere in ("/accounts/profile/", "https://evil.example/ops/", "//evil.example/ops/"):
        assert client.get(CONSOLE_LOGIN, {"next": elsewhere})["Location"] == f"{SIGN_IN}?next=%2Fops%2F"


def test_the_console_login_takes_no_password(client, staff):
    """The console's own password form is gone: posting credentials to it signs no one in."""
    user, _device = staff
    response = client.post(CONSOLE_LOGIN, {"username": user.phone, "password": TEST_PASSWORD})
    assert response.status_code == 405
    assert SESSION_KEY not in client.session


def test_staff_reach_the_console_through_both_steps(client, staff):
    """SEC-1: password, then the authenticator's code, then back to the console."""
    user, device = staff
    response = password_step(client, user, next_url=CONSOLE)
    assert response["Location"] == SECOND_STEP
    assert SESSION_KEY not in client.session  # not signed in before the second factor
    assert client.get(CONSOLE)["Location"].startswith(CONSOLE_LOGIN)
    response = client.post(SECOND_STEP, {"code": fresh_code(device)})
    assert response["Location"] == CONSOLE
    assert client.get(CONSOLE).status_code == 200


def test_the_console_sign_in_locks_per_account(client, staff, settings):
    """SEC-1: wrong passwords for a staff account lock it as on the portal: afterwards
    even the right password does not get through."""
    user, _device = staff
    for _attempt in range(settings.SIGN_IN_LOCKOUT_THRESHOLD):
        client.post(SIGN_IN, {"method": "password", "phone": user.phone, "password": "wrong", "next": CONSOLE})
    response = password_step(client, user, next_url=CONSOLE)
    assert response.status_code == 200
    assert "This account is locked for security" in response.content.decode()
    assert SESSION_KEY not in client.session


def test_the_console_sign_in_locks_per_address(client, staff, settings):
    """SEC-1: failures from one address across many numbers lock that address."""
    user, _device = staff
    settings.SIGN_IN_LOCKOUT_PER_ADDRESS_THRESHOLD = 8
    for index in range(8):
        client.post(SIGN_IN, {"method": "password", "phone": f"+86139001390{index:02d}", "password": "x"})
    response = password_step(client, user, next_url=CONSOLE)
    assert "Too many failed attempts from your network" in response.content.decode()
    assert SESSION_KEY not in client.session


def test_a_member_signed_in_is_refused_by_the_console(client):
    client.force_login(UserFactory(name="Member"))
    assert client.get(CONSOLE)["Location"].startswith(CONSOLE_LOGIN)
    assert client.get(CONSOLE_LOGIN).status_code == 403


def test_a_password_only_staff_session_reaches_no_page(staff):
    """SEC-1: a staff session without the second factor (as the console's old login
    made them) is sent to verify it from every page, the portal's and the API included."""
    user, _device = staff
    client = Client()
    client.force_login(user, second_factor=False)
    for page in ("/ops/", "/accounts/profile/", "/requests/", "/privacy/", "/orgs/"):
        response = client.get(page)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/two-factor/verify/"), page
        assert response[REFUSAL_HEADER] == "second-factor"
    response = client.get("/api/v1/me/")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "second_factor_required"
