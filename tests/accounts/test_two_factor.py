"""Two-factor authentication (SEC-1): TOTP enrollment with a real code, the second step
of signing in, single-use recovery codes, other sessions ending when factors change,
the console and organization gates, the API, and the lockout interface."""

from __future__ import annotations

import re
import time
from binascii import unhexlify

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.api.tokens import create_api_token
from accounts.models import CodePurpose, TokenScope
from accounts.services import lockout, two_factor
from dataprotection import anonymization
from dataprotection.models import AnonymizationJob, AuditEvent
from tests.factories import TEST_PASSWORD, UserFactory, verified_session

pytestmark = pytest.mark.django_db

PROFILE = "/accounts/profile/"
SIGN_IN = "/accounts/sign-in/"
SECOND_STEP = "/accounts/sign-in/second-step/"
ENROLL = "/accounts/two-factor/enroll/"
VERIFY = "/accounts/two-factor/verify/"
CODES = "/accounts/two-factor/recovery-codes/"


@pytest.fixture(autouse=True)
def _english(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture(autouse=True)
def _no_device_throttle(settings):
    # django-otp's own delay after a wrong code would refuse the right one a second later.
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    settings.OTP_STATIC_THROTTLE_FACTOR = 0


def code_at(key_hex: str, offset_steps: int = 0) -> str:
    totp = TOTP(unhexlify(key_hex))
    totp.time = time.time() + 30 * offset_steps
    return f"{totp.token():06d}"


def fresh_code(device: TOTPDevice) -> str:
    """The app's code, one step ahead when the current one was used already."""
    device.refresh_from_db()
    totp = TOTP(device.bin_key)
    totp.time = time.time()
    ahead = max(0, device.last_t - totp.t() + 1)
    return code_at(device.key, ahead)


def enrolled(user) -> tuple[TOTPDevice, list[str]]:
    secret = two_factor.new_secret()
    return two_factor.enable_two_factor(user, secret=secret, code=code_at(secret))


def password_step(client, user, next_url=""):
    return client.post(
        SIGN_IN, {"method": "password", "phone": user.phone, "password": TEST_PASSWORD, "next": next_url}
    )


def is_signed_in(client) -> bool:
    return client.get(PROFILE).status_code == 200


# --------------------------------------------------------------------------- enrollment


def test_enrollment_confirms_the_app_with_a_real_code(client):
    """SEC-1: the QR code (inline SVG) and the key in groups of four; the device counts
    only after a code computed from that key; recovery codes are shown once."""
    user = UserFactory()
    client.force_login(user, second_factor=False)
    page = client.get(ENROLL)
    assert page.status_code == 200 and page["Cache-Control"] == "no-store"
    html = page.content.decode()
    assert "<svg" in html and 'data-testid="totp-qr"' in html
    groups = re.search(r'data-testid="totp-secret"[^>]*>([A-Z2-7 ]+)<', html).group(1)
    assert all(len(group) == 4 for group in groups.split())
    secret = client.session[two_factor.ENROLL_SECRET_SESSION_KEY]
    assert not TOTPDevice.objects.filter(user=user).exists()  # nothing counts before the code

    response = client.post(ENROLL, {"code": code_at(secret)})
    assert response.status_code == 302 and response["Location"] == CODES
    device = TOTPDevice.objects.get(user=user)
    assert device.confirmed and device.key == secret
    assert StaticToken.objects.filter(device__user=user).count() == 10
    assert AuditEvent.objects.filter(action="two_factor.enabled", subject_user=user).exists()
    assert client.session[two_factor.VERIFIED_SESSION_KEY]["device"] == device.persistent_id

    codes_page = client.get(CODES)
    codes = re.findall(r"<li>([a-z2-7]{4}-[a-z2-7]{4})</li>", codes_page.content.decode())
    assert len(codes) == 10
    download = client.get("/accounts/two-factor/recovery-codes.txt")
    assert download["Content-Disposition"].startswith("attachment")
    assert all(code in download.content.decode() for code in codes)
    client.post(CODES, {})
    assert client.get(CODES).status_code == 302  # shown once
    assert client.get("/accounts/two-factor/recovery-codes.txt").status_code == 302


def test_a_wrong_enrollment_code_is_refused_and_nothing_is_written(client):
    """SEC-1: a wrong code leaves the person without a device."""
    user = UserFactory()
    client.force_login(user, second_factor=False)
    client.get(ENROLL)
    secret = client.session[two_factor.ENROLL_SECRET_SESSION_KEY]
    wrong = "000000" if code_at(secret) != "000000" else "111111"
    response = client.post(ENROLL, {"code": wrong})
    assert response.status_code == 200
    assert "The code does not match" in response.content.decode()
    assert not TOTPDevice.objects.exists() and not StaticDevice.objects.exists()


def test_replacing_the_authenticator_needs_a_current_code(client):
    """SEC-1: a second enrollment replaces the old app only after a code of the old one."""
    user = UserFactory()
    old, _codes = enrolled(user)
    client.force_login(user)
    client.get(ENROLL)
    secret = client.session[two_factor.ENROLL_SECRET_SESSION_KEY]
    refused = client.post(ENROLL, {"code": code_at(secret), "current_code": ""})
    assert refused.status_code == 200 and TOTPDevice.objects.get(user=user).pk == old.pk
    response = client.post(ENROLL, {"code": code_at(secret), "current_code": fresh_code(old)})
    assert response.status_code == 302
    assert TOTPDevice.objects.get(user=user).key == secret
    assert AuditEvent.objects.filter(action="two_factor.replaced").exists()


# --------------------------------------------------------------------------- sign-in


def test_sign_in_asks_for_the_second_factor_before_signing_in(client):
    """SEC-1: a correct password alone does not sign in a person with an authenticator."""
    user = UserFactory()
    device, _codes = enrolled(user)
    response = password_step(client, user, next_url="/accounts/two-factor/")
    assert response.status_code == 302 and response["Location"] == SECOND_STEP
    assert not is_signed_in(client)
    assert "authenticator app" in client.get(SECOND_STEP).content.decode()

    wrong = client.post(SECOND_STEP, {"code": "123456" if fresh_code(device) != "123456" else "654321"})
    assert "The code is wrong" in wrong.content.decode()
    assert not is_signed_in(client)

    done = client.post(SECOND_STEP, {"code": fresh_code(device)})
    assert done.status_code == 302 and done["Location"] == "/accounts/two-factor/"
    assert is_signed_in(client)
    assert client.session[two_factor.VERIFIED_SESSION_KEY]["user"] == user.pk


def test_the_second_step_without_a_pending_sign_in_goes_back_to_sign_in(client):
    response = client.get(SECOND_STEP)
    assert response.status_code == 302 and response["Location"] == reverse("accounts:login")


def test_the_pending_sign_in_expires(client, monkeypatch):
    """SEC-1: the second step must follow the first within five minutes."""
    user = UserFactory()
    device, _codes = enrolled(user)
    password_step(client, user)
    monkeypatch.setattr(two_factor, "PENDING_MAX_AGE_SECONDS", -1)
    response = client.post(SECOND_STEP, {"code": fresh_code(device)})
    assert response.status_code == 302 and response["Location"] == reverse("accounts:login")
    assert not is_signed_in(client)


def test_a_recovery_code_works_once(client):
    """SEC-1: recovery codes are single-use."""
    user = UserFactory()
    _device, codes = enrolled(user)
    password_step(client, user)
    response = client.post(SECOND_STEP, {"code": codes[0].upper().replace("-", " ")})
    assert response.status_code == 302 and is_signed_in(client)
    assert StaticToken.objects.filter(device__user=user).count() == 9
    assert AuditEvent.objects.filter(action="two_factor.recovery_code_used", subject_user=user).exists()

    other = Client(HTTP_ACCEPT_LANGUAGE="en")
    password_step(other, user)
    again = other.post(SECOND_STEP, {"code": codes[0]})
    assert again.status_code == 200 and "The code is wrong" in again.content.decode()
    assert other.get(PROFILE).status_code == 302


def test_an_owner_without_a_device_is_signed_in_and_sent_to_enrollment(client, cast):
    """SEC-1: owners need a second factor; with none yet they enroll right away, and
    until they have, every other page sends them back to enrollment."""
    response = password_step(client, cast.owner, next_url=f"/orgs/{cast.organization.pk}/roster/")
    assert response.status_code == 302
    assert response["Location"].startswith(ENROLL + "?next=")
    assert SESSION_KEY in client.session
    profile = client.get(PROFILE)
    assert profile.status_code == 302 and profile["Location"] == f"{ENROLL}?next=%2Faccounts%2Fprofile%2F"


def test_enrollment_without_a_target_goes_on_to_the_profile_path(client, cast):
    """SEC-1: with no ``next`` the sign-in's default target travels to enrollment as a
    local path (never the URL name ``accounts:profile``, which enrollment would drop),
    and after the recovery codes the person lands on their profile."""
    response = password_step(client, cast.owner)
    assert response["Location"] == ENROLL + "?next=%2Faccounts%2Fprofile%2F"
    enroll = client.get(response["Location"]).content.decode()
    secret = client.session[two_factor.ENROLL_SECRET_SESSION_KEY]
    assert 'value="/accounts/profile/"' in enroll
    response = client.post(ENROLL, {"code": code_at(secret), "next": "/accounts/profile/"})
    assert response["Location"] == CODES + "?next=%2Faccounts%2Fprofile%2F"
    response = client.post(CODES, {"next": "/accounts/profile/"})
    assert response["Location"] == PROFILE


def test_a_member_without_a_device_signs_in_as_before(client, cast):
    response = password_step(client, cast.member_user)
    assert response.status_code == 302 and response["Location"] == PROFILE


def test_the_sms_sign_in_also_asks_for_the_second_factor(client, issue_code):
    user = UserFactory()
    device, _codes = enrolled(user)
    code = issue_code(user.phone, CodePurpose.SIGN_IN)
    response = client.post(SIGN_IN, {"method": "sms", "phone": user.phone, "code": code})
    assert response["Location"] == SECOND_STEP and not is_signed_in(client)
    client.post(SECOND_STEP, {"code": fresh_code(device)})
    assert is_signed_in(client)


# --------------------------------------------------------------------------- lockout


def test_wrong_second_factor_codes_are_counted(client, monkeypatch):
    """SEC-1: wrong TOTP and recovery codes count toward the lockout of ``user:<pk>``; a
    full sign-in clears the counts."""
    calls = []
    monkeypatch.setattr(lockout, "record_failure", lambda identifier, ip, *, kind: calls.append((identifier, kind)))
    monkeypatch.setattr(lockout, "record_success", lambda identifier, ip: calls.append((identifier, "success")))
    user = UserFactory()
    device, _codes = enrolled(user)
    password_step(client, user)
    client.post(SECOND_STEP, {"code": "000000" if fresh_code(device) != "000000" else "111111"})
    client.post(SECOND_STEP, {"code": "aaaa-bbbb"})
    client.post(SECOND_STEP, {"code": fresh_code(device)})
    key = f"user:{user.pk}"
    assert calls == [(key, "totp"), (key, "recovery_code"), (user.phone, "success"), (key, "success")]


def test_a_locked_account_cannot_pass_the_second_step(client, monkeypatch):
    user = UserFactory()
    device, _codes = enrolled(user)
    password_step(client, user)

    def locked(identifier, ip):
        if identifier == f"user:{user.pk}":
            raise lockout.LockedOut("Too many failed attempts. Try again in 15 minutes.")

    monkeypatch.setattr(lockout, "ensure_not_locked", locked)
    response = client.post(SECOND_STEP, {"code": fresh_code(device)})
    assert "Too many failed attempts" in response.content.decode()
    assert not is_signed_in(client)


def test_a_wrong_password_is_counted(client, monkeypatch):
    calls = []
    monkeypatch.setattr(lockout, "record_failure", lambda identifier, ip, *, kind: calls.append((identifier, kind)))
    user = UserFactory()
    client.post(SIGN_IN, {"method": "password", "phone": user.phone, "password": "not-it"})
    assert calls == [(user.phone, "password")]


# --------------------------------------------------------------------------- sessions


def test_other_sessions_end_when_the_factors_change(client):
    """SEC-1: enrolling, regenerating and disabling end every other session (security
    stamp), while the session that made the change stays signed in."""
    user = UserFactory()
    other = Client(HTTP_ACCEPT_LANGUAGE="en")
    other.force_login(user)
    client.force_login(user, second_factor=False)
    client.get(ENROLL)
    secret = client.session[two_factor.ENROLL_SECRET_SESSION_KEY]
    client.post(ENROLL, {"code": code_at(secret)})
    assert is_signed_in(client)
    assert other.get(PROFILE).status_code == 302  # signed out

    other.force_login(user)
    device = TOTPDevice.objects.get(user=user)
    response = client.post("/accounts/two-factor/recovery-codes/new/", {"code": fresh_code(device)})
    assert response.status_code == 302
    assert is_signed_in(client) and other.get(PROFILE).status_code == 302

    other.force_login(user)
    response = client.post("/accounts/two-factor/disable/", {"code": fresh_code(device)})
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=user).exists() and not StaticDevice.objects.filter(user=user).exists()
    assert is_signed_in(client) and other.get(PROFILE).status_code == 302
    assert two_factor.VERIFIED_SESSION_KEY not in client.session


