"""Every account page through the Django test client (ACC-1 to ACC-5, SEC-2).

Register with an SMS code (ACC-1), the profile the person can read, correct and
supplement (ACC-2), optional real-person authentication kept encrypted (ACC-3),
password and SMS sign-in, sign-out and password reset (ACC-4), and re-verified account
deletion (ACC-5). Every write leaves an audit event with field names only (SEC-2).
Pages carry no object ids: each shows the signed-in person's own data.
"""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from PIL import Image

from accounts.models import (
    AccountDeletionRequest,
    CodePurpose,
    DeletionStatus,
    IdentityVerification,
    OneTimeCode,
    User,
)
from accounts.services import deletion as deletion_service
from accounts.services import identity
from dataprotection.identifiers import id_number_check_digit
from dataprotection.models import AuditEvent
from organizations.context_processors import cached_shutdown_notices
from tests.conftest import last_code
from tests.factories import TEST_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

PHONE = "+8613800138000"
TYPED_PHONE = "138 0013 8000"
NEW_PASSWORD = "Blue-Lantern-2026"
VALID_ID = "11010519491231002" + id_number_check_digit("11010519491231002")  # ...002X
MASKED_VALID_ID = "1101" + "*" * 10 + VALID_ID[-4:]
OTHER_VALID_ID = "44030419900101123" + id_number_check_digit("44030419900101123")


def url(name: str) -> str:
    return reverse(f"accounts:{name}")


def html(response) -> str:
    return response.content.decode()


def shows(response, text: str) -> bool:
    """True when ``text``, as the template would escape it, is in the page."""
    return escape(text) in html(response)


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def signed_in_id(client) -> str | None:
    return client.session.get("_auth_user_id")


def press_send_code(client, deliver, page: str, phone: str = PHONE, **extra):
    """Press a page's "Send code" button and deliver the SMS it queues."""
    with deliver():
        return client.post(url(page), {"phone": phone, "send_code": "1", **extra})


def registration(code: str, *, phone: str = TYPED_PHONE, password2: str = NEW_PASSWORD, **extra) -> dict:
    return {
        "phone": phone,
        "code": code,
        "name": "Li Lei",
        "password1": NEW_PASSWORD,
        "password2": password2,
        "register": "1",
        **extra,
    }


# =========================================================================== register (ACC-1)


def test_register_flow(client, deliver, sms_outbox):
    """ACC-1: send a code, register with it, and be signed in; the account exists only
    now, and its creation is audited (SEC-2)."""
    response = client.get(url("register"))
    assert response.status_code == 200
    assert shows(response, "Create your account")

    response = press_send_code(client, deliver, "register", TYPED_PHONE, name="Li Lei")
    assert response.status_code == 200
    assert shows(response, "We sent a six-digit code to +8613800138000. It is valid for five minutes.")
    assert 'value="Li Lei"' in html(response)  # the typed name is kept
    assert not User.objects.filter(phone=PHONE).exists()
    code = last_code(sms_outbox, PHONE)

    response = client.post(url("register"), registration(code))
    assert response.status_code == 302
    assert response.url == url("profile")
    user = User.objects.get(phone=PHONE)
    assert signed_in_id(client) == str(user.pk)
    assert user.name == "Li Lei"
    assert user.check_password(NEW_PASSWORD)
    assert user.preferred_language == "en"  # the language the page was used in
    assert response.cookies[django_settings.LANGUAGE_COOKIE_NAME].value == "en"
    assert OneTimeCode.objects.get(phone=PHONE).used_at is not None

    event = AuditEvent.objects.get(action="account.registered")
    assert (event.actor, event.subject_user, event.ip_address) == (user, user, "127.0.0.1")

    response = client.get(url("profile"))
    assert shows(response, "Welcome to Custodia. Your account is ready.")
    assert shows(response, "Li Lei")
    # Signed in, the registration page sends the person to their profile.
    assert client.get(url("register")).url == url("profile")


def test_register_with_an_existing_number_sends_no_code(client, deliver, sms_outbox):
    """ACC-1: an existing number is told to sign in; no code is sent to it."""
    UserFactory(phone=PHONE)
    response = press_send_code(client, deliver, "register", TYPED_PHONE)
    assert response.status_code == 200
    assert shows(response, "This number already has an account. Sign in instead.")
    assert sms_outbox == []
    assert not OneTimeCode.objects.exists()


def test_register_when_the_number_was_taken_meanwhile(client, issue_code):
    """ACC-1: a code sent before someone else registered the number creates nothing."""
    code = issue_code(PHONE, CodePurpose.REGISTER)
    UserFactory(phone=PHONE, name="First Owner")
    response = client.post(url("register"), registration(code))
    assert response.status_code == 200
    assert shows(response, "This number already has an account. Sign in instead.")
    assert User.objects.get(phone=PHONE).name == "First Owner"
    assert signed_in_id(client) is None
    assert not AuditEvent.objects.filter(action="account.registered").exists()


