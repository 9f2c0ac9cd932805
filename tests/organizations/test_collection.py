"""Collection settings (ORG-5): the permission matrix of the page, turning fields on and
off with purposes, refusing to turn off a field that holds values without confirmation,
and erasing those values set-based, audited."""

from __future__ import annotations

import json
from datetime import date

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from dataprotection.models import AuditEvent
from organizations.models import CollectionSetting, Member, OrganizationKind
from organizations.permissions import org_access
from organizations.services.collection import collected_fields, collection_settings, update_collection_settings
from organizations.services.lookups import id_number_digest
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


def url(cast) -> str:
    return reverse("organizations:collection", args=[cast.organization.pk])


def form_data(organization, **overrides) -> dict:
    """The form as the page would post it: every field's current setting, then the
    overrides ``field=(collected, purpose)``."""
    data = {}
    for name, (enabled, purpose) in {**collection_settings(organization), **overrides}.items():
        if enabled:
            data[f"collect_{name}"] = "on"
        data[f"purpose_{name}"] = purpose
    return data


# --------------------------------------------------------------------------- permission matrix

MATRIX = {  # GET, POST
    "owner": (200, 302),
    "org_editor": (200, 403),  # whole-organization edit_roster: read-only
    "sub_admin": (403, 403),  # edit_roster on Sales only
    "other_org_admin": (404, 404),
    "member_user": (404, 404),
    "anonymous": (302, 302),
}


@pytest.mark.parametrize("role", MATRIX)
def test_permission_matrix(client, cast, org_editor, role):
    if role == "org_editor":
        client.force_login(org_editor)
    elif role != "anonymous":
        client.force_login(getattr(cast, role))
    get = client.get(url(cast))
    post = client.post(url(cast), form_data(cast.organization, grade=(True, "Pay scale")))
    assert (get.status_code, post.status_code) == MATRIX[role]
    if role == "anonymous":
        assert get["Location"].startswith(reverse("accounts:login"))
    if role == "owner":
        assert 'name="collect_grade"' in get.content.decode() and 'name="erase"' in get.content.decode()
        assert "grade" in collected_fields(cast.organization)
    else:
        assert "grade" not in collected_fields(cast.organization)
    if role == "org_editor":
        content = get.content.decode()
        assert "Only the owner can change" in content
        assert 'name="collect_grade"' in content and "disabled" in content and 'name="erase"' not in content


def test_nav_link_for_owner_and_whole_org_editor_only(client, cast, org_editor):
    link = f'href="{url(cast)}"'
    dashboard = reverse("organizations:roster", args=[cast.organization.pk])
    client.force_login(cast.owner)
    assert link in client.get(dashboard).content.decode()
    client.force_login(org_editor)
    assert link in client.get(dashboard).content.decode()
    client.force_login(cast.sub_admin)
    assert link not in client.get(dashboard).content.decode()


# --------------------------------------------------------------------------- on and off


def test_page_groups_fields_and_marks_sensitive_ones(client, cast):
    client.force_login(cast.owner)
    response = client.get(url(cast))
    content = response.content.decode()
    for group in ("Employment", "Identity", "Contact", "Address", "Education", "Payroll", "Emergency contact"):
        assert group in content
    assert "Student identity and class" not in content  # enterprises only
    assert "Always collected:" in content and "Mobile number" in content
    home = content[content.index('data-field="home_address"') :]
    assert "sensitive" in home[: home.index("</tr>")]


def test_school_organizations_see_the_student_fields(client, cast):
    cast.organization.kind = OrganizationKind.SCHOOL
    cast.organization.save()
    client.force_login(cast.owner)
    assert 'name="collect_student_class"' in client.get(url(cast)).content.decode()