def test_regenerating_replaces_the_recovery_codes(client):
    user = UserFactory()
    device, old_codes = enrolled(user)
    client.force_login(user)
    wrong = client.post("/accounts/two-factor/recovery-codes/new/", {"code": "zzzz-zzzz"})
    assert "The code is wrong" in wrong.content.decode()
    client.post("/accounts/two-factor/recovery-codes/new/", {"code": fresh_code(device)})
    new_codes = client.session[two_factor.NEW_CODES_SESSION_KEY]
    assert set(new_codes).isdisjoint(old_codes) and len(new_codes) == 10
    assert AuditEvent.objects.filter(action="two_factor.recovery_codes_regenerated").exists()


def test_an_owner_cannot_turn_it_off(client, cast):
    """SEC-1: required for owners: the disable page refuses."""
    device, _codes = enrolled(cast.owner)
    client.force_login(cast.owner)
    response = client.post("/accounts/two-factor/disable/", {"code": fresh_code(device)})
    assert response.status_code == 200 and "cannot be turned off" in response.content.decode()
    assert TOTPDevice.objects.filter(user=cast.owner).exists()
    with pytest.raises(Exception, match="cannot be turned off"):
        two_factor.disable_two_factor(cast.owner, code=fresh_code(device))


def test_the_security_page_shows_the_status(client, cast):
    client.force_login(cast.member_user)
    page = client.get("/accounts/two-factor/").content.decode()
    assert "Off" in page and "optional for you" in page
    enrolled(cast.owner)
    client.force_login(cast.owner)
    page = client.get("/accounts/two-factor/").content.decode()
    assert 'data-testid="recovery-codes-left">10<' in page and "your role" in page


