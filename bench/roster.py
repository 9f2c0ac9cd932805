"""Benchmark of the roster admin list page (ORG-7, ORG-9) at organization scale.

Run by hand, not by pytest:

    .venv/bin/python bench/roster.py --members 100000 --departments 300 --db sqlite
    .venv/bin/python bench/roster.py --members 100000 --departments 300 --db postgres

It builds a throwaway database (SQLite in a temporary directory; for ``--db postgres``
without ``DATABASE_URL`` a throwaway PostgreSQL cluster started from the server binaries
with ``tests/servers.py``, stopped at the end), migrates it, seeds N members across D
departments with ``bulk_create``, an owner and a sub-administrator holding view/edit
roster on a few department subtrees (``grant_rights``), then times the roster list page
(``/orgs/<id>/roster/``) through Django's test ``Client`` -- page 1, a deep page, a
search, and the deep page sorted by department and by employee number (descending), for
each of the two administrators, each signed in as a person is (password, then the code
of the authenticator enrolled for them: SEC-1), ``--requests`` times each -- recording the
server time and the query count (``CaptureQueriesContext``). As a baseline it also times
the view's page query (``organizations.views.roster.roster_page``: same annotation,
order and page window) without the permission filter, and prints the ratio.

Last line: ``roster queries=<max queries per page> p50_ms=<worst median ms> members=<n>``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE_SIZE = 50
SEARCH = "王"  # a common surname character: a "name contains" search with many matches
ID_LIST = re.compile(r"IN \((?:%s|\d+)(?:, (?:%s|\d+)){9,}\)")  # an IN-list of 10+ ids (guardian #148)


def configure_django(workdir: Path, db: str) -> object | None:
    """Point Django at a temporary database and var/ directory before setup. Returns the
    throwaway PostgreSQL server to stop at the end, if one was started."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["CUSTODIA_VAR_DIR"] = str(workdir / "var")
    os.environ["DEBUG"] = "false"  # no query log: the numbers measure the code
    os.environ.setdefault("LANGUAGE_CODE", "en")
    server = None
    if db == "sqlite":
        os.environ["DATABASE_URL"] = f"sqlite:///{workdir / 'bench.sqlite3'}"
    elif not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        from tests import servers

        server = servers.start_postgres()
        os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:{server.port}/postgres"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return server


# --------------------------------------------------------------------------- seeding

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕彬鹏辉斌宇浩凯健俊帆帅旭宁"


def seed(members: int, departments: int, rng: random.Random):
    """An organization with ``departments`` departments (root, ~sqrt(D) divisions,
    teams under them) and ``members`` members, one primary placement each and a second
    one for 5%. Returns (organization, departments list)."""
    from django.db import transaction

    from dataprotection.crypto import keyed_hash
    from organizations.models import Department, Member, MemberDepartment, Organization
    from organizations.services.lookups import MOBILE_DIGEST_PURPOSE

    with transaction.atomic():
        organization = Organization.objects.create(name="Bench Co.")
        root = Department.objects.create(organization=organization, name="Bench Co.")
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
            team.path = team.compute_path(divisions[(team.sort_order) % divisions_count].path)
        Department.objects.bulk_update([*divisions, *teams], ["path"], batch_size=500)
        leaves = teams or divisions or [root]

        batch = 5_000
        for start in range(0, members, batch):
            rows = []
            for index in range(start, min(members, start + batch)):
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
    return organization, [root, *divisions, *teams]


PASSWORD = "Bench-Password-1"


def enroll_authenticator(user) -> str:
    """A confirmed authenticator (SEC-1) for ``user``; returns its key, from which the
    benchmark computes the codes the person's app would show."""
    from django_otp.plugins.otp_totp.models import TOTPDevice
    from django_otp.util import random_hex

    key = random_hex(20)
    TOTPDevice.objects.create(user=user, name="Authenticator app", key=key, confirmed=True)
    return key


def sign_in(client, user, key: str) -> None:
    """The real two-step sign-in: the password, then the authenticator's current code."""
    from binascii import unhexlify

    from django.urls import reverse
    from django_otp.oath import TOTP

    first = client.post(reverse("accounts:login"), {"method": "password", "phone": user.phone, "password": PASSWORD})
    second_step = reverse("accounts:sign_in_second_step")
    assert first.status_code == 302 and first["Location"] == second_step, (first.status_code, first.get("Location"))
    generator = TOTP(unhexlify(key), step=30, t0=0, digits=6, drift=0)
    generator.time = time.time()
    second = client.post(second_step, {"code": f"{generator.token():06d}"})
    assert second.status_code == 302 and second["Location"] != second_step, (second.status_code, second.get("Location"))


