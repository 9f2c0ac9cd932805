"""Organization services: the demo organization seeder (ORG-3, ORG-4, ORG-10).

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

import functools
import math
import random
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dt_time
from typing import TextIO

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import User
from dataprotection import staff_roles
from dataprotection.audit import record_event
from dataprotection.crypto import keyed_hash
from dataprotection.identifiers import credit_code_check_char, id_number_check_digit
from organizations import demo
from organizations.models import (
    Administrator,
    AdministratorRole,
    ApprovalRecord,
    ApprovalStatus,
    AttendancePunch,
    Certification,
    CertificationStatus,
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
    OrganizationStatus,
    PunchKind,
    Right,
    ScheduleEntry,
    StaffSize,
    WorkLog,
)
from organizations.permissions import OrgAccess
from organizations.services.lookups import ID_NUMBER_DIGEST_PURPOSE, MOBILE_DIGEST_PURPOSE

# The stable marker of the demo organization: seeding twice finds it and stops.
DEMO_ORGANIZATION_NAME = "杭州云栖科技有限公司 (Hangzhou Yunqi Technology Co., Ltd.)"
DEMO_ROOT_DEPARTMENT = "杭州云栖科技有限公司 Hangzhou Yunqi Technology"
DEMO_PASSWORD = "Custodia-Demo-2026"
# Where a newcomer's ``make run`` serves the portal; the demo provider's deletion
# endpoint (the development receiver) is under it.
DEFAULT_PORTAL_URL = "http://127.0.0.1:8000"
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
    """A demo account; every one shares ``DEMO_PASSWORD`` so a presenter can switch roles.
    ``staff_role`` names the operations role group (``dataprotection.staff_roles``) of a
    staff login; ``superuser`` marks the one console login that holds every permission."""

    role: str
    label: str
    phone: str
    name: str
    password: str = DEMO_PASSWORD
    staff_role: str = ""
    superuser: bool = False

    @property
    def is_staff(self) -> bool:
        return bool(self.staff_role) or self.superuser


OWNER, SUB_ADMIN, MEMBER = (
    DemoLogin("owner", "Organization owner 组织所有者", "+8613800000001", "周明 Zhou Ming"),
    DemoLogin("sub_admin", "Sub-administrator, Sales 子管理员（销售部）", "+8613800000002", "林晓 Lin Xiao"),
    DemoLogin("member", "Member 成员", "+8613800000003", "陈静 Chen Jing"),
)
REVIEWER, REQUEST_HANDLER, INCIDENT_MANAGER, AUDITOR = (
    DemoLogin(
        "certification_reviewer",
        "Operations: certification reviewer 运营：认证审核员",
        "+8613800000005",
        "审核员 Reviewer",
        staff_role=staff_roles.CERTIFICATION_REVIEWER.key,
    ),
    DemoLogin(
        "request_handler",
        "Operations: request handler 运营：请求处理员",
        "+8613800000006",
        "处理员 Request Handler",
        staff_role=staff_roles.REQUEST_HANDLER.key,
    ),
    DemoLogin(
        "incident_manager",
        "Operations: incident manager 运营：事件经理",
        "+8613800000007",
        "事件经理 Incident Manager",
        staff_role=staff_roles.INCIDENT_MANAGER.key,
    ),
    DemoLogin(
        "auditor",
        "Operations: auditor 运营：审计员",
        "+8613800000008",
        "审计员 Auditor",
        staff_role=staff_roles.AUDITOR.key,
    ),
)
# Kept beside the role logins for what no role does (the service catalog, accounts and
# role groups); a real deployment gives people roles, not this.
STAFF = DemoLogin(
    "staff",
    "Console superuser (every permission) 后台超级用户（全部权限）",
    "+8613800000009",
    "Ops Staff 运营",
    superuser=True,
)
ORGANIZATION_LOGINS: tuple[DemoLogin, ...] = (OWNER, SUB_ADMIN, MEMBER)
STAFF_LOGINS: tuple[DemoLogin, ...] = (REVIEWER, REQUEST_HANDLER, INCIDENT_MANAGER, AUDITOR, STAFF)
DEMO_LOGINS: tuple[DemoLogin, ...] = (*ORGANIZATION_LOGINS, *STAFF_LOGINS)
# ORG-9: what the demo sub-administrator holds on the Sales subtree.
SUB_ADMIN_RIGHTS = (Right.VIEW_ROSTER, Right.EDIT_ROSTER)


@dataclass
class DemoResult:
    """What a seeding run did (or found, when the demo organization already existed)."""

    created: bool
    organization: Organization
    counts: dict[str, int]
    elapsed: float
    logins: tuple[DemoLogin, ...] = field(default=DEMO_LOGINS)
    journeys: dict[str, int] = field(default_factory=dict)  # what ``ensure_demo_journeys`` added


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
        demo_users = User.objects.filter(phone__in=[login.phone for login in DEMO_LOGINS])
        user_ids = list(demo_users.values_list("pk", flat=True))
        for reset in _demo_resets.values():  # what the other apps' steps made for these users
            reset(user_ids)
        _, per_model = demo_users.delete()
        deleted["users"] = per_model.get(User._meta.label, 0)
        if deleted["organizations"] or deleted["users"]:
            record_event("demo.reset", metadata={"organizations": deleted["organizations"]})
    _say(stdout, f"Deleted {deleted['organizations']} demo organization(s) and the demo users.")
    return deleted


@functools.cache
def _demo_password_hash() -> str:
    # One hash for every demo login (they share a published password): hashing is
    # deliberately slow, and eight of them took seconds of every fresh seeding.
    return make_password(DEMO_PASSWORD)


def _create_demo_user(login: DemoLogin, **extra) -> User:
    user = User.objects.create_user(login.phone, None, name=login.name, **extra)
    user.password = _demo_password_hash() if login.password == DEMO_PASSWORD else make_password(login.password)
    user.save(update_fields=["password"])
    return user


def _create_demo_users() -> dict[str, User]:
    """The organization's logins, new; the staff logins come from ``_ensure_staff_logins``."""
    taken = list(
        User.objects.filter(phone__in=[login.phone for login in ORGANIZATION_LOGINS]).values_list("phone", flat=True)
    )
    if taken:
        raise DemoDataError(
            f"the demo login number(s) {', '.join(sorted(taken))} already belong to accounts; "
            "run seed_demo --reset to replace them"
        )
    return {login.role: _create_demo_user(login) for login in ORGANIZATION_LOGINS}


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
    _refuse_in_production()
    started = time.perf_counter()
    existing = find_demo_organization()
    if existing is not None:
        # A demo seeded by an earlier version gets what the journeys need, once.
        with transaction.atomic():
            journeys = ensure_demo_journeys(existing, portal_url=portal_url, stdout=stdout)
        if not any(journeys.values()):
            _say(stdout, "The demo organization already exists; nothing was changed (use --reset to re-seed).")
        return DemoResult(False, existing, demo_counts(existing), time.perf_counter() - started, journeys=journeys)

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

        Administrator.objects.create(organization=organization, user=users[OWNER.role], role=AdministratorRole.OWNER)
        counts["administrators"] = 1
        counts["users"] = len(users)
        record_event(
            "demo.seeded", target=organization, metadata={**counts, "days": days, "seed": seed}, actor_kind="system"
        )
        journeys = ensure_demo_journeys(organization, portal_url=portal_url, stdout=stdout)
        counts = demo_counts(organization)
    return DemoResult(True, organization, counts, time.perf_counter() - started, journeys=journeys)