def test_owner_turns_fields_on_with_purposes_and_off_again(client, cast):
    client.force_login(cast.owner)
    data = form_data(
        cast.organization,
        home_address=(True, "Send payslips by post"),
        degree=(True, "Check qualifications"),
        office_phone=(False, ""),
    )
    response = client.post(url(cast), data, REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 302
    settings_now = collection_settings(cast.organization)
    assert settings_now["home_address"] == (True, "Send payslips by post")
    assert settings_now["degree"] == (True, "Check qualifications")
    assert settings_now["office_phone"][0] is False
    event = AuditEvent.objects.get(action="collection.updated")
    assert event.metadata["turned_on"] == ["degree", "home_address"]
    assert event.metadata["turned_off"] == ["office_phone"]
    assert event.metadata["sensitive"] == ["home_address"]
    assert event.metadata["erased"] == {}
    assert (event.actor, event.organization_id, event.ip_address) == (cast.owner, cast.organization.pk, "203.0.113.9")

    # purpose change only, then nothing at all
    client.post(url(cast), form_data(cast.organization, degree=(True, "Check diplomas")))
    assert AuditEvent.objects.filter(action="collection.updated").order_by("pk").last().metadata["purpose_changed"] == [
        "degree"
    ]
    client.post(url(cast), form_data(cast.organization))
    assert AuditEvent.objects.filter(action="collection.updated").count() == 2


def test_collected_field_needs_a_purpose(client, cast):
    client.force_login(cast.owner)
    response = client.post(url(cast), form_data(cast.organization, school=(True, "  ")))
    assert response.status_code == 200
    assert response.context["form"].errors["purpose_school"] == ["State why you collect it."]
    assert not CollectionSetting.objects.exists()
    assert not AuditEvent.objects.exists()


def test_turning_off_a_field_with_values_needs_confirmation(client, cast):
    CollectionSetting.objects.create(organization=cast.organization, field="grade", enabled=True, purpose="Pay")
    MemberFactory.create_batch(3, organization=cast.organization, grade="P5")
    client.force_login(cast.owner)
    page = client.get(url(cast)).content.decode()
    assert 'data-stored="3"' in page and "3 members hold a value" in page

    response = client.post(url(cast), form_data(cast.organization, grade=(False, "Pay")))
    assert response.status_code == 200
    error = response.context["form"].errors["erase"][0]
    assert "Grade: 3 members" in error
    assert collection_settings(cast.organization)["grade"] == (True, "Pay")
    assert Member.objects.filter(grade="P5").count() == 3
    assert not AuditEvent.objects.exists()


def test_service_refuses_turning_off_with_values_without_erase(cast):
    CollectionSetting.objects.create(organization=cast.organization, field="grade", enabled=True, purpose="Pay")
    MemberFactory(organization=cast.organization, grade="P5")
    access = org_access(cast.owner, cast.organization.pk)
    with pytest.raises(ValidationError) as caught:
        update_collection_settings(access, {"grade": (False, "")})
    assert caught.value.code == "values_stored"
    assert Member.objects.filter(grade="P5").exists()
    with pytest.raises(ValidationError):
        update_collection_settings(access, {"degree": (True, "")})  # no purpose
    with pytest.raises(PermissionDenied):
        update_collection_settings(org_access(cast.sub_admin, cast.organization.pk), {"degree": (True, "x")})


def test_turning_off_with_confirmation_erases_the_values(client, cast):
    for field, purpose in (("id_number", "Payroll tax"), ("hired_on", "Seniority")):
        CollectionSetting.objects.create(organization=cast.organization, field=field, enabled=True, purpose=purpose)
    id_number = "110101199003077777"
    holders = MemberFactory.create_batch(
        2,
        organization=cast.organization,
        id_number=id_number,
        id_number_digest=id_number_digest(id_number),
        hired_on=date(2020, 1, 1),
    )
    other_org = MemberFactory(id_number=id_number, hired_on=date(2020, 1, 1))  # another organization
    client.force_login(cast.owner)
    data = form_data(cast.organization, id_number=(False, "Payroll tax"), hired_on=(False, "Seniority"))
    data["erase"] = "on"
    response = client.post(url(cast), data)
    assert response.status_code == 302
    for member in holders:
        member.refresh_from_db()
        assert (member.id_number, member.id_number_digest, member.hired_on) == ("", "", None)
    other_org.refresh_from_db()
    assert other_org.id_number == id_number and other_org.hired_on == date(2020, 1, 1)
    assert not {"id_number", "hired_on"} & collected_fields(cast.organization)
    event = AuditEvent.objects.get(action="collection.updated")
    assert event.metadata["erased"] == {"id_number": 2, "hired_on": 2}
    assert id_number not in json.dumps(event.metadata)


@pytest.mark.parametrize("members", [1, 40])
def test_erasing_is_one_update_per_field_whatever_the_roster_size(cast, members):
    for field in ("grade", "bank_card", "home_address"):
        CollectionSetting.objects.create(organization=cast.organization, field=field, enabled=True, purpose="x")
    MemberFactory.create_batch(
        members, organization=cast.organization, grade="P5", bank_card="6222021234567890128", home_address="Hangzhou"
    )
    access = org_access(cast.owner, cast.organization.pk)
    off = dict.fromkeys(("grade", "bank_card", "home_address"), (False, ""))
    with CaptureQueriesContext(connection) as captured:
        result = update_collection_settings(access, off, erase=True)
    assert result.erased == {"grade": members, "bank_card": members, "home_address": members}
    updates = [q["sql"] for q in captured.captured_queries if q["sql"].lstrip().upper().startswith("UPDATE")]
    assert len(updates) == 3
    assert all('"organizations_member"' in sql for sql in updates)
    assert not Member.objects.filter(organization=cast.organization).exclude(grade="").exists()
    assert not Member.objects.filter(organization=cast.organization).exclude(bank_card="").exists()


def test_turning_off_a_field_without_values_needs_no_confirmation(client, cast):
    CollectionSetting.objects.create(organization=cast.organization, field="school", enabled=True, purpose="x")
    client.force_login(cast.owner)
    assert client.post(url(cast), form_data(cast.organization, school=(False, "x"))).status_code == 302
    assert AuditEvent.objects.get(action="collection.updated").metadata["erased"] == {}


def test_unknown_or_unavailable_fields_are_refused_by_the_service(cast):
    access = org_access(cast.owner, cast.organization.pk)
    for name in ("name", "password", "student_class"):  # student fields: schools only
        with pytest.raises(ValueError):
            update_collection_settings(access, {name: (True, "x")})
