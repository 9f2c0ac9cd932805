"""Children's data (SEC-3): who is a child, guardian consent before collection, the
designated person, the explicit right, audited access and no bulk export."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from dataprotection.models import AuditEvent
from organizations.models import (
    Administrator,
    FamilyContact,
    GuardianConsent,
    Member,
    Right,
    children,
)
from organizations.permissions import org_access
from organizations.services import children as child_services
from organizations.services import roster as roster_services
from organizations.services.grants import grant_rights
from organizations.services.roster_import import file_checks, parsing
from organizations.services.roster_import.snapshot import build_snapshot
from tests.factories import MemberFactory, UserFactory
from tests.organizations.matrix import ROLES, client_as
from tests.organizations.test_roster_views import ROSTER_QUERIES

TODAY = date(2026, 3, 10)


def years_ago(years: int, days: int = 0) -> date:
    today = timezone.localdate()
    return date(today.year - years, today.month, min(today.day, 28)) + timedelta(days=days)


# --------------------------------------------------------------------------- is_child


def test_exactly_fourteen_years_ago_is_no_longer_a_child():
    """SEC-3: under 14 -- someone born exactly 14 years ago today is 14."""
    assert not children.is_child(date(2012, 3, 10), children.DEFAULT, TODAY)
    assert children.is_child(date(2012, 3, 11), children.DEFAULT, TODAY)
    assert not children.is_child(None, children.DEFAULT, TODAY)


def test_australia_is_under_fifteen():
    """SEC-3 (EN Addendum for Australia 3): under 15 in Australia."""
    born = date(2011, 6, 1)  # 14 on TODAY
    assert children.is_child(born, children.AUSTRALIA, TODAY)
    assert not children.is_child(born, children.DEFAULT, TODAY)
    assert not children.is_child(date(2011, 3, 10), children.AUSTRALIA, TODAY)


def test_leap_day_birthday_is_reached_on_the_first_of_march():
    """SEC-3: born on 29 February, one turns 14 on 1 March of a common year."""
    born = date(2012, 2, 29)
    assert children.is_child(born, children.DEFAULT, date(2026, 2, 28))
    assert not children.is_child(born, children.DEFAULT, date(2026, 3, 1))
    assert children.child_cutoff(children.DEFAULT, date(2028, 2, 29)) == date(2014, 2, 28)


@given(
    born=st.dates(min_value=date(1990, 1, 1), max_value=date(2030, 12, 31)),
    today=st.dates(min_value=date(2000, 1, 1), max_value=date(2030, 12, 31)),
    jurisdiction=st.sampled_from([children.DEFAULT, children.AUSTRALIA]),
)
def test_the_cutoff_is_the_set_wise_form_of_is_child(born, today, jurisdiction):
    """SEC-3: ``birthday > child_cutoff`` (what the database evaluates) agrees with
    ``is_child`` for every birthday and day, leap days included."""
    assert children.is_child(born, jurisdiction, today) == (born > children.child_cutoff(jurisdiction, today))


def test_queryset_marks_children_set_wise(cast, django_assert_num_queries):
    """SEC-3: the roster entry's birthday, else the account's, marks a child in SQL."""
    child = MemberFactory(organization=cast.organization, name="Kid", birthday=years_ago(10))
    account_child = MemberFactory(
        organization=cast.organization, name="Kid with account", user=UserFactory(birthday=years_ago(9))
    )
    MemberFactory(organization=cast.organization, name="Adult", birthday=years_ago(30))
    cutoff = children.child_cutoff(children.DEFAULT, timezone.localdate())
    with django_assert_num_queries(1):
        flags = dict(
            Member.objects.filter(organization=cast.organization)
            .with_child_flag(cutoff)
            .values_list("name", "is_child")
        )
    assert flags == {"Member": False, "Kid": True, "Kid with account": True, "Adult": False}
    assert set(Member.objects.children(cutoff)) == {child, account_child}
    assert child not in Member.objects.without_children(cutoff)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def kid(cast):
    """A child in Sales East (inside the scoped sub-admin's Sales subtree)."""
    return MemberFactory(
        organization=cast.organization, department=cast.sales_east, name="Kid", birthday=years_ago(10), status="invited"
    )


@pytest.fixture
def officer(cast):
    """The owner is designated as the children's data officer."""
    owner_admin = Administrator.objects.get(organization=cast.organization, user=cast.owner)
    cast.organization.children_data_officer = owner_admin
    cast.organization.save(update_fields=["children_data_officer"])
    return owner_admin


@pytest.fixture
def children_viewer(cast):
    """The Sales sub-admin, also holding view_children on Sales."""
    grant_rights(cast.sub_admin, [Right.VIEW_CHILDREN], cast.sales)
    return cast.sub_admin


def member_url(cast, member, name="member") -> str:
    return reverse(f"organizations:{name}", args=[cast.organization.pk, member.pk])


# --------------------------------------------------------------------------- the gate


def test_the_owner_sees_children_only_as_designated_officer(cast, kid):
    """SEC-3, minimum-sufficient access: the owner does not hold view_children
    implicitly; designated as the officer, it does on the whole organization."""
    access = org_access(cast.owner, cast.organization.pk)
    assert not access.has(Right.VIEW_CHILDREN)
    assert kid not in access.members()
    assert access.can_grant(Right.VIEW_CHILDREN, None)  # the owner may still grant it
    owner_admin = Administrator.objects.get(organization=cast.organization, user=cast.owner)
    cast.organization.children_data_officer = owner_admin
    cast.organization.save()
    access = org_access(cast.owner, cast.organization.pk)
    assert access.has_whole(Right.VIEW_CHILDREN)
    assert kid in access.members()


def test_a_scoped_sub_admin_sees_children_only_where_it_holds_the_right(cast, kid):
    """SEC-3: view_children on a subtree shows the children placed there, no others."""
    other_kid = MemberFactory(
        organization=cast.organization, department=cast.engineering, name="Other kid", birthday=years_ago(8)
    )
    grant_rights(cast.sub_admin, [Right.VIEW_ROSTER], cast.organization)
    assert set(org_access(cast.sub_admin, cast.organization.pk).members()) & {kid, other_kid} == set()
    grant_rights(cast.sub_admin, [Right.VIEW_CHILDREN], cast.sales)
    visible = set(org_access(cast.sub_admin, cast.organization.pk).members())
    assert kid in visible and other_kid not in visible and cast.member in visible


@pytest.mark.parametrize("role", ROLES)
def test_permission_matrix_of_a_childs_detail_page(client, cast, kid, role):
    """SEC-3: a child's record is 404 for everyone without view_children on it (the
    owner included, unless designated), and 200 with it; every view is audited."""
    expected = {
        "owner": 404,
        "sub_admin": 404,
        "out_of_scope_sub_admin": 404,
        "other_org_admin": 404,
        "member_user": 404,
        "anonymous": 302,
    }[role]
    response = client_as(client, cast, role).get(member_url(cast, kid))
    assert response.status_code == expected
    assert not AuditEvent.objects.filter(action="child.viewed").exists()


@pytest.mark.parametrize(("role", "expected"), [("owner", 200), ("sub_admin", 200), ("out_of_scope_sub_admin", 404)])
def test_childs_detail_page_with_the_right_is_shown_and_audited(
    client, cast, kid, officer, children_viewer, role, expected
):
    """SEC-3: with view_children on the child (the designated owner; the Sales sub-admin
    holding it on Sales) the page shows and one ``child.viewed`` event is written; the
    Engineering sub-admin (no right on Sales) still gets 404."""
    grant_rights(cast.out_of_scope_sub_admin, [Right.VIEW_CHILDREN], cast.engineering)
    response = client_as(client, cast, role).get(member_url(cast, kid))
    assert response.status_code == expected
    events = AuditEvent.objects.filter(action="child.viewed")
    if expected == 200:
        assert 'id="child-panel"' in response.content.decode()
        event = events.get()
        assert (event.actor_id, event.target_id, event.metadata["page"]) == (
            getattr(cast, role).pk,
            str(kid.pk),
            "detail",
        )
    else:
        assert not events.exists()


def test_adult_detail_page_writes_no_child_event(client, cast):
    client.force_login(cast.owner)
    assert client.get(member_url(cast, cast.member)).status_code == 200
    assert not AuditEvent.objects.filter(action="child.viewed").exists()


def test_reveal_of_a_childs_field_is_audited_as_a_child(client, cast, kid, officer):
    """SEC-3: a reveal on a child's record is audited with the child flag."""
    kid.mobile = "+8613912345678"
    kid.save()
    client.force_login(cast.owner)
    response = client.post(reverse("organizations:member_reveal", args=[cast.organization.pk, kid.pk, "mobile"]))
    assert response.status_code == 200
    event = AuditEvent.objects.get(action="member.revealed")
    assert event.metadata == {"field": "mobile", "child": True}


# --------------------------------------------------------------------------- roster list, export, API


# The roster page costs what it costs without children (tests/organizations/
# test_roster_views.py: ROSTER_QUERIES): the filter is one more condition in the same
# queries (the total count and the page).


@pytest.mark.parametrize("role", ["owner", "sub_admin"])
def test_roster_list_hides_children_at_a_pinned_query_count(client, cast, kid, django_assert_num_queries, role):
    """SEC-3: children are left out of the list without the right, with the same number
    of queries; with the right they are listed and marked."""
    for index in range(5):
        MemberFactory(
            organization=cast.organization, department=cast.sales, name=f"Child {index}", birthday=years_ago(5)
        )
    client.force_login(getattr(cast, role))
    # Warm the caches (not the total: another query's, so that the pinned count holds it).
    client.get(reverse("organizations:roster", args=[cast.organization.pk]) + "?q=warm")
    with django_assert_num_queries(ROSTER_QUERIES[role]):
        response = client.get(reverse("organizations:roster", args=[cast.organization.pk]))
    names = {member.name for member in response.context["members"]}
    assert names == {"Member"} and response.context["total"] == 1  # children are not counted either
    grant_rights(cast.sub_admin, [Right.VIEW_CHILDREN], cast.sales)
    owner_admin = Administrator.objects.get(organization=cast.organization, user=cast.owner)
    cast.organization.children_data_officer = owner_admin
    cast.organization.save()
    with django_assert_num_queries(ROSTER_QUERIES[role]):
        response = client.get(reverse("organizations:roster", args=[cast.organization.pk]))
    members = response.context["members"]
    assert {member.name for member in members if member.is_child} == {"Kid", *(f"Child {i}" for i in range(5))}
    assert response.context["total"] == 7
    assert 'data-child="1"' in response.content.decode()


def read_csv(response) -> list[dict[str, str]]:
    body = b"".join(response.streaming_content)
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))


