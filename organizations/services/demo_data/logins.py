"""The demo logins: one per organization role and per operations role group, all
sharing one published password (which is why demo data is refused in production)."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group

from accounts.models import User
from dataprotection import staff_roles

DEMO_PASSWORD = "Custodia-Demo-2026"


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


def refuse_in_production() -> None:
    # The demo logins share a published password and one of them is a superuser.
    if getattr(settings, "PRODUCTION", False):
        raise DemoDataError("demo data publishes its logins' password; it is refused in the production profile")


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


def create_demo_users() -> dict[str, User]:
    """The organization's logins, new; the staff logins come from ``ensure_staff_logins``."""
    taken = list(
        User.objects.filter(phone__in=[login.phone for login in ORGANIZATION_LOGINS]).values_list("phone", flat=True)
    )
    if taken:
        raise DemoDataError(
            f"the demo login number(s) {', '.join(sorted(taken))} already belong to accounts; "
            "run seed_demo --reset to replace them"
        )
    return {login.role: _create_demo_user(login) for login in ORGANIZATION_LOGINS}


def ensure_staff_logins() -> int:
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
