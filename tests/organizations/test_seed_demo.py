"""``manage.py seed_demo`` builds a consistent demo organization (ORG-3, ORG-4, ORG-10)."""

from __future__ import annotations

from io import StringIO

import phonenumbers
import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from django.db import connection

from accounts.models import User
from dataprotection.crypto import keyed_hash
from dataprotection.identifiers import is_valid_bank_card, is_valid_id_number
from dataprotection.models import AuditEvent
from organizations.models import (
    Administrator,
    AdministratorRole,
    ApprovalKind,
    ApprovalRecord,
    AttendancePunch,
    Department,
    Member,
    MemberDepartment,
    Organization,
)
from organizations.services.demo_data.logins import DEMO_LOGINS, DEMO_PASSWORD, STAFF
from organizations.services.demo_data.seeding import DEMO_ORGANIZATION_NAME, demo_counts, find_demo_organization
from organizations.services.lookups import ID_NUMBER_DIGEST_PURPOSE, MOBILE_DIGEST_PURPOSE

MEMBERS, DAYS = 60, 2


def seed(*args: str, **options) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out, **options)
    return out.getvalue()


@pytest.fixture(autouse=True)
def private_files(settings, tmp_path):
    """The demo certification's documents are stored encrypted: in a throwaway place."""
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"


@pytest.fixture
def seeded(db) -> Organization:
    seed(members=MEMBERS, days=DAYS)
    return find_demo_organization()


def test_creates_the_expected_counts(db):
    """ORG-4: N members, two punches per member per working day, ~1 approval per member
    per 10 days (at least one for each demo person), two administrators, a login for
    every role."""
    output = seed(members=MEMBERS, days=DAYS)
    organization = Organization.objects.get(name=DEMO_ORGANIZATION_NAME)
    assert Member.objects.filter(organization=organization, status="active").count() == MEMBERS
    assert AttendancePunch.objects.filter(organization=organization).count() == MEMBERS * DAYS * 2
    assert AttendancePunch.objects.filter(organization=organization, kind="in").count() == MEMBERS * DAYS
    approvals = ApprovalRecord.objects.filter(organization=organization)
    assert 3 <= approvals.count() <= MEMBERS
    assert set(approvals.values_list("kind", flat=True)) <= set(ApprovalKind.values)
    assert not approvals.filter(kind="leave", amount__isnull=False).exists()
    assert Administrator.objects.filter(organization=organization).count() == 2
    assert User.objects.filter(phone__in=[login.phone for login in DEMO_LOGINS]).count() == len(DEMO_LOGINS) == 8
    assert organization.kind == "enterprise" and organization.edition == "standard"
    assert organization.staff_size == "21-100"
    counts = demo_counts(organization)
    assert counts["members"] == MEMBERS
    for login in DEMO_LOGINS:
        assert login.phone in output
    assert DEMO_PASSWORD in output
    assert "elapsed seconds" in output


def test_department_paths_are_consistent(seeded):
    """ORG-3: each path is the parent's path plus the row's own segment, depth follows the
    parent, and ``subtree`` returns exactly the department and its descendants."""
    departments = {d.pk: d for d in Department.objects.filter(organization=seeded)}
    roots = [d for d in departments.values() if d.parent_id is None]
    assert len(roots) == 1
    assert roots[0].path == Department.segment(roots[0].pk) and roots[0].depth == 0
    children: dict[int, list[int]] = {}
    for department in departments.values():
        if department.parent_id is not None:
            parent = departments[department.parent_id]
            assert department.path == parent.path + Department.segment(department.pk)
            assert department.depth == parent.depth + 1
            children.setdefault(parent.pk, []).append(department.pk)
    assert len([d for d in departments.values() if d.depth == 1]) == 7
    assert max(d.depth for d in departments.values()) in (3, 4)

    def descendants(pk: int) -> set[int]:
        found = {pk}
        for child in children.get(pk, []):
            found |= descendants(child)
        return found

    for department in departments.values():
        subtree = set(Department.objects.subtree(department).values_list("pk", flat=True))
        assert subtree == descendants(department.pk), department.name


