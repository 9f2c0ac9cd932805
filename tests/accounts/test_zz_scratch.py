import pytest
from accounts import services
from accounts.models import OneTimeCode, IdentityVerification
from tests.factories import UserFactory, TEST_PASSWORD


def test_admin(cast, client):
    client.force_login(cast.staff)
    services.submit_identity_verification(cast.member_user, legal_name="Zhang San", id_number="110101199003077774")
    services.send_code(cast.member_user.phone, "sign_in")
    for url in ["/ops/accounts/user/", f"/ops/accounts/user/{cast.member_user.pk}/change/", "/ops/accounts/identityverification/",
                f"/ops/accounts/identityverification/{IdentityVerification.objects.get().pk}/change/",
                "/ops/accounts/onetimecode/", f"/ops/accounts/onetimecode/{OneTimeCode.objects.get().pk}/change/", "/ops/accounts/smsmessage/"]:
        r = client.get(url)
        html = r.content.decode()
        print(url, r.status_code, cast.member_user.phone in html, "+86138" in html)
    r = client.get(f"/ops/accounts/user/{cast.member_user.pk}/change/")
    import re
    print([l for l in r.content.decode().splitlines() if "+86" in l][:10])


def test_redirect(db, client):
    u = UserFactory()
    r = client.post("/accounts/sign-in/", {"method": "password", "phone": u.phone, "password": TEST_PASSWORD, "next": "https://evil.example/"})
    print(r.status_code, r["Location"])