def test_register_with_a_wrong_code(client, deliver, sms_outbox):
    """ACC-1: a wrong code creates no account, says how many attempts are left, and is
    counted."""
    press_send_code(client, deliver, "register", TYPED_PHONE)
    code = last_code(sms_outbox, PHONE)
    response = client.post(url("register"), registration(wrong(code)))
    assert response.status_code == 200
    assert shows(response, "The code is wrong. 4 attempts left.")
    assert not User.objects.filter(phone=PHONE).exists()
    assert signed_in_id(client) is None
    assert OneTimeCode.objects.get(phone=PHONE).failed_attempts == 1


def test_register_with_an_expired_code(client, deliver, sms_outbox):
    """ACC-1: an expired code creates no account."""
    press_send_code(client, deliver, "register", TYPED_PHONE)
    code = last_code(sms_outbox, PHONE)
    OneTimeCode.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = client.post(url("register"), registration(code))
    assert response.status_code == 200
    assert shows(response, "This code has expired. Ask for a new code.")
    assert not User.objects.filter(phone=PHONE).exists()


def test_register_without_asking_for_a_code(client):
    """ACC-1: without verification no account exists."""
    response = client.post(url("register"), registration("123456"))
    assert shows(response, "No code was sent to this number. Ask for a code first.")
    assert not User.objects.exists()


def test_register_with_mismatched_passwords(client, deliver, sms_outbox):
    """ACC-1/ACC-4: mismatched passwords are caught before the code is checked, so the
    code is neither spent nor counted as a wrong guess."""
    press_send_code(client, deliver, "register", TYPED_PHONE)
    code = last_code(sms_outbox, PHONE)
    response = client.post(url("register"), registration(code, password2=NEW_PASSWORD + "x"))
    assert response.status_code == 200
    assert shows(response, "The two passwords differ.")
    assert not User.objects.exists()
    otc = OneTimeCode.objects.get()
    assert (otc.used_at, otc.failed_attempts) == (None, 0)


def test_register_with_a_weak_password(client, deliver, sms_outbox):
    """ACC-4: the complexity policy applies on registration."""
    press_send_code(client, deliver, "register", TYPED_PHONE)
    code = last_code(sms_outbox, PHONE)
    data = registration(code, password1="lanternharbour", password2="lanternharbour")
    response = client.post(url("register"), data)
    assert shows(response, "Your password must mix at least 3 kinds of characters")
    assert not User.objects.exists()


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("abc", "“abc” is not a phone number. Enter a mobile number such as 138 0013 8000 or +65 8123 4567."),
        ("12345", "“12345” is not a valid mobile number. Check the digits and the country code."),
        ("010 1234 5678", "is not a mobile number; SMS codes can only be sent to mobile phones."),
    ],
)
def test_register_with_a_malformed_number(client, deliver, sms_outbox, typed, message):
    """ACC-1: a malformed number gets a clear error and no code is sent."""
    response = press_send_code(client, deliver, "register", typed)
    assert response.status_code == 200
    assert shows(response, message)
    assert sms_outbox == []
    assert not OneTimeCode.objects.exists()


def test_register_code_must_be_six_digits(client):
    """ACC-1: a code that is not six digits is refused as such."""
    response = client.post(url("register"), registration("12ab56"))
    assert shows(response, "The code is six digits.")
    assert not User.objects.exists()


def test_send_code_rate_limit_is_shown(client, deliver, sms_outbox):
    """ACC-1: asking again within the resend interval is refused on the page."""
    press_send_code(client, deliver, "register", TYPED_PHONE)
    response = press_send_code(client, deliver, "register", TYPED_PHONE)
    assert "A code was just sent. Wait" in html(response)
    assert len(sms_outbox) == 1


# =========================================================================== sign in (ACC-4)


def test_sign_in_with_password(client):
    """ACC-4: the right password signs in, whichever way the number is typed."""
    user = UserFactory(phone=PHONE)
    response = client.post(
        url("login"), {"method": "password", "phone": TYPED_PHONE, "password": TEST_PASSWORD, "next": ""}
    )
    assert response.status_code == 302
    assert response.url == url("profile")
    assert signed_in_id(client) == str(user.pk)


@pytest.mark.parametrize(
    ("phone", "password", "active"),
    [(PHONE, "Not-The-Password-1", True), ("+8613900000000", TEST_PASSWORD, True), (PHONE, TEST_PASSWORD, False)],
    ids=["wrong-password", "unknown-number", "inactive"],
)
def test_sign_in_with_password_refused(client, phone, password, active):
    """ACC-4: a wrong password, an unknown number and a deactivated account all get the
    same message (the page does not reveal which numbers have accounts)."""
    UserFactory(phone=PHONE, is_active=active)
    response = client.post(url("login"), {"method": "password", "phone": phone, "password": password})
    assert response.status_code == 200
    assert shows(response, "The mobile number or password is wrong.")
    assert signed_in_id(client) is None


