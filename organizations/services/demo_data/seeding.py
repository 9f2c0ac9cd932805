"""Seeding the demo organization (ORG-3, ORG-4, ORG-10).

``seed_demo_organization`` fills one realistic enterprise -- department tree, roster with
encrypted sensitive values, attendance punches, approvals and the demo logins -- so the
portal can be shown and load-tested at the 100k-member scale it is built for.

Every role's journey can be walked at once (``ensure_demo_journeys``, run on every
seeding, also over a demo seeded by an older version, and changing nothing the second
time): the sub-administrator holds view and edit rights on Sales, granted through the
administrator services; the organization's certification waits for review; operations
staff have one login per role group (``dataprotection.staff_roles``) beside a console
superuser. The apps above this one add their parts through ``register_demo_step``: the
consent app a third-party service with a working deletion endpoint, the requests app a
request waiting for operations (docs/architecture.md: a lower app exposes a hook). Speed
decides the design: rows go in with ``bulk_create`` in batches inside one transaction,
departments level by level so each level knows its parents' keys, and nothing is saved
row by row. ``bench/seed_demo.py`` measures it against a naive ``.save()`` loop: on
SQLite the gain is about 2x, because Django's per-value preparation is the cost that
remains, and it grows with every network round trip a ``.save()`` would add on PostgreSQL.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dt_time
from typing import TextIO

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from dataprotection.audit import record_event
from dataprotection.crypto import keyed_hash
from organizations.models import (
    Administrator,
    AdministratorRole,
    ApprovalRecord,
    ApprovalStatus,
    AttendancePunch,
    CollectionSetting,
    Department,
    DriveFile,
    Edition,
    ExternalContactCard,
    Member,
    MemberDepartment,
    MemberStatus,
    Organization,
    OrganizationKind,
    PunchKind,
    ScheduleEntry,
    StaffSize,
    WorkLog,
)
from organizations.services.demo_data import generators
from organizations.services.demo_data.journeys import DEFAULT_PORTAL_URL, ensure_demo_journeys, run_demo_resets
from organizations.services.demo_data.loading import BATCH_SIZE, bulk_load_tuning, forget_logged_queries, say
from organizations.services.demo_data.logins import (
    DEMO_LOGINS,
    MEMBER,
    OWNER,
    SUB_ADMIN,
    DemoDataError,
    DemoLogin,
    create_demo_users,
    refuse_in_production,
)
from organizations.services.demo_data.tree import SALES, PlannedDepartment, create_department_tree, plan_department_tree
from organizations.services.lookups import ID_NUMBER_DIGEST_PURPOSE, MOBILE_DIGEST_PURPOSE

# The stable marker of the demo organization: seeding twice finds it and stops.
DEMO_ORGANIZATION_NAME = "杭州云栖科技有限公司 (Hangzhou Yunqi Technology Co., Ltd.)"


MAX_MEMBERS = 1_000_000


MAX_DAYS = 366


SECOND_DEPARTMENT_SHARE = 0.05


APPROVALS_PER_MEMBER_DAY = 0.1


@dataclass
class DemoResult:
    """What a seeding run did (or found, when the demo organization already existed)."""

    created: bool
    organization: Organization
    counts: dict[str, int]
    elapsed: float
    logins: tuple[DemoLogin, ...] = field(default=DEMO_LOGINS)
    journeys: dict[str, int] = field(default_factory=dict)  # what ``ensure_demo_journeys`` added


def staff_size_for(members: int) -> str:
    for size, ceiling in ((StaffSize.XS, 20), (StaffSize.S, 100), (StaffSize.M, 500), (StaffSize.L, 2000)):
        if members <= ceiling:
            return size
    return StaffSize.XL


def find_demo_organization() -> Organization | None:
    return Organization.objects.filter(name=DEMO_ORGANIZATION_NAME).order_by("pk").first()


def demo_counts(organization: Organization) -> dict[str, int]:
    """Row counts of the demo organization, for reports and for idempotency checks."""
    return {
        "departments": Department.objects.filter(organization=organization).count(),
        "members": Member.objects.filter(organization=organization).count(),
        "member_departments": MemberDepartment.objects.filter(member__organization=organization).count(),
        "punches": AttendancePunch.objects.filter(organization=organization).count(),
        "approvals": ApprovalRecord.objects.filter(organization=organization).count(),
        "collection_settings": CollectionSetting.objects.filter(organization=organization).count(),
        "work_logs": WorkLog.objects.filter(organization=organization).count(),
        "schedule_entries": ScheduleEntry.objects.filter(organization=organization).count(),
        "drive_files": DriveFile.objects.filter(organization=organization).count(),
        "contact_cards": ExternalContactCard.objects.filter(organization=organization).count(),
        "administrators": Administrator.objects.filter(organization=organization).count(),
        "users": User.objects.filter(phone__in=[login.phone for login in DEMO_LOGINS]).count(),
    }


def validate_demo_arguments(*, members: int, days: int) -> None:
    if not 1 <= members <= MAX_MEMBERS:
        raise DemoDataError(f"--members must be between 1 and {MAX_MEMBERS:,}, not {members:,}")
    if not 0 <= days <= MAX_DAYS:
        raise DemoDataError(f"--days must be between 0 and {MAX_DAYS}, not {days}")


def delete_demo_data(*, stdout: TextIO | None = None) -> dict[str, int]:
    """Delete the demo organization with all its rows, and the demo users.

    The high-volume tables go first with single set-based DELETEs; left to the cascade
    collector, 100k members and a million punches would be loaded into memory first."""
    refuse_in_production()
    deleted = {"organizations": 0, "users": 0}
    with transaction.atomic():
        for organization in Organization.objects.filter(name=DEMO_ORGANIZATION_NAME):
            AttendancePunch.objects.filter(organization=organization).delete()
            ApprovalRecord.objects.filter(organization=organization).delete()
            MemberDepartment.objects.filter(member__organization=organization).delete()
            organization.delete()
            deleted["organizations"] += 1
        demo_users = User.objects.filter(phone__in=[login.phone for login in DEMO_LOGINS])
        user_ids = list(demo_users.values_list("pk", flat=True))
        run_demo_resets(user_ids)  # what the other apps' steps made for these users
        _, per_model = demo_users.delete()
        deleted["users"] = per_model.get(User._meta.label, 0)
        if deleted["organizations"] or deleted["users"]:
            record_event("demo.reset", metadata={"organizations": deleted["organizations"]})
    say(stdout, f"Deleted {deleted['organizations']} demo organization(s) and the demo users.")
    return deleted


def _day_starts(days: int, today: date) -> list[tuple[date, datetime]]:
    """Local midnight of each recent working day, in UTC: adding an offset to a UTC
    datetime is plain arithmetic, which matters a million times over."""
    zone = timezone.get_default_timezone()
    return [
        (day, datetime.combine(day, dt_time(), tzinfo=zone).astimezone(UTC))
        for day in generators.recent_working_days(today, days)
    ]


def build_member(
    person: generators.DemoPerson,
    *,
    organization_id: int,
    index: int,
    position: str,
    grade: str,
    user_id: int | None = None,
) -> Member:
    """One unsaved demo roster entry with every field the demo collects (ORG-4), its
    sensitive values in clear (the field encrypts on write) and their keyed digests."""
    return Member(
        organization_id=organization_id,
        user_id=user_id,
        status=MemberStatus.ACTIVE,
        name=person.name.display,
        employee_number=generators.employee_number(index + 1),
        position=position,
        grade=grade,
        labor_contract_status=person.contract,
        office_email=person.office_email,
        office_phone=person.office_phone,
        mobile=person.mobile,
        mobile_digest=keyed_hash(person.mobile, MOBILE_DIGEST_PURPOSE),
        id_number=person.id_number,
        id_number_digest=keyed_hash(person.id_number, ID_NUMBER_DIGEST_PURPOSE),
        bank_card=person.bank_card,
        hired_on=person.hired_on,
    )


def seed_demo_organization(
    *, members: int, days: int, seed: int, portal_url: str = DEFAULT_PORTAL_URL, stdout: TextIO | None = None
) -> DemoResult:
    """Create the demo organization with ``members`` roster entries (at least the three
    that the demo logins own), ``days`` working days of attendance and ~1 approval per
    member per 10 days. Does nothing if the demo organization already exists.

    Sensitive values (mobile, ID number, bank card) are encrypted on insert by their
    fields, with keyed hashes beside mobile and ID number for lookups (ORG-10).
    """
    validate_demo_arguments(members=members, days=days)
    refuse_in_production()
    started = time.perf_counter()
    existing = find_demo_organization()
    if existing is not None:
        # A demo seeded by an earlier version gets what the journeys need, once.
        with transaction.atomic():
            journeys = ensure_demo_journeys(existing, portal_url=portal_url, stdout=stdout)
        if not any(journeys.values()):
            say(stdout, "The demo organization already exists; nothing was changed (use --reset to re-seed).")
        return DemoResult(False, existing, demo_counts(existing), time.perf_counter() - started, journeys=journeys)

    # The tuning wraps the transaction so that restoring it never runs in a broken one.
    with bulk_load_tuning(), transaction.atomic():
        users = create_demo_users()
        organization = Organization.objects.create(
            name=DEMO_ORGANIZATION_NAME,
            kind=OrganizationKind.ENTERPRISE,
            location="浙江省杭州市西湖区 Xihu District, Hangzhou, Zhejiang",
            industry="软件和信息技术服务业 Software & IT Services",
            staff_size=staff_size_for(max(members, 3)),
            edition=Edition.STANDARD,
            created_by=users[OWNER.role],
        )
        nodes = create_department_tree(organization, plan_department_tree(members))
        say(stdout, f"Departments: {len(nodes):,}")
        counts = {
            "departments": len(nodes),
            **_seed_roster(organization, nodes, users, members=members, days=days, seed=seed, stdout=stdout),
        }

        counts["collection_settings"] = _seed_collection_settings(organization)
        counts.update(_seed_workplace_records(organization, seed=seed))

        Administrator.objects.create(organization=organization, user=users[OWNER.role], role=AdministratorRole.OWNER)
        counts["administrators"] = 1
        counts["users"] = len(users)
        record_event(
            "demo.seeded", target=organization, metadata={**counts, "days": days, "seed": seed}, actor_kind="system"
        )
        journeys = ensure_demo_journeys(organization, portal_url=portal_url, stdout=stdout)
        counts = demo_counts(organization)
    return DemoResult(True, organization, counts, time.perf_counter() - started, journeys=journeys)


def _seed_roster(
    organization: Organization,
    nodes: list[PlannedDepartment],
    users: dict[str, User],
    *,
    members: int,
    days: int,
    seed: int,
    stdout: TextIO | None,
) -> dict[str, int]:
    """Members, their departments, punches and approvals, one batch of members at a time
    so memory stays flat at any roster size (ORG-4)."""
    rng = random.Random(seed)
    today = timezone.localdate()
    now = timezone.now()
    people = generators.PersonGenerator(rng, today)
    for login in DEMO_LOGINS:
        people.reserve_mobile(login.phone)

    leaves = [node for node in nodes if not node.children and node.depth >= 2]
    root = nodes[0]
    sales = next(node for node in nodes if node.depth == 1 and node.division == SALES)
    sales_team = next(node for node in leaves if node.division == SALES)
    # The first three roster entries belong to the demo logins: (login, department, position, grade, male).
    demo_entries = (
        (OWNER, root, "首席执行官 Chief Executive Officer", "M5", True),
        (SUB_ADMIN, sales, "销售运营经理 Sales Operations Manager", "M2", False),
        (MEMBER, sales_team, "客户经理 Account Manager", "P6", False),
    )
    spots = {office.key: generators.punch_spots(rng, office) for office in generators.OFFICES}
    day_starts = _day_starts(days, today)
    approval_window = max(1, round(max(days, 1) * 7 / 5)) * 86400
    approvals_per_member = days * APPROVALS_PER_MEMBER_DAY
    whole_approvals, fractional_approvals = int(approvals_per_member), approvals_per_member % 1
    org_id = organization.pk
    total = max(members, len(demo_entries))
    counts = {"members": 0, "member_departments": 0, "punches": 0, "approvals": 0}
    report_every = max(1, math.ceil(total / BATCH_SIZE / 10))

    for batch_number, start in enumerate(range(0, total, BATCH_SIZE)):
        batch: list[tuple[Member, generators.DemoPerson, PlannedDepartment, int]] = []
        for index in range(start, min(total, start + BATCH_SIZE)):
            user_id, minimum_approvals = None, 0
            if index < len(demo_entries):
                login, node, position, grade, male = demo_entries[index]
                surname, given = login.name.split(" ")[1:3]
                name = generators.PersonName(login.name, f"{given}.{surname}".lower(), male, True)
                person = people.person(name=name, mobile=login.phone)
                user_id, minimum_approvals = users[login.role].pk, 1
            else:
                person = people.person()
                node = rng.choice(leaves)
                position, grade = generators.position_and_grade(rng, node.division)
            member = build_member(
                person, organization_id=org_id, index=index, position=position, grade=grade, user_id=user_id
            )
            member.created_at = now
            batch.append((member, person, node, minimum_approvals))
        Member.objects.bulk_create([entry[0] for entry in batch])

        placements: list[MemberDepartment] = []
        punches: list[AttendancePunch] = []
        approvals: list[ApprovalRecord] = []
        for member, person, node, minimum_approvals in batch:
            placements.append(MemberDepartment(member_id=member.pk, department_id=node.obj.pk, is_primary=True))
            if not node.children and rng.random() < SECOND_DEPARTMENT_SHARE:
                other = rng.choice(leaves)
                if other is not node:
                    placements.append(
                        MemberDepartment(member_id=member.pk, department_id=other.obj.pk, is_primary=False)
                    )
            office_spots, address = spots[person.office.key], person.office.address
            for day, midnight in day_starts:
                if day < person.hired_on:
                    continue
                for kind, earliest, latest in ((PunchKind.IN, 29_700, 35_400), (PunchKind.OUT, 63_900, 77_400)):
                    latitude, longitude = rng.choice(office_spots)
                    punches.append(
                        AttendancePunch(
                            organization_id=org_id,
                            member_id=member.pk,
                            punched_at=midnight + timedelta(seconds=rng.randint(earliest, latest)),
                            kind=kind,
                            latitude=latitude,
                            longitude=longitude,
                            address=address,
                            photo_ref=generators.photo_ref(rng),
                        )
                    )
            wanted = whole_approvals + (1 if rng.random() < fractional_approvals else 0)
            for _ in range(max(wanted, minimum_approvals)):
                approvals.append(_approval(rng, org_id, member.pk, now, approval_window))
        MemberDepartment.objects.bulk_create(placements)
        AttendancePunch.objects.bulk_create(punches)
        ApprovalRecord.objects.bulk_create(approvals)
        counts["members"] += len(batch)
        counts["member_departments"] += len(placements)
        counts["punches"] += len(punches)
        counts["approvals"] += len(approvals)
        forget_logged_queries()
        if (batch_number + 1) % report_every == 0 or counts["members"] == total:
            say(stdout, f"Members: {counts['members']:,}/{total:,}  punches: {counts['punches']:,}")
    return counts


# ORG-5: the fields the demo roster fills, each with the purpose the organization states.
DEMO_COLLECTION: tuple[tuple[str, str], ...] = (
    ("employee_number", "考勤、审批中识别员工 Identify staff in attendance and approvals"),
    ("position", "展示组织架构 Show the organization chart"),
    ("grade", "薪酬与晋升管理 Pay bands and promotions"),
    ("labor_contract_status", "劳动合同管理 Manage labor contracts"),
    ("office_email", "发送工作邮件 Send work mail"),
    ("office_phone", "工作联络 Reach colleagues at work"),
    ("hired_on", "计算司龄与年假 Compute seniority and annual leave"),
    ("id_number", "依法办理社保与个税 Social insurance and income tax filings required by law"),
    ("bank_card", "发放工资 Pay salaries"),
)


WORKPLACE_MEMBERS = 12  # roster entries (the demo logins' first) that get work logs, files, ...


def _seed_collection_settings(organization: Organization) -> int:
    CollectionSetting.objects.bulk_create(
        CollectionSetting(organization=organization, field=name, enabled=True, purpose=purpose)
        for name, purpose in DEMO_COLLECTION
    )
    return len(DEMO_COLLECTION)


_WORK_LOGS = (
    "完成客户需求评审 Reviewed the customer's requirements",
    "跟进合同签署 Followed up on the contract signature",
    "修复考勤导出问题 Fixed the attendance export",
    "准备季度汇报 Prepared the quarterly review",
    "参加新人培训 Attended the onboarding training",
)


_MEETINGS = (
    ("周例会 Weekly team meeting", "3 号会议室 Room 3"),
    ("客户拜访 Customer visit", "西湖区文三路 Wensan Road"),
    ("一对一沟通 One-on-one", "线上 Online"),
)


_FILES = (
    ("季度汇报 Q-review.pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
    ("报价单 Quote.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ("会议纪要 Minutes.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ("合同扫描件 Contract.pdf", "application/pdf"),
)


_CONTACTS = (
    ("王强 Wang Qiang", "杭州西溪银行 Xixi Bank", "采购经理 Purchasing Manager"),
    ("Emily Chen", "Shanghai Harbour Logistics", "Account Director"),
    ("刘洋 Liu Yang", "南京云端软件 Nanjing Cloud Software", "CTO"),
)


def _seed_workplace_records(organization: Organization, *, seed: int) -> dict[str, int]:
    """ORG-4 activity records beyond attendance and approvals -- work logs, schedule
    entries, drive file metadata and external contact cards -- for the first
    ``WORKPLACE_MEMBERS`` roster entries, so every kind shows on the demo members' pages."""
    rng = random.Random(seed + 1)
    now = timezone.now()
    today = timezone.localdate()
    member_ids = list(
        Member.objects.filter(organization=organization).order_by("pk").values_list("pk", flat=True)[:WORKPLACE_MEMBERS]
    )
    org_id = organization.pk
    logs, entries, files, cards = [], [], [], []
    for member_id in member_ids:
        for back in range(5):
            logs.append(
                WorkLog(
                    organization_id=org_id,
                    member_id=member_id,
                    day=today - timedelta(days=back),
                    content=rng.choice(_WORK_LOGS),
                    created_at=now - timedelta(days=back),
                )
            )
        for ahead in range(3):
            title, location = rng.choice(_MEETINGS)
            starts = now.replace(minute=0, second=0, microsecond=0) + timedelta(days=ahead, hours=rng.randint(1, 6))
            entries.append(
                ScheduleEntry(
                    organization_id=org_id,
                    member_id=member_id,
                    title=title,
                    location=location,
                    starts_at=starts,
                    ends_at=starts + timedelta(hours=1),
                )
            )
        for index, (name, content_type) in enumerate(rng.sample(_FILES, 3)):
            files.append(
                DriveFile(
                    organization_id=org_id,
                    owner_id=member_id,
                    name=name,
                    content_type=content_type,
                    size=rng.randint(20_000, 5_000_000),
                    storage_ref=f"demo/drive/{member_id}/{index}",
                    uploaded_at=now - timedelta(days=rng.randint(0, 60)),
                )
            )
        name, company, title = rng.choice(_CONTACTS)
        cards.append(
            ExternalContactCard(
                organization_id=org_id,
                owner_id=member_id,
                name=name,
                company=company,
                title=title,
                phone=generators.mobile_number(rng),
                email=f"contact{member_id}@customer.example.com",
            )
        )
    WorkLog.objects.bulk_create(logs)
    ScheduleEntry.objects.bulk_create(entries)
    DriveFile.objects.bulk_create(files)
    ExternalContactCard.objects.bulk_create(cards)
    return {
        "work_logs": len(logs),
        "schedule_entries": len(entries),
        "drive_files": len(files),
        "contact_cards": len(cards),
    }


def _approval(rng: random.Random, org_id: int, member_id: int, now: datetime, window: int) -> ApprovalRecord:
    """One approval; older requests have mostly been decided, recent ones mostly wait."""
    draft = generators.approval(rng)
    age = rng.randint(600, window)
    submitted = now - timedelta(seconds=age)
    status, decided = ApprovalStatus.PENDING, None
    if age > 86400 or rng.random() < 0.3:
        status = rng.choices(
            (ApprovalStatus.APPROVED, ApprovalStatus.REJECTED, ApprovalStatus.PENDING), cum_weights=(78, 86, 100)
        )[0]
        if status != ApprovalStatus.PENDING:
            decided = submitted + timedelta(seconds=rng.randint(300, min(age, 3 * 86400)))
    return ApprovalRecord(
        organization_id=org_id,
        applicant_id=member_id,
        kind=draft.kind,
        title=draft.title,
        details=draft.details,
        amount=draft.amount,
        status=status,
        submitted_at=submitted,
        decided_at=decided,
    )