def administrators(organization, departments, rng: random.Random):
    """The owner and a sub-administrator with view/edit roster on three team subtrees
    and one division subtree, each with a confirmed authenticator."""
    from accounts.models import User
    from organizations.models import Administrator, AdministratorRole, Right
    from organizations.services.grants import grant_rights

    owner = User.objects.create_user("+8613800000001", PASSWORD, name="Owner")
    Administrator.objects.create(organization=organization, user=owner, role=AdministratorRole.OWNER)
    sub = User.objects.create_user("+8613800000002", PASSWORD, name="Sub-admin")
    admin = Administrator.objects.create(organization=organization, user=sub, role=AdministratorRole.SUB_ADMIN)
    divisions = [d for d in departments if d.depth == 1]
    teams = [d for d in departments if d.depth == 2]
    scope = [*rng.sample(teams, min(3, len(teams))), *divisions[:1]]
    admin.scope.set(scope)
    for department in scope:
        grant_rights(sub, [Right.VIEW_ROSTER, Right.EDIT_ROSTER], department)
    owner.authenticator_key = enroll_authenticator(owner)
    sub.authenticator_key = enroll_authenticator(sub)
    return owner, sub


# --------------------------------------------------------------------------- measuring


def measure(client, url: str, requests: int) -> dict:
    """One captured request for the query count, then ``requests`` timed ones."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    sql = [query["sql"] for query in captured.captured_queries]  # before the next request resets the log
    assert response.status_code == 200, (url, response.status_code)
    rows = response.content.count(b"data-member=")
    timings = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    timings.sort()
    return {
        "queries": len(sql),
        "rows": rows,
        "p50_ms": round(statistics.median(timings), 2),
        "p95_ms": round(timings[min(len(timings) - 1, int(len(timings) * 0.95))], 2),
        "sql": sql,
    }


def time_queryset(build, requests: int) -> float:
    timings = []
    for _ in range(requests):
        started = time.perf_counter()
        list(build())
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--departments", type=int, default=300)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--deep-page", type=int, default=500, help="the deep page (capped at the last page)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="custodia-bench-roster-"))
    server = configure_django(workdir, args.db)
    try:
        run(args)
    finally:
        from django.db import connections

        connections.close_all()
        if server is not None:
            server.stop()
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def run(args) -> None:
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    from organizations.models import Member, Right
    from organizations.permissions import org_access
    from organizations.services.lookups import member_search
    from organizations.views.roster import roster_page  # the list view's page query

    rng = random.Random(args.seed)
    started = time.perf_counter()
    organization, departments = seed(args.members, args.departments, rng)
    owner, sub = administrators(organization, departments, rng)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # fresh statistics, as autovacuum / a DBA would have
    print(f"seeded {args.members:,} members, {len(departments):,} departments in {time.perf_counter() - started:.1f}s")

    url = reverse("organizations:roster", args=[organization.pk])
    results = []
    for label, user in (("owner", owner), ("sub_admin", sub)):
        access = org_access(user, organization.pk)
        visible = access.members(Right.VIEW_ROSTER).count()
        deep = max(1, min(args.deep_page, (visible + PAGE_SIZE - 1) // PAGE_SIZE))
        client = Client(headers={"accept-language": "en"})
        sign_in(client, user, user.authenticator_key)
        client.get(url)  # warm up: templates, translations, connection
        # (address, page, sort) per scenario; the sorted ones on the deep page, where an
        # ORDER BY that no index serves costs the most.
        scenarios = {
            "page 1": (url, 1, "name"),
            f"page {deep}": (f"{url}?page={deep}", deep, "name"),
            "search": (f"{url}?q={SEARCH}", 1, "name"),
            "by dept": (f"{url}?sort=department&page={deep}", deep, "department"),
            "by empno": (f"{url}?sort=-employee_number&page={deep}", deep, "-employee_number"),
        }
        for scenario, (address, page, sort) in scenarios.items():
            result = measure(client, address, args.requests)
            # Baseline: the same queryset and page window without the permission filter.
            base = Member.objects.filter(organization=organization)
            scoped = access.members(Right.VIEW_ROSTER)
            if scenario == "search":
                base, scoped = base.filter(member_search(SEARCH)), scoped.filter(member_search(SEARCH))
            baseline_ms = time_queryset(lambda b=base, p=page, o=sort: roster_page(b, p, sort=o), 5)
            filtered_ms = time_queryset(lambda s=scoped, p=page, o=sort: roster_page(s, p, sort=o), 5)
            record = {
                "db": connection.vendor,
                "who": label,
                "scenario": scenario,
                "visible": visible,
                "members": args.members,
                "queries": result["queries"],
                "rows": result["rows"],
                "p50_ms": result["p50_ms"],
                "p95_ms": result["p95_ms"],
                "queryset_ms": round(filtered_ms, 2),
                "baseline_ms": round(baseline_ms, 2),
                "ratio": round(filtered_ms / baseline_ms, 2) if baseline_ms else None,
                "id_in_list": any(ID_LIST.search(sql) for sql in result["sql"]),
            }
            results.append(record)
            print(json.dumps(record, ensure_ascii=False))
    print()
    print(f"{'who':10} {'scenario':10} {'visible':>8} {'queries':>7} {'p50 ms':>8} {'p95 ms':>8} {'ratio':>6}")
    for r in results:
        print(
            f"{r['who']:10} {r['scenario']:10} {r['visible']:>8} {r['queries']:>7} "
            f"{r['p50_ms']:>8.1f} {r['p95_ms']:>8.1f} {r['ratio'] or 0:>6.2f}"
        )
    print(
        f"roster queries={max(r['queries'] for r in results)} "
        f"p50_ms={max(r['p50_ms'] for r in results):.1f} members={args.members}"
    )


if __name__ == "__main__":
    main()