def test_export_leaves_children_out_even_for_the_officer_and_says_how_many(client, cast, kid, officer):
    """SEC-3: no bulk download of children's data, whoever exports; the export page
    says how many records were left out and why; the audit event counts them."""
    client.force_login(cast.owner)
    page = client.get(reverse("organizations:roster_export_page", args=[cast.organization.pk]))
    assert page.status_code == 200
    assert page.context["children_left_out"] == 1
    assert "record is left out: children" in page.content.decode()
    rows = read_csv(client.get(reverse("organizations:roster_export", args=[cast.organization.pk])))
    assert [row["name"] for row in rows] == ["Member"]
    event = AuditEvent.objects.get(action="roster.exported")
    assert (event.metadata["rows"], event.metadata["children_left_out"]) == (1, 1)


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("owner", 200),
        ("sub_admin", 200),
        ("out_of_scope_sub_admin", 200),
        ("other_org_admin", 404),
        ("member_user", 404),
        ("anonymous", 302),
    ],
)
def test_permission_matrix_of_the_export_page(client, cast, kid, role, expected):
    response = client_as(client, cast, role).get(
        reverse("organizations:roster_export_page", args=[cast.organization.pk])
    )
    assert response.status_code == expected
    if role == "out_of_scope_sub_admin":
        assert response.context["children_left_out"] == 0  # the child is in Sales, outside Engineering