# --------------------------------------------------------------------------- gates


def test_staff_are_sent_from_the_console_to_their_second_factor(client, cast):
    """SEC-1: the console needs a verified second factor."""
    client.force_login(cast.staff, second_factor=False)
    response = client.get("/ops/")
    assert response.status_code == 302 and response["Location"] == f"{ENROLL}?next=%2Fops%2F"
    device, _codes = enrolled(cast.staff)
    client.force_login(cast.staff, second_factor=False)
    response = client.get("/ops/")
    assert response["Location"] == f"{VERIFY}?next=%2Fops%2F"
    verified = client.post(VERIFY, {"code": fresh_code(device), "next": "/ops/"})
    assert verified["Location"] == "/ops/"
    assert client.get("/ops/").status_code == 200


@pytest.mark.parametrize(
    ("role", "flag", "gated"),
    [
        ("owner", True, True),
        ("owner", False, True),  # owners always
        ("sub_admin", True, True),
        ("sub_admin", False, False),
    ],
)
def test_the_organization_gate(client, cast, role, flag, gated):
    """SEC-1: owners always, sub-administrators when the organization requires it."""
    cast.organization.require_admin_two_factor = flag
    cast.organization.save(update_fields=["require_admin_two_factor"])
    url = f"/orgs/{cast.organization.pk}/roster/"
    client.force_login(getattr(cast, role), second_factor=False)
    response = client.get(url)
    if gated:
        assert response.status_code == 302 and response["Location"] == f"{ENROLL}?next={url.replace('/', '%2F')}"
    else:
        assert response.status_code == 200
    client.force_login(getattr(cast, role))
    assert client.get(url).status_code == 200