# --------------------------------------------------------------------------- every role's journey


@dataclass(frozen=True)
class DemoContext:
    """What a demo step of another app needs: the demo organization, every demo login
    by role, the owner's access (the gate's object, as the owner's pages use it) and
    the address the portal is served on."""

    organization: Organization
    users: dict[str, User]
    owner_access: OrgAccess | None
    portal_url: str
    stdout: TextIO | None = None


# A step adds what its journey needs if it is missing and returns how many things it
# added (0 when all was there: seeding again changes nothing).
DemoStep = Callable[[DemoContext], int]
# What a step removes on ``seed_demo --reset``, given the demo users' ids, before they go.
DemoReset = Callable[[list[int]], int]
_demo_steps: dict[str, DemoStep] = {}
_demo_resets: dict[str, DemoReset] = {}


def register_demo_step(name: str, step: DemoStep, *, reset: DemoReset | None = None) -> None:
    """Called from an upper app's ``AppConfig.ready`` (this app may not import it)."""
    _demo_steps[name] = step
    if reset is not None:
        _demo_resets[name] = reset


def ensure_demo_journeys(
    organization: Organization, *, portal_url: str = DEFAULT_PORTAL_URL, stdout: TextIO | None = None
) -> dict[str, int]:
    """Give every demo role its journey, adding only what is missing (idempotent):
    staff logins in each operations role group, the sub-administrator's rights on
    Sales, a certification waiting for review, and the registered steps of the other
    apps. One audit event when anything was added."""
    done = {"staff_logins": _ensure_staff_logins()}
    users = {
        login.role: user
        for login in DEMO_LOGINS
        for user in User.objects.filter(phone=login.phone)  # at most one: the phone is unique
    }
    owner = Administrator.objects.filter(organization=organization, role=AdministratorRole.OWNER).first()
    access = None
    if organization.status == OrganizationStatus.ACTIVE and owner is not None:
        access = OrgAccess(user=owner.user, organization=organization, administrator=owner)
        done["sub_admin_rights"] = _ensure_sub_admin_rights(access, users)
        done["certification"] = _ensure_certification(access)
    else:
        _say(stdout, "The demo organization is being disbanded or is disbanded: run seed_demo --reset for a fresh one.")
    context = DemoContext(organization, users, access, portal_url, stdout)
    for name, step in _demo_steps.items():
        done[name] = step(context)
    if any(done.values()):
        record_event("demo.journeys_prepared", target=organization, metadata=done, actor_kind="system")
    return done