def test_api_member_list_leaves_children_out_without_the_right(cast, kid):
    """SEC-3: the API lists go through the same gate queryset."""
    access = org_access(cast.owner, cast.organization.pk)
    assert kid not in access.members(Right.VIEW_ROSTER)
    assert access.children_in_scope().get() == kid


def test_the_api_never_lists_children_and_audits_each_one_read(cast, kid, officer):
    """SEC-3: no bulk access through the API either: the member list leaves the child out
    even for the designated officer, who reads the child's entry one at a time, and each
    read writes ``child.viewed``."""
    from tests.organizations.api.conftest import api_client_as

    client = api_client_as(cast, "owner")
    listed = client.get(reverse("api-members", args=[cast.organization.pk])).json()
    ids = [row["id"] for row in listed["results"]]
    assert ids and kid.pk not in ids
    assert not AuditEvent.objects.filter(action="child.viewed").exists()
    detail = client.get(reverse("api-member", args=[cast.organization.pk, kid.pk]))
    assert detail.status_code == 200 and detail.json()["id"] == kid.pk
    event = AuditEvent.objects.get(action="child.viewed")
    assert event.actor == cast.owner and event.metadata["page"] == "api"


# --------------------------------------------------------------------------- the designated officer page


@pytest.mark.parametrize(
    ("role", "get", "post"),
    [
        ("owner", 200, 302),
        ("sub_admin", 200, 403),
        ("out_of_scope_sub_admin", 200, 403),
        ("other_org_admin", 404, 404),
        ("member_user", 404, 404),
        ("anonymous", 302, 302),
    ],
)
def test_permission_matrix_of_the_children_settings_page(client, cast, role, get, post):
    """SEC-3: every administrator sees who is responsible; only the owner designates."""
    url = reverse("organizations:children", args=[cast.organization.pk])
    client = client_as(client, cast, role)
    assert client.get(url).status_code == get
    sub_admin = Administrator.objects.get(organization=cast.organization, user=cast.sub_admin)
    response = client.post(url, {"officer": sub_admin.pk, "jurisdiction": "australia"})
    assert response.status_code == post
    cast.organization.refresh_from_db()
    if role == "owner":
        assert cast.organization.children_data_officer_id == sub_admin.pk
        assert cast.organization.children_jurisdiction == "australia"
        event = AuditEvent.objects.get(action="children.settings_changed")
        assert event.metadata["after"] == {"officer": sub_admin.pk, "jurisdiction": "australia"}
    else:
        assert cast.organization.children_data_officer_id is None


