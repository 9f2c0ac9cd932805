"""Organization services: the demo organization seeder (ORG-3, ORG-4, ORG-10).

``seed_demo_organization`` fills one realistic enterprise -- department tree, roster with
encrypted sensitive values, attendance punches, approvals and four demo logins -- so the
portal can be shown and load-tested at the 100k-member scale it is built for. Speed
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
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dt_time
from typing import TextIO

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import User
from dataprotection.audit import record_event
from dataprotection.crypto import keyed_hash
from organizations import demo
from organizations.lookups import ID_NUMBER_DIGEST_PURPOSE, MOBILE_DIGEST_PURPOSE
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

# The stable marker of the demo organization: seeding twice finds it and stops.
DEMO_ORGANIZATION_NAME = "杭州云栖科技有限公司 (Hangzhou Yunqi Technology Co., Ltd.)"
DEMO_ROOT_DEPARTMENT = "杭州云栖科技有限公司 Hangzhou Yunqi Technology"
DEMO_PASSWORD = "Custodia-Demo-2026"
MAX_MEMBERS = 1_000_000
MAX_DAYS = 366

BATCH_SIZE = 2_000  # members per round: bounds memory (a round holds ~20k punch objects)
MEMBERS_PER_TEAM = 40
MAX_TEAMS = 5_000
MAX_TEAMS_PER_UNIT = 12  # above this, teams are grouped under an extra tree level
TEAMS_PER_GROUP = 10
SECOND_DEPARTMENT_SHARE = 0.05
APPROVALS_PER_MEMBER_DAY = 0.1
SQLITE_CACHE_KIB = -131_072  # negative: KiB, so 128 MiB of page cache while seeding


class DemoDataError(Exception):
    """The demo data cannot be seeded as asked (bad arguments, production, taken logins)."""


@dataclass(frozen=True)
class DemoLogin:
    """A demo account; every one shares ``DEMO_PASSWORD`` so a presenter can switch roles."""

    role: str
    label: str
    phone: str
    name: str
    password: str = DEMO_PASSWORD


OWNER, SUB_ADMIN, MEMBER, STAFF = (
    DemoLogin("owner", "Organization owner 组织所有者", "+8613800000001", "周明 Zhou Ming"),
    DemoLogin("sub_admin", "Sub-administrator, Sales 子管理员（销售部）", "+8613800000002", "林晓 Lin Xiao"),
    DemoLogin("member", "Member 成员", "+8613800000003", "陈静 Chen Jing"),
    DemoLogin("staff", "Operations staff 运营人员", "+8613800000009", "Ops Staff 运营"),
)
DEMO_LOGINS: tuple[DemoLogin, ...] = (OWNER, SUB_ADMIN, MEMBER, STAFF)


@dataclass
class DemoResult:
    """What a seeding run did (or found, when the demo organization already existed)."""

    created: bool
    organization: Organization
    counts: dict[str, int]
    elapsed: float
    logins: tuple[DemoLogin, ...] = field(default=DEMO_LOGINS)


# --------------------------------------------------------------------------- department tree


@dataclass(frozen=True)
class Unit:
    """A second-level department; ``flavours`` name its teams (cities, product lines)."""

    name_zh: str
    name_en: str
    flavours: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Division:
    """A first-level department; ``weight`` is its share of teams and so of headcount."""

    key: str
    name: str
    weight: float
    units: tuple[Unit, ...]


DIVISIONS: tuple[Division, ...] = (
    Division(
        "rd",
        "研发中心 R&D Center",
        0.38,
        (
            Unit("平台研发部", "Platform Engineering", (("账号服务", "Accounts"), ("开放平台", "Open Platform"))),
            Unit("协同办公研发部", "Collaboration Apps", (("考勤", "Attendance"), ("审批", "Approvals"))),
            Unit("移动端研发部", "Mobile Engineering", (("iOS", "iOS"), ("Android", "Android"), ("鸿蒙", "HarmonyOS"))),
            Unit("数据智能部", "Data Intelligence", (("数据平台", "Data Platform"), ("智能搜索", "Search"))),
            Unit("质量保障部", "Quality Assurance"),
            Unit("基础设施部", "Infrastructure", (("云平台", "Cloud Platform"), ("安全", "Security"))),
        ),
    ),
    Division(
        "sales",
        "销售部 Sales",
        0.24,
        (
            Unit("华东大区", "East China Region", (("杭州", "Hangzhou"), ("上海", "Shanghai"), ("南京", "Nanjing"))),
            Unit("华北大区", "North China Region", (("北京", "Beijing"), ("天津", "Tianjin"), ("济南", "Jinan"))),
            Unit("华南大区", "South China Region", (("广州", "Guangzhou"), ("深圳", "Shenzhen"), ("厦门", "Xiamen"))),
            Unit("西部大区", "West China Region", (("成都", "Chengdu"), ("重庆", "Chongqing"), ("西安", "Xi'an"))),
            Unit("大客户部", "Key Accounts", (("金融行业", "Financial Services"), ("公共事业", "Public Sector"))),
        ),
    ),
    Division(
        "marketing",
        "市场部 Marketing",
        0.07,
        (Unit("品牌部", "Brand"), Unit("数字营销部", "Digital Marketing"), Unit("市场活动部", "Events")),
    ),
    Division(
        "hr",
        "人力资源部 Human Resources",
        0.05,
        (Unit("招聘组", "Talent Acquisition"), Unit("薪酬福利组", "Compensation & Benefits"), Unit("组织发展组", "OD")),
    ),
    Division(
        "finance",
        "财务部 Finance",
        0.05,
        (Unit("会计组", "Accounting"), Unit("财务分析组", "FP&A"), Unit("税务组", "Tax")),
    ),
    Division(
        "cs",
        "客户成功部 Customer Success",
        0.16,
        (
            Unit("实施交付部", "Implementation", (("华东", "East"), ("华北", "North"), ("华南", "South"))),
            Unit("技术支持部", "Technical Support", (("一线支持", "Tier 1"), ("二线支持", "Tier 2"))),
            Unit("客户运营部", "Customer Operations"),
        ),
    ),
    Division(
        "admin",
        "行政部 Administration",
        0.05,
        (Unit("综合行政组", "General Affairs"), Unit("IT 支持组", "IT Support"), Unit("法务组", "Legal")),
    ),
)
SALES = "sales"


@dataclass(eq=False)
class _Node:
    """A department before (and, once ``obj`` is set, after) it is inserted."""

    name: str
    division: str | None
    parent: _Node | None
    sort_order: int
    depth: int
    children: list[_Node] = field(default_factory=list)
    obj: Department | None = None

    def add(self, name: str, division: str | None = None) -> _Node:
        child = _Node(name, division or self.division, self, len(self.children), self.depth + 1)
        self.children.append(child)
        return child


def _team_name(unit: Unit, index: int) -> str:
    if unit.flavours:
        (zh, en), number = unit.flavours[index % len(unit.flavours)], index // len(unit.flavours) + 1
    else:
        zh, en, number = unit.name_zh, unit.name_en, index + 1
    return f"{zh}{number}组 {en} Team {number}"


def plan_department_tree(members: int) -> _Node:
    """The tree for a roster of ``members`` (ORG-3): company, divisions, units, optional
    groups, then leaf teams of about ``MEMBERS_PER_TEAM`` people each."""
    total_teams = min(MAX_TEAMS, max(1, math.ceil(members / MEMBERS_PER_TEAM)))
    root = _Node(DEMO_ROOT_DEPARTMENT, None, None, 0, 0)
    for division in DIVISIONS:
        division_node = root.add(division.name, division.key)
        teams = max(1, round(total_teams * division.weight))
        units = division.units[: min(len(division.units), teams)]
        for position, unit in enumerate(units):
            unit_node = division_node.add(f"{unit.name_zh} {unit.name_en}")
            unit_teams = teams // len(units) + (1 if position < teams % len(units) else 0)
            if unit_teams <= MAX_TEAMS_PER_UNIT:
                for index in range(unit_teams):
                    unit_node.add(_team_name(unit, index))
                continue
            for group_start in range(0, unit_teams, TEAMS_PER_GROUP):
                number = group_start // TEAMS_PER_GROUP + 1
                group = unit_node.add(f"{unit.name_zh}第{number}分部 {unit.name_en} Division {number}")
                for index in range(group_start, min(unit_teams, group_start + TEAMS_PER_GROUP)):
                    group.add(_team_name(unit, index))
    return root


def _levels(root: _Node) -> list[list[_Node]]:
    levels: list[list[_Node]] = [[root]]
    while True:
        following = [child for node in levels[-1] for child in node.children]
        if not following:
            return levels
        levels.append(following)


def _create_department_tree(organization: Organization, root: _Node) -> list[_Node]:
    """Insert the planned tree level by level, then write every materialized path.

    ``bulk_create`` returns primary keys on SQLite and PostgreSQL, so each level can point
    at its parents; a path (ORG-3) needs the row's own key, hence the one ``bulk_update``
    once all keys are known."""
    created: list[Department] = []
    nodes: list[_Node] = []
    for level in _levels(root):
        objs = [
            Department(
                organization=organization,
                parent_id=node.parent.obj.pk if node.parent else None,
                name=node.name[:200],
                depth=node.depth,
                sort_order=node.sort_order,
            )
            for node in level
        ]
        Department.objects.bulk_create(objs, batch_size=BATCH_SIZE)
        for node, obj in zip(level, objs, strict=True):
            obj.path = obj.compute_path(node.parent.obj.path if node.parent else "")
            node.obj = obj
        created.extend(objs)
        nodes.extend(level)
    Department.objects.bulk_update(created, ["path"], batch_size=500)
    return nodes


# --------------------------------------------------------------------------- seeding


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


def _say(stdout: TextIO | None, message: str) -> None:
    if stdout is not None:
        stdout.write(message + "\n")


def validate_demo_arguments(*, members: int, days: int) -> None:
    if not 1 <= members <= MAX_MEMBERS:
        raise DemoDataError(f"--members must be between 1 and {MAX_MEMBERS:,}, not {members:,}")
    if not 0 <= days <= MAX_DAYS:
        raise DemoDataError(f"--days must be between 0 and {MAX_DAYS}, not {days}")


def _refuse_in_production() -> None:
    # The demo logins share a published password and one of them is a superuser.
    if getattr(settings, "PRODUCTION", False):
        raise DemoDataError("demo data publishes its logins' password; it is refused in the production profile")


def delete_demo_data(*, stdout: TextIO | None = None) -> dict[str, int]:
    """Delete the demo organization with all its rows, and the demo users.

    The high-volume tables go first with single set-based DELETEs; left to the cascade
    collector, 100k members and a million punches would be loaded into memory first."""
    _refuse_in_production()
    deleted = {"organizations": 0, "users": 0}
    with transaction.atomic():
        for organization in Organization.objects.filter(name=DEMO_ORGANIZATION_NAME):
            AttendancePunch.objects.filter(organization=organization).delete()
            ApprovalRecord.objects.filter(organization=organization).delete()
            MemberDepartment.objects.filter(member__organization=organization).delete()
            organization.delete()
            deleted["organizations"] += 1
        _, per_model = User.objects.filter(phone__in=[login.phone for login in DEMO_LOGINS]).delete()
        deleted["users"] = per_model.get(User._meta.label, 0)
        if deleted["organizations"] or deleted["users"]:
            record_event("demo.reset", metadata={"organizations": deleted["organizations"]})
    _say(stdout, f"Deleted {deleted['organizations']} demo organization(s) and the demo users.")
    return deleted


def _create_demo_users() -> dict[str, User]:
    taken = list(User.objects.filter(phone__in=[login.phone for login in DEMO_LOGINS]).values_list("phone", flat=True))
    if taken:
        raise DemoDataError(
            f"the demo login number(s) {', '.join(sorted(taken))} already belong to accounts; "
            "run seed_demo --reset to replace them"
        )
    users = {
        login.role: User.objects.create_user(login.phone, login.password, name=login.name)
        for login in (OWNER, SUB_ADMIN, MEMBER)
    }
    users[STAFF.role] = User.objects.create_user(
        STAFF.phone, STAFF.password, name=STAFF.name, is_staff=True, is_superuser=True
    )
    return users


@contextmanager
def _bulk_load_tuning():
    """On SQLite, give the connection a 128 MiB page cache while seeding.

    The default 2 MiB cache cannot hold the pages of the punch table's five indexes, so
    every insert past the first few thousand rows re-reads pages and spills dirty ones;
    at 100k members this alone costs about a fifth of the run. The previous size is
    restored afterwards. PostgreSQL sizes its buffers server-side: nothing to do."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        (previous,) = cursor.fetchone()
        cursor.execute(f"PRAGMA cache_size = {SQLITE_CACHE_KIB}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {int(previous)}")