def test_sign_in_follows_only_local_next(client):
    """ACC-4: after sign-in, ``next`` is followed on this site but never to another one."""
    UserFactory(phone=PHONE)
    data = {"method": "password", "phone": PHONE, "password": TEST_PASSWORD}
    response = client.post(url("login"), {**data, "next": url("identity")})
    assert response.url == url("identity")
    client.logout()
    response = client.post(url("login"), {**data, "next": "https://evil.example/phish"})
    assert response.url == url("profile")
    client.logout()
    response = client.post(url("login") + "?next=//evil.example/", data)
    assert response.url == url("profile")


def test_sign_in_with_sms_code(client, deliver, sms_outbox):
    """ACC-4: sign in with a code sent to the number; audited with the method (SEC-2)."""
    user = UserFactory(phone=PHONE)
    response = client.get(url("login") + "?method=sms")
    assert shows(response, "Send code")
    response = press_send_code(client, deliver, "login", TYPED_PHONE, method="sms")
    assert shows(response, "We sent a six-digit code to +8613800138000.")
    code = last_code(sms_outbox, PHONE)

    response = client.post(url("login"), {"method": "sms", "phone": TYPED_PHONE, "code": wrong(code)})
    assert shows(response, "The code is wrong. 4 attempts left.")
    assert signed_in_id(client) is None

    response = client.post(url("login"), {"method": "sms", "phone": TYPED_PHONE, "code": code, "sign_in": "1"})
    assert response.status_code == 302
    assert signed_in_id(client) == str(user.pk)
    event = AuditEvent.objects.get(action="account.signed_in")
    assert (event.subject_user, event.metadata) == (user, {"method": "sms"})


def test_sign_in_with_sms_for_an_unknown_number(client, deliver, sms_outbox, issue_code):
    """ACC-4: a number without an account is told to register first, and gets no SMS;
    a code that reached it some other way does not sign in either."""
    response = press_send_code(client, deliver, "login", PHONE, method="sms")
    assert shows(response, "No account uses this number. Register first.")
    assert sms_outbox == []

    code = issue_code(PHONE, CodePurpose.SIGN_IN)
    response = client.post(url("login"), {"method": "sms", "phone": PHONE, "code": code})
    assert shows(response, "No active account uses this number. Register first.")
    assert signed_in_id(client) is None


def test_sign_out_only_by_post(client):
    """ACC-4: GET does not sign out (no cross-site logout by a link); POST does."""
    user = UserFactory(phone=PHONE)
    client.force_login(user)
    assert client.get(url("logout")).status_code == 405
    assert signed_in_id(client) == str(user.pk)
    response = client.post(url("logout"))
    assert response.status_code == 302
    assert response.url == reverse("home")
    assert signed_in_id(client) is None
    assert client.get(url("profile")).status_code == 302


# =========================================================================== password reset (ACC-4)


