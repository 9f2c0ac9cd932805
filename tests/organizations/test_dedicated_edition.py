"""ACC-6 (ZH-DED 五(一)2): in a dedicated-edition organization the member's basic
information is provided by the organization; the member cannot change it on their own
profile page, while members of standard-edition organizations can."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from accounts.models import User
from accounts.services import profile
from organizations.models import Edition

pytestmark = pytest.mark.django_db


def profile_post(user: User, **overrides) -> dict:
    data = {
        "name": user.name,
        "nickname": user.nickname,
        "gender": user.gender,
        "birthday": "",
        "work_region": user.work_region,
        "company_email": user.company_email,
        "preferred_language": user.preferred_language,
    }
    data.update(overrides)
    return data


def make_dedicated(cast):
    cast.organization.edition = Edition.DEDICATED
    cast.organization.save(update_fields=["edition"])


def test_standard_edition_member_edits_name(client, cast):
    client.force_login(cast.member_user)
    response = client.post("/accounts/profile/edit/", profile_post(cast.member_user, name="New Name"))
    assert response.status_code == 302
    cast.member_user.refresh_from_db()
    assert cast.member_user.name == "New Name"


def test_dedicated_edition_member_cannot_change_name_or_company_email(client, cast):
    make_dedicated(cast)
    client.force_login(cast.member_user)
    page = client.get("/accounts/profile/edit/").content.decode()
    assert "Provided by Hangzhou Example Co. (dedicated edition)" in page
    response = client.post(
        "/accounts/profile/edit/",
        profile_post(cast.member_user, name="Forged", company_email="x@example.com", nickname="Still mine"),
    )
    assert response.status_code == 302
    cast.member_user.refresh_from_db()
    assert cast.member_user.name == "Member"  # disabled field: the posted value is ignored
    assert cast.member_user.company_email == ""
    assert cast.member_user.nickname == "Still mine"  # other fields stay the person's own


def test_service_refuses_locked_fields_for_the_person(cast):
    make_dedicated(cast)
    with pytest.raises(ValidationError, match="Your organization provides these fields"):
        profile.update_profile(cast.member_user, {"name": "Forged"})
    cast.member_user.refresh_from_db()
    assert cast.member_user.name == "Member"


def test_locks_end_when_the_membership_ends(client, cast):
    make_dedicated(cast)
    cast.member.status = "left"
    cast.member.save(update_fields=["status"])
    profile.update_profile(cast.member_user, {"name": "Free again"})
    cast.member_user.refresh_from_db()
    assert cast.member_user.name == "Free again"