def test_every_member_has_one_primary_department(seeded):
    """ORG-3: one primary department per member (a leaf team for ordinary members);
    some members also belong to a second department."""
    primaries = MemberDepartment.objects.filter(member__organization=seeded, is_primary=True)
    assert primaries.count() == MEMBERS
    assert primaries.values("member").distinct().count() == MEMBERS
    leaf_ids = set(Department.objects.filter(organization=seeded, children__isnull=True).values_list("pk", flat=True))
    ordinary = primaries.filter(member__user__isnull=True)
    assert set(ordinary.values_list("department_id", flat=True)) <= leaf_ids
    primary_of = dict(primaries.values_list("member_id", "department_id"))
    secondary = MemberDepartment.objects.filter(member__organization=seeded, is_primary=False)
    assert secondary.count() <= MEMBERS * 0.2
    for member_id, department_id in secondary.values_list("member_id", "department_id"):
        assert department_id in leaf_ids
        assert department_id != primary_of[member_id]


def test_sensitive_values_are_encrypted_at_rest_and_found_by_keyed_hash(seeded):
    """ORG-10: mobile, ID number and bank card are AES-GCM ciphertext in the database,
    decrypt to valid values, and the keyed-hash columns find the member."""
    members = list(Member.objects.filter(organization=seeded).order_by("pk")[:20])
    table = Member._meta.db_table
    with connection.cursor() as cursor:
        for member in members:
            cursor.execute(f"SELECT mobile, id_number, bank_card FROM {table} WHERE id = %s", [member.pk])
            raw = cursor.fetchone()
            for stored, plain in zip(raw, (member.mobile, member.id_number, member.bank_card), strict=True):
                assert stored.startswith("enc1:")
                assert plain not in stored
    for member in members:
        assert phonenumbers.is_valid_number(phonenumbers.parse(member.mobile))
        assert is_valid_id_number(member.id_number)
        assert is_valid_bank_card(member.bank_card)
        assert member.masked_mobile != member.mobile
        by_mobile = Member.objects.get(mobile_digest=keyed_hash(member.mobile, MOBILE_DIGEST_PURPOSE))
        by_id = Member.objects.get(id_number_digest=keyed_hash(member.id_number, ID_NUMBER_DIGEST_PURPOSE))
        assert by_mobile == by_id == member


def test_demo_people_are_linked_and_scoped(seeded):
    """ORG-9 set-up for demos: the owner owns, the sub-administrator is scoped to Sales,
    and the member login owns the roster entry in a Sales team whose mobile is theirs."""
    owner, sub_admin, member = (User.objects.get(phone=login.phone) for login in DEMO_LOGINS[:3])
    staff = User.objects.get(phone=STAFF.phone)
    assert Administrator.objects.get(organization=seeded, user=owner).role == AdministratorRole.OWNER
    scoped = Administrator.objects.get(organization=seeded, user=sub_admin)
    assert scoped.role == AdministratorRole.SUB_ADMIN
    (sales,) = scoped.scope.all()
    assert sales.depth == 1 and sales.name.startswith("销售部")
    roster_entry = Member.objects.get(organization=seeded, user=member)
    assert roster_entry.mobile == member.phone == "+8613800000003"
    assert roster_entry.name == member.name == "陈静 Chen Jing"
    team = roster_entry.departments.get(memberdepartment__is_primary=True)
    assert team.path.startswith(sales.path) and team.depth > sales.depth and not team.children.exists()
    assert Member.objects.filter(organization=seeded, user__in=[owner, sub_admin]).count() == 2
    assert Member.objects.get(user=owner).mobile == owner.phone
    assert staff.is_staff and staff.is_superuser
    assert not Member.objects.filter(user=staff).exists()


def test_demo_logins_authenticate(seeded):
    for login in DEMO_LOGINS:
        user = authenticate(phone=login.phone, password=DEMO_PASSWORD)
        assert user is not None and user.phone == login.phone, login.role
    assert authenticate(phone=DEMO_LOGINS[0].phone, password="wrong-password-1") is None