def test_another_organizations_administrator_cannot_be_designated(client, cast):
    other = Administrator.objects.get(user=cast.other_org_admin)
    client.force_login(cast.owner)
    response = client.post(
        reverse("organizations:children", args=[cast.organization.pk]), {"officer": other.pk, "jurisdiction": "default"}
    )
    assert response.status_code == 200 and response.context["form"].errors
    cast.organization.refresh_from_db()
    assert cast.organization.children_data_officer_id is None


def test_the_designated_officer_becomes_a_sub_admin_viewer_and_is_named_to_members(client, cast, kid):
    """SEC-3: the officer holds view_children everywhere; members see their name."""
    sub_admin = Administrator.objects.get(organization=cast.organization, user=cast.sub_admin)
    access = org_access(cast.owner, cast.organization.pk)
    child_services.set_children_settings(access, officer=sub_admin, jurisdiction="default")
    assert kid in org_access(cast.sub_admin, cast.organization.pk).members()
    client.force_login(cast.member_user)
    page = client.get(reverse("organizations:my_data")).content.decode()
    assert f'data-officer="{cast.organization.pk}">{cast.sub_admin.display_name}' in page


def test_australian_organizations_count_fourteen_year_olds_as_children(cast):
    fourteen = MemberFactory(
        organization=cast.organization, department=cast.sales, name="Fourteen", birthday=years_ago(14, -30)
    )
    access = org_access(cast.owner, cast.organization.pk)
    assert fourteen in access.members()
    child_services.set_children_settings(access, officer=None, jurisdiction="australia")
    assert fourteen not in org_access(cast.owner, cast.organization.pk).members()


