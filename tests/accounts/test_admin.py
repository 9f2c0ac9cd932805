"""The operations console (Django admin at /ops/) for personal accounts (ORG-10, SEC-2).

Staff see that sensitive values exist, never the values: mobile numbers are masked in
lists and on change pages, the real-person authentication page shows neither the ID
number nor the legal name, and one-time codes and SMS bodies show no hash or text.
Only operations staff get in at all.
"""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from accounts.models import CodePurpose, IdentityVerification, OneTimeCode, SMSMessage
from accounts.services import codes, identity
from dataprotection.identifiers import id_number_check_digit
from dataprotection.masking import mask_phone

ID_NUMBER = "11010519491231002" + id_number_check_digit("11010519491231002")
FULL_MAINLAND_NUMBER = re.compile(r"\+861\d{10}")


def admin_html(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return response.content.decode()


@pytest.fixture
def staff_client(client, cast):
    client.force_login(cast.staff)
    return client


def test_user_list_shows_masked_numbers_only(staff_client, cast):
    """ORG-10: the user list masks every mobile number, the staff member's own included."""
    page = admin_html(staff_client, reverse("admin:accounts_user_changelist"))
    users = [cast.owner, cast.member_user, cast.other_org_admin, cast.staff]
    for user in users:
        assert mask_phone(user.phone) in page
        assert user.phone not in page
    assert FULL_MAINLAND_NUMBER.findall(page) == []


def test_user_search_by_full_number_finds_the_masked_row(staff_client, cast):
    """ORG-10: staff may look a person up by number; the result is still masked."""
    url = reverse("admin:accounts_user_changelist")
    response = staff_client.get(url, {"q": cast.member_user.phone})
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [cast.member_user]
    page = response.content.decode()
    # The search box echoes what staff typed; the result rows do not add the number.
    assert page.count(cast.member_user.phone) == 1
    assert f'value="{cast.member_user.phone}"' in page
    assert mask_phone(cast.member_user.phone) in page


def test_user_change_page_masks_number_and_email(staff_client, cast):
    """ORG-10: the change page shows the masked number and company email, read-only."""
    user = cast.member_user
    user.company_email = "member@example.com"
    user.save(update_fields=["company_email"])
    page = admin_html(staff_client, reverse("admin:accounts_user_change", args=[user.pk]))
    assert mask_phone(user.phone) in page
    assert "m***@example.com" in page
    assert "member@example.com" not in page
    assert FULL_MAINLAND_NUMBER.findall(page) == []
    assert 'name="phone"' not in page  # no editable (and thus readable) phone input


def test_identity_verification_admin_hides_the_id_number(staff_client, cast):
    """ACC-3/ORG-10: staff see who submitted and the status, not the ID number, the
    legal name, their ciphertext or the keyed hash."""
    verification = identity.submit_identity_verification(
        cast.member_user, legal_name="Legal Name Zhao", id_number=ID_NUMBER, explicit_consent=True
    )
    stored = IdentityVerification.objects.get(pk=verification.pk)
    for url in (
        reverse("admin:accounts_identityverification_changelist"),
        reverse("admin:accounts_identityverification_change", args=[verification.pk]),
    ):
        page = admin_html(staff_client, url)
        assert str(cast.member_user) in page
        for secret in (ID_NUMBER, ID_NUMBER[6:14], "Legal Name Zhao", stored.id_number_digest, "enc1:"):
            assert secret not in page, (url, secret)


def test_one_time_code_admin_hides_the_hash(staff_client, cast):
    """ACC-1/ORG-10: code rows show purpose and timing, never the hash or the code;
    SMS rows never show the body of a message still waiting to be delivered."""
    codes.send_code(cast.member_user.phone, CodePurpose.SIGN_IN, ip="203.0.113.5")
    otc = OneTimeCode.objects.get()
    message = SMSMessage.objects.get()  # pending: under the db fixture nothing commits
    code = re.search(r"\b\d{6}\b", message.body).group()
    pages = [
        reverse("admin:accounts_onetimecode_changelist"),
        reverse("admin:accounts_onetimecode_change", args=[otc.pk]),
        reverse("admin:accounts_smsmessage_changelist"),
        reverse("admin:accounts_smsmessage_change", args=[message.pk]),
    ]
    for url in pages:
        page = admin_html(staff_client, url)
        assert mask_phone(otc.phone) in page
        assert otc.code_hash not in page, url
        assert code not in page, url
        assert FULL_MAINLAND_NUMBER.findall(page) == [], url
    assert "sign-in" in admin_html(staff_client, pages[1])  # what the code was for


def test_codes_and_messages_are_read_only_in_the_console(staff_client, cast):
    """ORG-10/SEC-2: staff cannot create or alter codes, messages or verifications."""
    codes.send_code(cast.member_user.phone, CodePurpose.SIGN_IN)
    otc = OneTimeCode.objects.get()
    assert staff_client.get(reverse("admin:accounts_onetimecode_add")).status_code == 403
    assert staff_client.get(reverse("admin:accounts_smsmessage_add")).status_code == 403
    assert staff_client.get(reverse("admin:accounts_identityverification_add")).status_code == 403
    response = staff_client.post(
        reverse("admin:accounts_onetimecode_change", args=[otc.pk]), {"failed_attempts": "0", "purpose": "register"}
    )
    assert response.status_code == 403
    otc.refresh_from_db()
    assert otc.purpose == CodePurpose.SIGN_IN


@pytest.mark.parametrize("who", ["member_user", "owner", "anonymous"])
def test_non_staff_are_sent_to_the_admin_login(client, cast, who):
    """ORG-10: people who are not operations staff, organization owners included, are
    redirected to the console's sign-in and see nothing."""
    if who != "anonymous":
        client.force_login(getattr(cast, who))
    for url in (reverse("admin:index"), reverse("admin:accounts_user_changelist")):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.url.startswith(reverse("admin:login") + "?next=")
    response = client.get(reverse("admin:accounts_user_change", args=[cast.member_user.pk]))
    assert response.status_code == 302
    assert cast.member_user.phone not in response.content.decode()