def test_seeding_is_recorded_in_the_audit_trail(seeded):
    """SEC-2: one audit event with the counts, never the values."""
    event = AuditEvent.objects.get(action="demo.seeded")
    assert event.target_id == str(seeded.pk)
    assert event.metadata["members"] == MEMBERS
    assert event.metadata["punches"] == MEMBERS * DAYS * 2


def test_running_twice_is_idempotent(seeded):
    before = demo_counts(seeded)
    output = seed(members=500, days=DAYS)
    assert "already exists" in output
    assert Organization.objects.filter(name=DEMO_ORGANIZATION_NAME).count() == 1
    assert demo_counts(seeded) == before
    assert AuditEvent.objects.filter(action="demo.seeded").count() == 1
    for login in DEMO_LOGINS:
        assert login.phone in output


def test_reset_reseeds(seeded):
    owner_before = User.objects.get(phone=DEMO_LOGINS[0].phone)
    seed("--reset", members=30, days=1)
    organization = find_demo_organization()
    assert organization.pk != seeded.pk
    assert Organization.objects.filter(name=DEMO_ORGANIZATION_NAME).count() == 1
    assert not Member.objects.filter(organization_id=seeded.pk).exists()
    assert not AttendancePunch.objects.filter(organization_id=seeded.pk).exists()
    counts = demo_counts(organization)
    assert counts["members"] == 30
    assert counts["punches"] == 30 * 1 * 2
    assert User.objects.get(phone=DEMO_LOGINS[0].phone).pk != owner_before.pk
    assert authenticate(phone=DEMO_LOGINS[2].phone, password=DEMO_PASSWORD) is not None


def test_small_rosters_still_hold_the_demo_people(db):
    """Below three members the demo logins' own roster entries are still created."""
    seed(members=1, days=0)
    organization = find_demo_organization()
    assert demo_counts(organization)["members"] == 3
    assert demo_counts(organization)["punches"] == 0
    assert ApprovalRecord.objects.filter(organization=organization).count() >= 3


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"members": 0}, "--members"),
        ({"members": 1_000_001}, "--members"),
        ({"members": -5}, "--members"),
        ({"days": -1}, "--days"),
    ],
)
def test_bad_arguments_are_refused(db, options, message):
    with pytest.raises(CommandError, match=message):
        seed(**options)
    assert not Organization.objects.exists()


def test_taken_demo_number_is_refused_without_reset(db):
    User.objects.create_user(DEMO_LOGINS[0].phone, "Someone-Else-123")
    with pytest.raises(CommandError, match="--reset"):
        seed(members=10, days=0)
    assert not Organization.objects.exists()


def test_refused_in_the_production_profile(db, settings):
    """The demo logins share a published password; production must never get them."""
    settings.PRODUCTION = True
    with pytest.raises(CommandError, match="production"):
        seed(members=10, days=0)
    assert not User.objects.exists()


def test_demo_collects_the_fields_it_fills_and_has_workplace_records(seeded):
    """ORG-5: every field the seeder fills is collected, with a stated purpose; ORG-4:
    a handful of members have work logs, schedule entries, drive files, contact cards."""
    from organizations.models import DriveFile, ExternalContactCard, ScheduleEntry, WorkLog
    from organizations.services.collection import collected_fields, collection_settings

    collected = collected_fields(seeded)
    members = Member.objects.filter(organization=seeded)
    for field in ("employee_number", "position", "grade", "labor_contract_status", "office_email", "office_phone",
                  "hired_on", "id_number", "bank_card"):  # fmt: skip
        assert field in collected, field
        assert collection_settings(seeded)[field][1], field
        assert members.exclude(**{field: ""} if field != "hired_on" else {"hired_on__isnull": True}).exists()
    for model, fk in (
        (WorkLog, "member"),
        (ScheduleEntry, "member"),
        (DriveFile, "owner"),
        (ExternalContactCard, "owner"),
    ):
        rows = model.objects.filter(organization=seeded)
        assert rows.exists() and rows.values(fk).distinct().count() <= 12
    counts = demo_counts(seeded)
    assert counts["collection_settings"] == 9 and counts["work_logs"] > 0