def test_password_reset_flow(client, deliver, sms_outbox):
    """ACC-4: reset a forgotten password with an SMS code; the old password stops working."""
    user = UserFactory(phone=PHONE)
    assert client.get(url("password_reset")).status_code == 200
    response = press_send_code(client, deliver, "password_reset", TYPED_PHONE)
    assert shows(response, "We sent a six-digit code to +8613800138000.")
    code = last_code(sms_outbox, PHONE)

    data = {"phone": TYPED_PHONE, "code": code, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    response = client.post(url("password_reset"), {**data, "code": wrong(code)})
    assert shows(response, "The code is wrong. 4 attempts left.")
    user.refresh_from_db()
    assert user.check_password(TEST_PASSWORD)

    response = client.post(url("password_reset"), data)
    assert response.status_code == 302
    assert response.url == url("login")
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert not user.check_password(TEST_PASSWORD)
    assert AuditEvent.objects.filter(action="account.password_reset", subject_user=user).count() == 1
    assert shows(client.get(url("login")), "Your password was changed. Sign in with the new password.")

    sign_in = {"method": "password", "phone": PHONE}
    assert client.post(url("login"), {**sign_in, "password": TEST_PASSWORD}).status_code == 200
    assert client.post(url("login"), {**sign_in, "password": NEW_PASSWORD}).status_code == 302


def test_password_reset_for_an_unknown_number(client, deliver, sms_outbox):
    """ACC-4: no code goes to a number without an account."""
    response = press_send_code(client, deliver, "password_reset", PHONE)
    assert shows(response, "No account uses this number. Register first.")
    assert sms_outbox == []


def test_password_reset_applies_the_policy(client, issue_code):
    """ACC-4: the new password must meet the complexity policy; the code stays unspent."""
    user = UserFactory(phone=PHONE)
    code = issue_code(PHONE, CodePurpose.PASSWORD_RESET)
    data = {"phone": PHONE, "code": code, "password1": "4829103756", "password2": "4829103756"}
    response = client.post(url("password_reset"), data)
    assert shows(response, "This password is entirely numeric.")
    user.refresh_from_db()
    assert user.check_password(TEST_PASSWORD)
    assert OneTimeCode.objects.get().used_at is None


# =========================================================================== profile (ACC-2)


@pytest.mark.parametrize("page", ["profile", "profile_edit", "identity", "delete"])
def test_account_pages_require_sign_in(client, page):
    """ACC-2: anonymous visitors are sent to sign in, and back afterwards."""
    response = client.get(url(page))
    assert response.status_code == 302
    assert response.url == f"{url('login')}?next={url(page)}"


def test_cancel_deletion_requires_sign_in(client):
    """ACC-5: cancelling a deletion request is for the signed-in person only."""
    response = client.post(url("cancel_deletion"))
    assert response.status_code == 302
    assert response.url.startswith(url("login"))


def test_profile_shows_the_persons_data(client):
    """ACC-2: the person can query every profile field."""
    user = UserFactory(
        phone=PHONE,
        name="Wang Fang",
        nickname="Fangfang",
        gender="female",
        birthday="1990-03-07",
        work_region="Hangzhou Xihu",
        company_email="fang@example.com",
        preferred_language="en",
    )
    client.force_login(user)
    response = client.get(url("profile"))
    assert response.status_code == 200
    for text in (PHONE, "Wang Fang", "Fangfang", "Female", "1990-03-07", "Hangzhou Xihu", "fang@example.com"):
        assert shows(response, text), text
    assert shows(response, "Mainland China")  # data region (SEC-6)
    assert shows(response, "Add real-person authentication")


def profile_data(user: User, **changes) -> dict:
    """The profile form as the person would post it: current values plus ``changes``."""
    data = {
        "name": user.name,
        "nickname": user.nickname,
        "gender": user.gender,
        "birthday": user.birthday.isoformat() if user.birthday else "",
        "work_region": user.work_region,
        "company_email": user.company_email,
        "preferred_language": user.preferred_language,
    }
    data.update(changes)
    return data


def test_profile_edit_saves_and_audits_field_names_only(client):
    """ACC-2/SEC-2: corrections are saved; the audit event lists the changed field names
    and carries none of the old or new values."""
    user = UserFactory(phone=PHONE, name="Old Name", company_email="old@example.com")
    client.force_login(user)
    response = client.get(url("profile_edit"))
    assert response.status_code == 200
    assert 'value="Old Name"' in html(response)

    new_values = {
        "name": "Wang Fang",
        "nickname": "Fangfang",
        "gender": "female",
        "birthday": "1990-03-07",
        "work_region": "Hangzhou Xihu",
        "company_email": "fang@example.com",
    }
    response = client.post(url("profile_edit"), profile_data(user, **new_values))
    assert response.status_code == 302
    assert response.url == url("profile")
    user.refresh_from_db()
    assert (user.name, user.nickname, user.gender, str(user.birthday)) == (
        "Wang Fang",
        "Fangfang",
        "female",
        "1990-03-07",
    )
    assert (user.work_region, user.company_email) == ("Hangzhou Xihu", "fang@example.com")

    event = AuditEvent.objects.get(action="profile.updated")
    assert event.changes == sorted(new_values)
    assert event.metadata == {}
    assert (event.actor, event.subject_user, event.ip_address) == (user, user, "127.0.0.1")
    recorded = json.dumps([event.changes, event.metadata, event.target_type, event.target_id])
    for value in [*new_values.values(), "Old Name", "old@example.com"]:
        assert value not in recorded

    page = client.get(url("profile"))
    assert shows(page, "Your profile was saved.")
    assert shows(page, "Wang Fang")
    assert shows(page, "fang@example.com")


def test_profile_edit_without_changes_records_nothing(client):
    """ACC-2/SEC-2: saving an unchanged form writes no event."""
    user = UserFactory(phone=PHONE, name="Same Name")
    client.force_login(user)
    response = client.post(url("profile_edit"), profile_data(user), follow=True)
    assert shows(response, "Nothing changed.")
    assert not AuditEvent.objects.filter(action="profile.updated").exists()


def test_profile_edit_supplements_a_single_field(client):
    """ACC-2: supplementing one field leaves the others as they were."""
    user = UserFactory(phone=PHONE, name="Keep Me", nickname="")
    client.force_login(user)
    client.post(url("profile_edit"), profile_data(user, nickname="Kiki"))
    user.refresh_from_db()
    assert (user.name, user.nickname) == ("Keep Me", "Kiki")
    assert AuditEvent.objects.get(action="profile.updated").changes == ["nickname"]


def test_preferred_language_sets_the_language_cookie(client):
    """ACC-2: choosing a preferred language saves it and switches the site to it."""
    user = UserFactory(phone=PHONE)
    client.force_login(user)
    response = client.post(url("profile_edit"), profile_data(user, preferred_language="zh-hans"))
    assert response.status_code == 302
    assert response.cookies[django_settings.LANGUAGE_COOKIE_NAME].value == "zh-hans"
    user.refresh_from_db()
    assert user.preferred_language == "zh-hans"
    assert AuditEvent.objects.get(action="profile.updated").changes == ["preferred_language"]
    assert '<html lang="zh-hans">' in html(client.get(url("profile")))


@pytest.mark.parametrize(
    ("birthday", "message"),
    [("tomorrow", "A birthday cannot be in the future."), ("1899-12-31", "Enter a birthday after 1900.")],
)
def test_implausible_birthday_is_rejected(client, birthday, message):
    """ACC-2: a birthday in the future (or before 1900) is refused and nothing is saved."""
    if birthday == "tomorrow":
        birthday = (timezone.localdate() + timedelta(days=1)).isoformat()
    user = UserFactory(phone=PHONE, name="Unchanged")
    client.force_login(user)
    response = client.post(url("profile_edit"), profile_data(user, name="Changed", birthday=birthday))
    assert response.status_code == 200
    assert shows(response, message)
    user.refresh_from_db()
    assert (user.name, user.birthday) == ("Unchanged", None)
    assert not AuditEvent.objects.exists()


# --------------------------------------------------------------------------- avatar


def image_bytes(size=(8, 8), fmt="PNG", noise=False) -> bytes:
    image = Image.new("RGB", size, (31, 111, 92))
    if noise:
        image = Image.frombytes("RGB", size, bytes((i * 7919) % 251 for i in range(size[0] * size[1] * 3)))
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def avatar_storage():
    return User._meta.get_field("avatar").storage


def stored_avatars() -> set[str]:
    try:
        _dirs, files = avatar_storage().listdir("avatars")
    except FileNotFoundError:
        return set()
    return set(files)


def upload(client, user, file: SimpleUploadedFile, **changes):
    return client.post(url("profile_edit"), {**profile_data(user, **changes), "avatar": file})


def test_avatar_upload(client, deliver):
    """ACC-2: a small PNG is accepted, stored under a random name (the file name must not
    reveal the person) and shown on the profile; replacing it deletes the old file."""
    user = UserFactory(phone=PHONE)
    client.force_login(user)
    before = stored_avatars()
    picture = image_bytes()
    with deliver():
        response = upload(client, user, SimpleUploadedFile("zhang-wei.png", picture, "image/png"))
    assert response.status_code == 302
    user.refresh_from_db()
    name = user.avatar.name
    assert name.startswith("avatars/")
    assert name.endswith(".png")
    assert "zhang" not in name
    assert stored_avatars() - before == {name.removeprefix("avatars/")}
    with avatar_storage().open(name) as stored:
        assert stored.read() == picture
    assert f'src="{user.avatar.url}"' in html(client.get(url("profile")))
    assert AuditEvent.objects.get(action="profile.updated").changes == ["avatar"]

    with deliver():
        upload(client, user, SimpleUploadedFile("second.png", image_bytes((9, 9)), "image/png"))
    user.refresh_from_db()
    assert user.avatar.name != name
    assert not avatar_storage().exists(name)  # the replaced picture is deleted on commit
    assert avatar_storage().exists(user.avatar.name)


def test_avatar_can_be_removed(client, deliver):
    """ACC-2: the person can take their picture down again ("Clear")."""
    user = UserFactory(phone=PHONE)
    client.force_login(user)
    with deliver():
        upload(client, user, SimpleUploadedFile("me.png", image_bytes(), "image/png"))
    user.refresh_from_db()
    old = user.avatar.name
    with deliver():
        response = client.post(url("profile_edit"), {**profile_data(user), "avatar-clear": "on"})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.avatar.name == ""
    assert not avatar_storage().exists(old)
    assert 'class="avatar"' not in html(client.get(url("profile")))


def _refused_upload(client, file: SimpleUploadedFile, message: str):
    user = UserFactory(phone=PHONE, name="Unchanged")
    client.force_login(user)
    before = stored_avatars()
    response = upload(client, user, file, name="Changed")
    assert response.status_code == 200
    assert shows(response, message)
    user.refresh_from_db()
    assert (user.avatar.name, user.name) == ("", "Unchanged")
    assert stored_avatars() == before  # nothing written
    assert not AuditEvent.objects.exists()


def test_oversized_avatar_is_refused(client, settings):
    """ACC-2: a picture over AVATAR_MAX_BYTES is refused with the limit named."""
    settings.AVATAR_MAX_BYTES = 200
    picture = image_bytes((64, 64), noise=True)
    assert len(picture) > 200
    _refused_upload(client, SimpleUploadedFile("big.png", picture, "image/png"), "the largest allowed is")


def test_non_image_avatar_is_refused(client):
    """ACC-2: a text file named .png is not taken for a picture."""
    file = SimpleUploadedFile("x.png", b"this is not a picture\n", "image/png")
    _refused_upload(client, file, "Upload a valid image.")


def test_unsupported_image_type_is_refused(client):
    """ACC-2: real images of other formats (here BMP) are refused with the allowed list."""
    file = SimpleUploadedFile("x.bmp", image_bytes(fmt="BMP"), "image/bmp")
    _refused_upload(client, file, "Upload a JPEG, PNG, WebP or GIF picture.")


# =========================================================================== identity (ACC-3)


def raw_identity_row(pk: int) -> dict:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT legal_name, id_number, id_number_digest FROM accounts_identityverification WHERE id = %s", [pk]
        )
        legal_name, id_number, digest = cursor.fetchone()
    return {"legal_name": legal_name, "id_number": id_number, "id_number_digest": digest}