def _forget_logged_queries() -> None:
    """With DEBUG on, Django keeps the SQL of the last 9,000 queries; multi-row INSERTs
    make that hundreds of megabytes. Drop it between batches unless someone is
    deliberately capturing queries (``force_debug_cursor``, as test helpers do)."""
    if settings.DEBUG and not connection.force_debug_cursor:
        connection.queries_log.clear()


def _day_starts(days: int, today: date) -> list[tuple[date, datetime]]:
    """Local midnight of each recent working day, in UTC: adding an offset to a UTC
    datetime is plain arithmetic, which matters a million times over."""
    zone = timezone.get_default_timezone()
    return [
        (day, datetime.combine(day, dt_time(), tzinfo=zone).astimezone(UTC))
        for day in demo.recent_working_days(today, days)
    ]


def build_member(
    person: demo.DemoPerson, *, organization_id: int, index: int, position: str, grade: str, user_id: int | None = None
) -> Member:
    """One unsaved demo roster entry with every field the demo collects (ORG-4), its
    sensitive values in clear (the field encrypts on write) and their keyed digests."""
    return Member(
        organization_id=organization_id,
        user_id=user_id,
        status=MemberStatus.ACTIVE,
        name=person.name.display,
        employee_number=demo.employee_number(index + 1),
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


def seed_demo_organization(*, members: int, days: int, seed: int, stdout: TextIO | None = None) -> DemoResult:
    """Create the demo organization with ``members`` roster entries (at least the three
    that the demo logins own), ``days`` working days of attendance and ~1 approval per
    member per 10 days. Does nothing if the demo organization already exists.

    Sensitive values (mobile, ID number, bank card) are encrypted on insert by their
    fields, with keyed hashes beside mobile and ID number for lookups (ORG-10).
    """
    validate_demo_arguments(members=members, days=days)
    _refuse_in_production()
    started = time.perf_counter()
    existing = find_demo_organization()
    if existing is not None:
        _say(stdout, "The demo organization already exists; nothing was changed (use --reset to re-seed).")
        return DemoResult(False, existing, demo_counts(existing), time.perf_counter() - started)

    # The tuning wraps the transaction so that restoring it never runs in a broken one.
    with _bulk_load_tuning(), transaction.atomic():
        users = _create_demo_users()
        organization = Organization.objects.create(
            name=DEMO_ORGANIZATION_NAME,
            kind=OrganizationKind.ENTERPRISE,
            location="浙江省杭州市西湖区 Xihu District, Hangzhou, Zhejiang",
            industry="软件和信息技术服务业 Software & IT Services",
            staff_size=staff_size_for(max(members, 3)),
            edition=Edition.STANDARD,
            created_by=users[OWNER.role],
        )
        nodes = _create_department_tree(organization, plan_department_tree(members))
        _say(stdout, f"Departments: {len(nodes):,}")
        counts = {
            "departments": len(nodes),
            **_seed_roster(organization, nodes, users, members=members, days=days, seed=seed, stdout=stdout),
        }

        counts["collection_settings"] = _seed_collection_settings(organization)
        counts.update(_seed_workplace_records(organization, seed=seed))

        sales = next(node.obj for node in nodes if node.depth == 1 and node.division == SALES)
        Administrator.objects.create(organization=organization, user=users[OWNER.role], role=AdministratorRole.OWNER)
        sub_admin = Administrator.objects.create(
            organization=organization,
            user=users[SUB_ADMIN.role],
            role=AdministratorRole.SUB_ADMIN,
            appointed_by=users[OWNER.role],
        )
        sub_admin.scope.set([sales])
        counts["administrators"] = 2
        counts["users"] = len(users)
        record_event(
            "demo.seeded", target=organization, metadata={**counts, "days": days, "seed": seed}, actor_kind="system"
        )
    return DemoResult(True, organization, counts, time.perf_counter() - started)


def _seed_roster(
    organization: Organization,
    nodes: list[_Node],
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
    people = demo.PersonGenerator(rng, today)
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
    spots = {office.key: demo.punch_spots(rng, office) for office in demo.OFFICES}
    day_starts = _day_starts(days, today)
    approval_window = max(1, round(max(days, 1) * 7 / 5)) * 86400
    approvals_per_member = days * APPROVALS_PER_MEMBER_DAY
    whole_approvals, fractional_approvals = int(approvals_per_member), approvals_per_member % 1
    org_id = organization.pk
    total = max(members, len(demo_entries))
    counts = {"members": 0, "member_departments": 0, "punches": 0, "approvals": 0}
    report_every = max(1, math.ceil(total / BATCH_SIZE / 10))

    for batch_number, start in enumerate(range(0, total, BATCH_SIZE)):
        batch: list[tuple[Member, demo.DemoPerson, _Node, int]] = []
        for index in range(start, min(total, start + BATCH_SIZE)):
            user_id, minimum_approvals = None, 0
            if index < len(demo_entries):
                login, node, position, grade, male = demo_entries[index]
                surname, given = login.name.split(" ")[1:3]
                name = demo.PersonName(login.name, f"{given}.{surname}".lower(), male, True)
                person = people.person(name=name, mobile=login.phone)
                user_id, minimum_approvals = users[login.role].pk, 1
            else:
                person = people.person()
                node = rng.choice(leaves)
                position, grade = demo.position_and_grade(rng, node.division)
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
                            photo_ref=demo.photo_ref(rng),
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
        _forget_logged_queries()
        if (batch_number + 1) % report_every == 0 or counts["members"] == total:
            _say(stdout, f"Members: {counts['members']:,}/{total:,}  punches: {counts['punches']:,}")
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
                phone=demo.mobile_number(rng),
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
    draft = demo.approval(rng)
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