# --------------------------------------------------------------------------- guardian consent


def test_editing_a_childs_extra_fields_needs_an_officer_then_a_guardian_consent(cast, kid, officer):
    """SEC-3: beyond the basic fields nothing is written for a child until a guardian's
    consent is recorded; basic fields stay editable."""
    access = org_access(cast.owner, cast.organization.pk)
    member = access.get_member(kid.pk, Right.EDIT_ROSTER)
    assert roster_services.update_member(access, member, {"position": "Pupil"}) == ["position"]
    with pytest.raises(ValidationError) as error:
        roster_services.update_member(access, member, {"office_email": "kid@example.com"}, attested=True)
    assert error.value.code == "guardian_consent_required"
    child_services.record_guardian_consent(
        access, member, guardian_name="Parent", relationship="mother", contact="+8613912345678", method="written"
    )
    assert roster_services.update_member(access, member, {"office_email": "kid@example.com"}, attested=True) == [
        "office_email"
    ]
    event = AuditEvent.objects.filter(action="member.updated").latest("pk")
    assert event.metadata["child"] is True
    consent = GuardianConsent.objects.get(member=kid)
    assert consent.contact == "+8613912345678" and consent.recorded_by == cast.owner
    assert "+8613912345678" not in str(AuditEvent.objects.get(action="child.guardian_consent_recorded").metadata)


def test_no_guardian_consent_without_a_designated_officer(cast, kid, children_viewer):
    access = org_access(cast.sub_admin, cast.organization.pk)
    member = access.get_member(kid.pk, Right.EDIT_ROSTER)
    with pytest.raises(ValidationError) as error:
        child_services.record_guardian_consent(
            access, member, guardian_name="P", relationship="father", contact="p@example.com", method="phone"
        )
    assert error.value.code == "children_officer_required"
    with pytest.raises(ValidationError) as error:
        roster_services.update_member(access, member, {"office_email": "kid@example.com"}, attested=True)
    assert error.value.code == "children_officer_required"
    assert not GuardianConsent.objects.exists()


def test_edit_page_refuses_a_childs_extra_data_without_consent(client, cast, kid, officer):
    """SEC-3: the manual edit form shows the error and writes nothing."""
    client.force_login(cast.owner)
    url = member_url(cast, kid, "member_edit")
    assert client.get(url).status_code == 200
    assert AuditEvent.objects.get(action="child.viewed").metadata["page"] == "edit"
    form = client.get(url).context["form"]
    data = {name: form.initial.get(name) or "" for name in form.fields if name != "attest"}
    data.update({"office_email": "kid@example.com", "attest": "on", "birthday": kid.birthday.isoformat()})
    response = client.post(url, data)
    assert response.status_code == 200
    assert "record a guardian" in response.content.decode()
    kid.refresh_from_db()
    assert kid.office_email == ""


