"""Seed a throwaway production-profile database for the production-stack test and
bench/load.py: one organization with a department tree, ``--members`` roster entries,
an owner and ``--admins - 1`` sub-administrators holding the roster rights on the whole
organization, every administrator with a password and a confirmed authenticator whose
key is written out, so that the caller signs in through the real two-step flow.

    python -m tests.stack_seed --members 100000 --admins 16 --out seed.json

Runs in the environment of the stack under test (the same DATABASE_URL and keys), as
its own process: the caller's Django is configured for something else. Rows are
written with ``bulk_create`` in batches (encrypted mobile with its keyed digest, one
primary placement each, a second one for 5%), as ``bench/roster.py`` does.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "Stack-Password-2026"  # throwaway databases only
ORGANIZATION_NAME = "Stack Test Co."
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕彬鹏辉斌宇浩凯健俊帆帅旭宁"
BATCH = 5_000


def seed(members: int, departments: int, admins: int, rng: random.Random) -> dict:
    from django.db import connection, transaction
    from django_otp.plugins.otp_totp.models import TOTPDevice
    from django_otp.util import random_hex

    from accounts.models import User
    from dataprotection.crypto import keyed_hash
    from organizations.models import (
        Administrator,
        AdministratorRole,
        Department,
        Member,
        MemberDepartment,
        Organization,
        Right,
    )
    from organizations.services.grants import grant_rights
    from organizations.services.lookups import MOBILE_DIGEST_PURPOSE

    with transaction.atomic():
        organization = Organization.objects.create(name=ORGANIZATION_NAME, require_admin_two_factor=True)
        root = Department.objects.create(organization=organization, name=ORGANIZATION_NAME)
        root.path = root.compute_path()
        root.save(update_fields=["path"])
        divisions_count = max(1, min(departments - 1, round((departments - 1) ** 0.5)))
        divisions = Department.objects.bulk_create(
            Department(organization=organization, parent=root, name=f"Division {i}", depth=1, sort_order=i)
            for i in range(divisions_count)
        )
        for division in divisions:
            division.path = division.compute_path(root.path)
        teams = Department.objects.bulk_create(
            Department(
                organization=organization,
                parent=divisions[i % divisions_count],
                name=f"Team {i}",
                depth=2,
                sort_order=i,
            )
            for i in range(max(0, departments - 1 - divisions_count))
        )
        for team in teams:
            team.path = team.compute_path(divisions[team.sort_order % divisions_count].path)
        Department.objects.bulk_update([*divisions, *teams], ["path"], batch_size=500)
        leaves = teams or divisions or [root]

        for start in range(0, members, BATCH):
            rows = []
            for index in range(start, min(members, start + BATCH)):
                name = rng.choice(SURNAMES) + rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.6 else "")
                mobile = f"+86139{index:08d}"
                rows.append(
                    Member(
                        organization=organization,
                        status="active",
                        name=name,
                        employee_number=f"E{index + 1:07d}",
                        position="Engineer",
                        mobile=mobile,
                        mobile_digest=keyed_hash(mobile, MOBILE_DIGEST_PURPOSE),
                    )
                )
            Member.objects.bulk_create(rows)
            placements = []
            for member in rows:
                placements.append(MemberDepartment(member=member, department=rng.choice(leaves), is_primary=True))
                if rng.random() < 0.05:
                    other = rng.choice(leaves)
                    if other.pk != placements[-1].department.pk:
                        placements.append(MemberDepartment(member=member, department=other, is_primary=False))
            MemberDepartment.objects.bulk_create(placements)

        people = []
        for index in range(admins):
            phone = f"+8613700{index:06d}"
            user = User.objects.create_user(phone, PASSWORD, name=f"Administrator {index}", preferred_language="en")
            role = AdministratorRole.OWNER if index == 0 else AdministratorRole.SUB_ADMIN
            Administrator.objects.create(organization=organization, user=user, role=role)
            if role != AdministratorRole.OWNER:
                grant_rights(user, [Right.VIEW_ROSTER, Right.EDIT_ROSTER], organization)
            key = random_hex(20)
            TOTPDevice.objects.create(user=user, name="Authenticator app", key=key, confirmed=True)
            people.append({"phone": phone, "password": PASSWORD, "totp_key": key, "role": role})
    with connection.cursor() as cursor:
        # As autovacuum would leave it: fresh statistics and the visibility map, so that
        # a measurement starting now does not race the first autovacuum of the new rows.
        cursor.execute("VACUUM ANALYZE")
    return {
        "organization": organization.pk,
        "organization_name": ORGANIZATION_NAME,
        "members": members,
        "departments": 1 + len(divisions) + len(teams),
        "department": leaves[0].pk,
        "administrators": people,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--departments", type=int, default=30)
    parser.add_argument("--admins", type=int, default=1)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    started = time.perf_counter()
    result = seed(args.members, args.departments, args.admins, random.Random(args.seed))
    result["seconds"] = round(time.perf_counter() - started, 1)
    args.out.write_text(json.dumps(result), encoding="utf-8")
    print(f"seeded {args.members:,} members, {result['departments']} departments in {result['seconds']}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