def test_invalid_id_number_is_rejected(client):
    """ACC-3: a number with a wrong check digit, length or date is refused."""
    user = UserFactory(phone=PHONE)
    client.force_login(user)
    assert client.get(url("identity")).status_code == 200
    wrong_check = VALID_ID[:17] + ("1" if VALID_ID[17] != "1" else "2")
    for bad in (wrong_check, VALID_ID[:17], "110105194902300011"):  # check digit, length, 30 February
        response = client.post(url("identity"), {"legal_name": "Zhang San", "id_number": bad, "explicit_consent": "on"})
        assert response.status_code == 200
        assert shows(
            response,
            "Enter the 18-character resident ID number; this one has a wrong length, date or check digit.",
        ), bad
    assert not IdentityVerification.objects.exists()


def test_identity_is_stored_encrypted_and_shown_masked(client):
    """ACC-3/ORG-10: the legal name and ID number are AES-GCM ciphertext at rest, with a
    keyed hash for uniqueness, and the profile shows the number only masked."""
    user = UserFactory(phone=PHONE)
    client.force_login(user)
    typed = f"{VALID_ID[:6]} {VALID_ID[6:14]} {VALID_ID[14:].lower()}"  # spaces, lower-case x
    response = client.post(url("identity"), {"legal_name": "Zhang San", "id_number": typed, "explicit_consent": "on"})
    assert response.status_code == 302
    assert response.url == url("profile")

    verification = IdentityVerification.objects.get(user=user)
    assert (verification.legal_name, verification.id_number) == ("Zhang San", VALID_ID)
    raw = raw_identity_row(verification.pk)
    assert raw["id_number"].startswith("enc1:")
    assert raw["legal_name"].startswith("enc1:")
    for column in raw.values():
        assert VALID_ID not in column
        assert VALID_ID[6:14] not in column  # not even the birth date
        assert "Zhang San" not in column

    event = AuditEvent.objects.get(action="identity.submitted")
    assert event.changes == ["id_number", "legal_name"]
    assert VALID_ID not in json.dumps([event.changes, event.metadata])

    profile = client.get(url("profile"))
    assert shows(profile, MASKED_VALID_ID)
    assert VALID_ID not in html(profile)
    assert VALID_ID not in html(client.get(url("identity")))