def test_the_gate_sends_a_person_with_a_device_to_verification(client, cast):
    enrolled(cast.owner)
    client.force_login(cast.owner, second_factor=False)
    response = client.get(f"/orgs/{cast.organization.pk}/")
    assert response["Location"].startswith(VERIFY + "?next=")


def test_outsiders_still_get_404(client, cast):
    client.force_login(cast.member_user, second_factor=False)
    assert client.get(f"/orgs/{cast.organization.pk}/roster/").status_code == 404


def test_api_tokens_are_not_affected_and_sessions_get_403(client, cast):
    """SEC-1: a bearer token (made from a verified session) works as before; a session
    without the second factor gets the API's 403 with a clear message."""
    secret, _token = create_api_token(cast.owner, minted_by=verified_session(), name="script", scope=TokenScope.READ)
    url = f"/api/v1/organizations/{cast.organization.pk}/"
    assert Client().get(url, HTTP_AUTHORIZATION=f"Bearer {secret}").status_code == 200
    client.force_login(cast.owner, second_factor=False)
    response = client.get(url)
    assert response.status_code == 403
    assert "Two-factor authentication is required" in response.json()["error"]["message"]


def test_creating_a_token_needs_a_verified_session_when_required(client, cast):
    client.force_login(cast.owner, second_factor=False)
    response = client.post("/accounts/profile/tokens/", {"name": "x", "scope": "read"})
    assert response.status_code == 302 and response["Location"].startswith(ENROLL)
    client.force_login(cast.member_user, second_factor=False)
    assert client.post("/accounts/profile/tokens/", {"name": "x", "scope": "read"}).status_code == 200


# --------------------------------------------------------------------------- personal data


def test_account_deletion_removes_the_devices_and_codes():
    """ACC-5: the account-deletion plan covers the second-factor tables."""
    user = UserFactory()
    enrolled(user)
    job = AnonymizationJob(kind="account_deletion", subject_id=user.pk, created_at=timezone.now())
    planned = {spec.model: spec for spec in anonymization.stages_for(job)}
    assert {"otp_totp.TOTPDevice", "otp_static.StaticDevice", "otp_static.StaticToken"} <= set(planned)
    assert planned["otp_static.StaticToken"].phase < planned["otp_static.StaticDevice"].phase