def _ensure_staff_logins() -> int:
    """SEC-1: one login per operations role group, and the console superuser. An
    account on a demo number that is not the demo's is refused, never taken over."""
    added = 0
    for login in STAFF_LOGINS:
        user = User.objects.filter(phone=login.phone).first()
        if user is None:
            user = _create_demo_user(login, is_staff=True, is_superuser=login.superuser)
            added += 1
        elif user.name != login.name or not user.is_staff:
            raise DemoDataError(
                f"the demo login number {login.phone} belongs to another account; run seed_demo --reset to replace it"
            )
        if not login.staff_role:
            continue
        group_name = staff_roles.role_of(login.staff_role).group
        group = Group.objects.filter(name=group_name).first()
        if group is None:  # the groups are made after every migrate; a flushed database lacks them
            staff_roles.sync_staff_roles()
            group = Group.objects.get(name=group_name)
        if not user.groups.filter(pk=group.pk).exists():
            user.groups.add(group)
            added += 1
    return added


def _sales(organization: Organization) -> Department | None:
    name = next(division.name for division in DIVISIONS if division.key == SALES)
    return Department.objects.filter(organization=organization, depth=1, name=name).order_by("pk").first()


def _ensure_sub_admin_rights(access: OrgAccess, users: dict[str, User]) -> int:
    """ORG-9: the sub-administrator views and edits the Sales roster -- guardian grants
    made by the administrator services, as when the owner appoints someone. A
    sub-administrator holding some grants already (a presenter changed them) is left
    as it is."""
    from organizations.services.administrators import (
        administrator_grants,
        appoint_administrator,
        update_administrator_rights,
    )

    sales, user = _sales(access.organization), users.get(SUB_ADMIN.role)
    if sales is None or user is None:
        return 0
    administrator = Administrator.objects.filter(organization=access.organization, user=user).first()
    if administrator is None:
        appoint_administrator(access, user, SUB_ADMIN_RIGHTS, [sales])
        return 1
    if administrator.role == AdministratorRole.OWNER or administrator_grants(administrator).pairs:
        return 0
    return int(update_administrator_rights(access, administrator, SUB_ADMIN_RIGHTS, [sales]))


DEMO_CREDIT_CODE_BASE = "91330106MA2B7Q4X3"  # a Hangzhou company's code, made up; the check character follows
DEMO_LEGAL_REPRESENTATIVE = ("周明 Zhou Ming", "33010619800512123")  # the CEO; ID number without its check digit
DEMO_ATTESTATION = (
    "I confirm that the legal representative named above has authorized this certification and these documents"
)


def _ensure_certification(access: OrgAccess) -> int:
    """ORG-2: a certification waiting for the reviewer, submitted by the owner, unless
    the organization has one already (under review, decided, or certified)."""
    from organizations.services.registration import submit_certification

    organization = access.organization
    if organization.certification_status != CertificationStatus.UNCERTIFIED:
        return 0
    if Certification.objects.filter(organization=organization).exists():
        return 0
    name, id_first17 = DEMO_LEGAL_REPRESENTATIVE
    submit_certification(
        access,
        {
            "registration_number": DEMO_CREDIT_CODE_BASE + credit_code_check_char(DEMO_CREDIT_CODE_BASE),
            "legal_representative_name": name,
            "legal_representative_id_number": id_first17 + id_number_check_digit(id_first17),
            "attestation": DEMO_ATTESTATION,
        },
        {
            "business_licence": (demo.document_pdf("Business licence (demo)"), "application/pdf"),
            "certification_letter": (demo.document_pdf("Certification letter (demo)"), "application/pdf"),
        },
    )
    return 1


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