def test_same_id_number_on_another_account_is_rejected(client):
    """ACC-3: one identity cannot be claimed by two accounts."""
    owner = UserFactory(phone="+8613800000001")
    identity.submit_identity_verification(owner, legal_name="Zhang San", id_number=VALID_ID, explicit_consent=True)
    client.force_login(UserFactory(phone=PHONE))
    response = client.post(
        url("identity"), {"legal_name": "Zhang San", "id_number": VALID_ID.lower(), "explicit_consent": "on"}
    )
    assert response.status_code == 200
    assert shows(response, "This ID number is already verified on another account.")
    assert list(IdentityVerification.objects.values_list("user", flat=True)) == [owner.pk]


def test_identity_can_be_updated_by_its_owner(client):
    """ACC-3: resubmitting replaces one's own data (one row per person)."""
    user = UserFactory(phone=PHONE)
    identity.submit_identity_verification(user, legal_name="Zhang San", id_number=VALID_ID, explicit_consent=True)
    client.force_login(user)
    response = client.post(
        url("identity"), {"legal_name": "Zhang Sanfeng", "id_number": OTHER_VALID_ID, "explicit_consent": "on"}
    )
    assert response.status_code == 302
    verification = IdentityVerification.objects.get()
    assert (verification.legal_name, verification.id_number) == ("Zhang Sanfeng", OTHER_VALID_ID)


def test_identity_can_be_removed(client):
    """ACC-3: the person deletes their real-person authentication data at any time."""
    user = UserFactory(phone=PHONE)
    identity.submit_identity_verification(user, legal_name="Zhang San", id_number=VALID_ID, explicit_consent=True)
    client.force_login(user)
    assert shows(client.get(url("identity")), "Delete my real-person authentication data")
    response = client.post(url("identity"), {"remove": "1"})
    assert response.status_code == 302
    assert not IdentityVerification.objects.filter(user=user).exists()
    assert AuditEvent.objects.filter(action="identity.removed", subject_user=user).count() == 1
    profile = client.get(url("profile"))
    assert shows(profile, "Your real-person authentication data was deleted.")
    assert shows(profile, "Add real-person authentication")
    assert not shows(profile, MASKED_VALID_ID)


# =========================================================================== deletion (ACC-5)