def test_guardian_consent_page_records_and_withdrawal_erases(client, cast, kid, officer):
    """SEC-3: the guardian's consent is recorded through its page; its withdrawal erases
    the child's non-basic fields, family contacts and biometric templates at once."""
    client.force_login(cast.owner)
    url = member_url(cast, kid, "guardian_consent")
    assert client.get(url).status_code == 200
    response = client.post(
        url,
        {
            "guardian_name": "Parent",
            "relationship": "mother",
            "contact": "13912345678",
            "method": "written",
            "attest": "on",
        },
    )
    assert response.status_code == 302
    Member.objects.filter(pk=kid.pk).update(
        office_email="kid@example.com", student_grade="5", id_number="x", id_number_digest="d"
    )
    FamilyContact.objects.create(organization=cast.organization, student=kid, name="Grandma", relation="grandmother")
    response = client.post(member_url(cast, kid, "guardian_consent_withdraw"))
    assert response.status_code == 302
    kid.refresh_from_db()
    assert (kid.office_email, kid.student_grade, kid.id_number, kid.id_number_digest) == ("", "", "", "")
    assert (kid.name, kid.birthday) == ("Kid", years_ago(10))  # basic fields stay
    assert not FamilyContact.objects.filter(student=kid).exists()
    consent = GuardianConsent.objects.get(member=kid)
    assert consent.withdrawn_at is not None and consent.withdrawn_by == cast.owner
    event = AuditEvent.objects.get(action="child.guardian_consent_withdrawn")
    assert set(event.metadata["fields"]) == {"office_email", "student_grade", "id_number"}
    assert event.metadata["family_contacts"] == 1


def test_guardian_consent_page_of_an_adult_is_404(client, cast, officer):
    client.force_login(cast.owner)
    assert client.get(member_url(cast, cast.member, "guardian_consent")).status_code == 404


@pytest.mark.parametrize("role", ROLES)
def test_permission_matrix_of_the_guardian_consent_page(client, cast, kid, role):
    """SEC-3: 404 for everyone without view_children on the child (nobody in the cast
    holds it), login for visitors."""
    expected = 302 if role == "anonymous" else 404
    assert client_as(client, cast, role).get(member_url(cast, kid, "guardian_consent")).status_code == expected


# --------------------------------------------------------------------------- import


def check(cast, text: str, *, user=None):
    snapshot = build_snapshot(org_access(user or cast.owner, cast.organization.pk))
    return file_checks.check_file(("\ufeff" + text).encode(), "csv", snapshot)


def test_import_refuses_extra_fields_for_a_child_row(cast, officer):
    """SEC-3: a row whose birthday makes it a child may carry only basic fields: the
    row error says a guardian's consent is needed; adults and basic-only rows pass."""
    young = years_ago(10).isoformat()
    text = (
        "name,mobile,birthday,office_email\n"
        f"Kid,+8613900000001,{young},kid@example.com\n"
        f"Kid basic,+8613900000002,{young},\n"
        f"Adult,+8613900000003,{years_ago(30).isoformat()},adult@example.com\n"
    )
    result = check(cast, text)
    assert [(error.row, error.column) for error in result.errors] == [(2, "birthday")]
    assert result.errors[0].message.startswith("Guardian consent needed")
    assert [row.values["name"] for row in result.planned] == ["Kid basic", "Adult"]


def test_import_update_of_a_stored_child_needs_the_consent(cast, kid, officer):
    """SEC-3: an existing child's entry (found by mobile) is a child by its stored
    birthday; with a consent in force the row passes."""
    from organizations.services.lookups import mobile_digest

    Member.objects.filter(pk=kid.pk).update(mobile="+8613900000009", mobile_digest=mobile_digest("+8613900000009"))
    text = "name,mobile,office_email\nKid,+8613900000009,kid@example.com\n"
    assert check(cast, text).errors[0].message.startswith("Guardian consent needed")
    GuardianConsent.objects.create(
        organization=cast.organization,
        member=kid,
        guardian_name="P",
        relationship="father",
        contact="x",
        method="phone",
        attestation="a",
    )
    assert check(cast, text).errors == []


def test_birthday_column_is_accepted_without_a_collection_setting(cast):
    """SEC-3: the birthday is always collected (the age check) and validated."""
    header = parsing.parse_header(["name", "mobile", "Birthday"], frozenset({"name", "mobile"}))
    assert header == ["name", "mobile", "birthday"]
    future = (timezone.localdate() + timedelta(days=1)).isoformat()
    result = check(cast, f"name,mobile,birthday\nX,+8613900000004,{future}\nY,+8613900000005,2001-02-30\n")
    assert [error.message for error in result.errors] == [
        "A birthday cannot be in the future.",
        "Write the date as YYYY-MM-DD, for example 2024-03-01.",
    ]