def test_account_deletion_flow(client, deliver, sms_outbox):
    """ACC-5: the person re-verifies with a fresh code; the request is recorded as
    received and audited, and shown on the deletion and profile pages."""
    user = UserFactory(phone=PHONE)
    client.force_login(user)
    response = client.get(url("delete"))
    assert response.status_code == 200
    assert shows(response, "Delete my account")

    with deliver():
        response = client.post(url("delete"), {"send_code": "1"})
    assert shows(response, "We sent a six-digit code to +86138****8000.")
    otc = OneTimeCode.objects.get()
    assert (otc.purpose, otc.user) == (CodePurpose.REVERIFY, user)
    code = last_code(sms_outbox, PHONE)

    response = client.post(url("delete"), {"code": code, "reason": "Moving abroad", "confirm": "1"})
    assert response.status_code == 302
    assert response.url == url("delete")
    deletion = AccountDeletionRequest.objects.get(user=user)
    assert deletion.status == DeletionStatus.RECEIVED
    assert deletion.reason == "Moving abroad"
    assert deletion.verified_at is not None
    event = AuditEvent.objects.get(action="account.deletion_requested")
    assert (event.subject_user, event.target_id) == (user, str(deletion.pk))

    page = client.get(url("delete"))
    assert shows(page, "Your account deletion request was recorded.")
    assert "is received" in html(page)
    assert shows(page, "Cancel my deletion request")
    assert shows(client.get(url("profile")), "You asked to delete your account on")


def test_account_deletion_with_a_wrong_code_records_nothing(client, issue_code):
    """ACC-5: without re-verification nothing is recorded."""
    user = UserFactory(phone=PHONE)
    code = issue_code(PHONE, CodePurpose.REVERIFY, user=user)
    client.force_login(user)
    response = client.post(url("delete"), {"code": wrong(code), "confirm": "1"})
    assert response.status_code == 200
    assert shows(response, "The code is wrong. 4 attempts left.")
    assert not AccountDeletionRequest.objects.exists()
    assert not AuditEvent.objects.filter(action="account.deletion_requested").exists()


def test_account_deletion_needs_a_reverification_code(client, issue_code):
    """ACC-5: a sign-in code is not a re-verification code."""
    user = UserFactory(phone=PHONE)
    code = issue_code(PHONE, CodePurpose.SIGN_IN)
    client.force_login(user)
    response = client.post(url("delete"), {"code": code, "confirm": "1"})
    assert shows(response, "No code was sent to this number. Ask for a code first.")
    assert not AccountDeletionRequest.objects.exists()


def test_second_deletion_request_while_one_is_open_is_refused(client, deliver, sms_outbox, issue_code, settings):
    """ACC-5: one open request per person; a second one is refused and its code is not
    spent."""
    settings.SMS_CODE_RESEND_INTERVAL = timedelta(0)
    user = UserFactory(phone=PHONE)
    first = deletion_service.request_account_deletion(user, code=issue_code(PHONE, CodePurpose.REVERIFY))

    code = issue_code(PHONE, CodePurpose.REVERIFY)
    with pytest.raises(Exception, match="already being handled"):
        deletion_service.request_account_deletion(user, code=code)
    assert OneTimeCode.objects.filter(used_at__isnull=True).count() == 1

    client.force_login(user)
    with deliver():
        client.post(url("delete"), {"send_code": "1"})
    response = client.post(url("delete"), {"code": last_code(sms_outbox, PHONE), "confirm": "1"})
    assert response.status_code == 200
    assert list(AccountDeletionRequest.objects.values_list("pk", flat=True)) == [first.pk]
    assert "is received" in html(response)  # the open request is what the page shows
    assert AuditEvent.objects.filter(action="account.deletion_requested").count() == 1


def test_deletion_request_can_be_cancelled(client, issue_code, settings):
    """ACC-5: a received request can be cancelled (audited); then a new one is possible."""
    settings.SMS_CODE_RESEND_INTERVAL = timedelta(0)
    user = UserFactory(phone=PHONE)
    deletion = deletion_service.request_account_deletion(user, code=issue_code(PHONE, CodePurpose.REVERIFY))
    client.force_login(user)
    assert client.get(url("cancel_deletion")).status_code == 405

    response = client.post(url("cancel_deletion"))
    assert response.status_code == 302
    assert response.url == url("delete")
    deletion.refresh_from_db()
    assert deletion.status == DeletionStatus.CANCELLED
    assert AuditEvent.objects.filter(action="account.deletion_cancelled", subject_user=user).count() == 1
    page = client.get(url("delete"))
    assert shows(page, "Your account deletion request was cancelled.")
    assert shows(page, "Delete my account")

    response = client.post(url("cancel_deletion"), follow=True)
    assert shows(response, "There is no deletion request that can still be cancelled.")

    again = client.post(url("delete"), {"code": issue_code(PHONE, CodePurpose.REVERIFY), "confirm": "1"})
    assert again.status_code == 302
    assert AccountDeletionRequest.objects.filter(user=user, status=DeletionStatus.RECEIVED).count() == 1


def test_processing_deletion_cannot_be_cancelled(client):
    """ACC-5: once the erasure has started, a late cancel changes nothing."""
    user = UserFactory(phone=PHONE)
    now = timezone.now()
    deletion = AccountDeletionRequest.objects.create(
        user=user, status=DeletionStatus.PROCESSING, requested_at=now, verified_at=now
    )
    client.force_login(user)
    response = client.post(url("cancel_deletion"), follow=True)
    assert shows(response, "There is no deletion request that can still be cancelled.")
    assert not shows(response, "Cancel my deletion request")
    deletion.refresh_from_db()
    assert deletion.status == DeletionStatus.PROCESSING


# =========================================================================== per person


def test_every_account_page_shows_only_the_signed_in_persons_data(client):
    """ACC-2/ACC-3/ACC-5: the pages take no object id, so they can only show
    ``request.user``'s data: signed in as Alice, nothing of Bob's appears anywhere."""
    alice = UserFactory(
        phone="+8613711112222",
        name="Alice Liu",
        nickname="alicel",
        work_region="Alice-Region",
        company_email="alice@example.com",
    )
    bob = UserFactory(
        phone="+8613933334444",
        name="Bob Chen",
        nickname="bobbyc",
        work_region="Bob-Region",
        company_email="bob@example.org",
        birthday="1985-06-15",
    )
    identity.submit_identity_verification(bob, legal_name="Chen Bo", id_number=OTHER_VALID_ID, explicit_consent=True)
    now = timezone.now()
    AccountDeletionRequest.objects.create(user=bob, reason="Bob leaves", requested_at=now, verified_at=now)
    bob_values = [
        bob.phone,
        "+86139****4444",
        "Bob Chen",
        "bobbyc",
        "Bob-Region",
        "bob@example.org",
        "1985-06-15",
        "Chen Bo",
        OTHER_VALID_ID,
        "4403" + "*" * 10 + OTHER_VALID_ID[-4:],
        "Bob leaves",
    ]

    client.force_login(alice)
    pages = {name: html(client.get(url(name))) for name in ("profile", "profile_edit", "identity", "delete")}
    for name, page in pages.items():
        for value in bob_values:
            assert escape(value) not in page, f"{value} of Bob on Alice's {name} page"
    for value in (alice.phone, "Alice Liu", "alicel", "Alice-Region", "alice@example.com"):
        assert value in pages["profile"]
    assert 'value="Alice Liu"' in pages["profile_edit"]
    assert "Add real-person authentication" in pages["profile"]  # Bob's verification is not Alice's
    assert "Delete my account" in pages["delete"]  # Bob's open request is not Alice's
    assert "Cancel my deletion request" not in pages["delete"]

    # Writes are Alice's own too: editing changes her row and leaves Bob's alone.
    client.post(url("profile_edit"), profile_data(alice, nickname="ali"))
    alice.refresh_from_db()
    bob.refresh_from_db()
    assert (alice.nickname, bob.nickname) == ("ali", "bobbyc")
    client.post(url("identity"), {"remove": "1"})
    assert IdentityVerification.objects.filter(user=bob).exists()
    client.post(url("cancel_deletion"))
    assert AccountDeletionRequest.objects.get(user=bob).status == DeletionStatus.RECEIVED


def test_profile_page_query_count(client, django_assert_num_queries):
    """ACC-2: the profile page runs a fixed, small number of queries:

    1. django_session: load the session;
    2. accounts_user: the signed-in person (request.user);
    3. accounts_identityverification: their real-person authentication, if any;
    4. accounts_accountdeletionrequest: an open deletion request, if any.
    """
    user = UserFactory(phone=PHONE, name="Counted")
    identity.submit_identity_verification(user, legal_name="Zhang San", id_number=VALID_ID, explicit_consent=True)
    client.force_login(user)
    cached_shutdown_notices()  # the ANON-6 banners' list is cached for a minute: warm, as in steady state
    with django_assert_num_queries(4):
        response = client.get(url("profile"))
    assert response.status_code == 200
    assert shows(response, MASKED_VALID_ID)


@pytest.mark.django_db
def test_registration_carries_next_through_to_the_page_that_asked(
    client, sms_outbox, django_capture_on_commit_callbacks
):
    """An invitation link sends a newcomer to sign in, then to register: after registering
    they land back on the invitation (ORG-8), never on another site."""
    phone = "+8613912340099"
    page = client.get("/accounts/sign-in/?next=/orgs/invitations/abc/").content.decode()
    assert 'href="/accounts/register/?next=/orgs/invitations/abc/"' in page
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/accounts/register/?next=/orgs/invitations/abc/", {"phone": phone, "send_code": "1"})
    code = last_code(sms_outbox, phone)
    response = client.post(
        "/accounts/register/",
        {"phone": phone, "code": code, "name": "New", "password1": "Blue-Lantern-2026",
         "password2": "Blue-Lantern-2026", "next": "/orgs/invitations/abc/"},
    )  # fmt: skip
    assert response.status_code == 302
    assert response["Location"] == "/orgs/invitations/abc/"
