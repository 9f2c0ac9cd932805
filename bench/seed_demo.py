"""Benchmark of the demo seeder against a naive ORM loop (ORG-4 at roster scale).

Run by hand, not by pytest:

    .venv/bin/python bench/seed_demo.py --members 100000

It builds a throwaway SQLite database in a temporary directory (never the project's own),
migrates it, then measures in the same run:

(a) the baseline: members created one by one with ``.save()`` plus their
    ``MemberDepartment`` rows, for a sample of members, inside one transaction; two
    variants for context: the same loop in autocommit (each row its own transaction),
    and a full naive seeder that also saves each member's punches and approvals one by
    one (the same work per member as (b));
(b) ``seed_demo_organization`` for N members;

and prints rows per second, the ratios (b)/(a), elapsed times and peak memory. Both sides
generate the same fake PII with the same generator, so the ratios isolate how rows reach
the database. Last line: ``seed_demo members=<n> rows_per_s=<total rows/s of (b)>
vs_save=<(b) over (a) in one transaction>``.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def configure_django(workdir: Path, debug: bool) -> None:
    """Point Django at a temporary database and var/ directory before setup, so the
    benchmark can never touch the developer's data."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["DATABASE_URL"] = f"sqlite:///{workdir / 'bench.sqlite3'}"
    os.environ["CUSTODIA_VAR_DIR"] = str(workdir / "var")
    # DEBUG keeps a log of every query; off by default so the numbers measure the code.
    os.environ["DEBUG"] = "true" if debug else "false"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def peak_memory_mb() -> float:
    """Peak resident set size of this process so far (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform != "darwin" else peak / 1024 / 1024


@dataclass
class Baseline:
    members: int
    rows: int
    seconds: float

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds

    @property
    def members_per_second(self) -> float:
        return self.members / self.seconds


def naive_baseline(sample: int, *, atomic: bool, seed: int, days: int = 0) -> Baseline:
    """Create ``sample`` members one by one with ``.save()``, each with its
    ``MemberDepartment`` and, when ``days`` > 0, its punches and approvals."""
    from django.db import transaction
    from django.utils import timezone

    from organizations.models import ApprovalRecord, AttendancePunch, Department, MemberDepartment, Organization
    from organizations.services.demo_data import generators
    from organizations.services.demo_data.seeding import build_member

    organization = Organization.objects.create(name=f"Baseline {'atomic' if atomic else 'autocommit'} {days}")
    team = Department.objects.create(organization=organization, name="Team")
    team.path = team.compute_path()
    team.save(update_fields=["path"])
    rng = random.Random(seed)
    today, now = timezone.localdate(), timezone.now()
    people = generators.PersonGenerator(rng, today)
    zone = timezone.get_default_timezone()
    working_days = generators.recent_working_days(today, days)
    rows = 0

    def create_all() -> None:
        nonlocal rows
        for index in range(sample):
            person = people.person()
            position, grade = generators.position_and_grade(rng, "rd")
            member = build_member(person, organization_id=organization.pk, index=index, position=position, grade=grade)
            member.save()
            MemberDepartment(member=member, department=team, is_primary=True).save()
            rows += 2
            for day in working_days:
                for kind, hour in (("in", 9), ("out", 18)):
                    AttendancePunch(
                        organization=organization,
                        member=member,
                        punched_at=timezone.datetime(day.year, day.month, day.day, hour, tzinfo=zone),
                        kind=kind,
                        latitude=person.office.latitude,
                        longitude=person.office.longitude,
                        address=person.office.address,
                        photo_ref=generators.photo_ref(rng),
                    ).save()
                    rows += 1
            if days and rng.random() < days / 10:
                draft = generators.approval(rng)
                ApprovalRecord(
                    organization=organization,
                    applicant=member,
                    kind=draft.kind,
                    title=draft.title,
                    details=draft.details,
                    amount=draft.amount,
                    submitted_at=now,
                ).save()
                rows += 1

    started = time.perf_counter()
    if atomic:
        with transaction.atomic():
            create_all()
    else:
        create_all()
    elapsed = time.perf_counter() - started
    AttendancePunch.objects.filter(organization=organization).delete()
    ApprovalRecord.objects.filter(organization=organization).delete()
    organization.delete()
    return Baseline(sample, rows, elapsed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=5)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--baseline-sample", type=int, default=2_000, help="members in the .save() loop")
    parser.add_argument("--autocommit-sample", type=int, default=200, help="members in the autocommit loop")
    parser.add_argument("--full-sample", type=int, default=500, help="members in the full naive seeder")
    parser.add_argument("--debug", action="store_true", help="run with DEBUG=true (query logging on)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary database for inspection")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="custodia-bench-"))
    last_line = None
    try:
        configure_django(workdir, args.debug)
        from django.db import connection

        from organizations.services.demo_data.seeding import seed_demo_organization

        print(f"Python {sys.version.split()[0]}, SQLite {connection.Database.sqlite_version}, {os.cpu_count()} CPUs")
        print(f"Database: {workdir / 'bench.sqlite3'}")

        print(f"\n(a) baseline: .save() per row, member + MemberDepartment, {args.baseline_sample:,} members")
        base = naive_baseline(args.baseline_sample, atomic=True, seed=args.seed)
        print(
            f"    in one transaction: {base.rows:,} rows in {base.seconds:.2f} s = "
            f"{base.rows_per_second:,.0f} rows/s ({base.members_per_second:,.0f} members/s)"
        )
        autocommit = None
        if args.autocommit_sample:
            autocommit = naive_baseline(args.autocommit_sample, atomic=False, seed=args.seed + 1)
            print(f"    in autocommit ({args.autocommit_sample:,} members): {autocommit.rows_per_second:,.0f} rows/s")
        full = None
        if args.full_sample and args.days:
            full = naive_baseline(args.full_sample, atomic=True, seed=args.seed + 2, days=args.days)
            print(
                f"    full naive seeder with punches and approvals ({args.full_sample:,} members, one transaction): "
                f"{full.rows_per_second:,.0f} rows/s ({full.members_per_second:,.0f} members/s)"
            )
        print(f"    peak memory so far: {peak_memory_mb():,.0f} MB")

        print(f"\n(b) seed_demo_organization(members={args.members:,}, days={args.days})")
        result = seed_demo_organization(members=args.members, days=args.days, seed=args.seed, stdout=sys.stdout)
        total_rows = sum(result.counts.values())
        member_rate = result.counts["members"] / result.elapsed
        total_rate = total_rows / result.elapsed
        for name, count in result.counts.items():
            print(f"    {name:<20} {count:>12,}")
        print(f"    total rows           {total_rows:>12,}")
        print(f"    elapsed              {result.elapsed:>12.2f} s")
        print(f"    member rows/s        {member_rate:>12,.0f}")
        print(f"    total rows/s         {total_rate:>12,.0f}")
        print(f"    peak memory          {peak_memory_mb():>12,.0f} MB")
        print(f"    database size        {(workdir / 'bench.sqlite3').stat().st_size / 2**20:>12,.0f} MB")

        print("\nRatios (b)/(a):")
        print(f"    total rows/s  vs (a) in one transaction:      {total_rate / base.rows_per_second:6.1f}x")
        if autocommit:
            print(f"    total rows/s  vs (a) in autocommit:           {total_rate / autocommit.rows_per_second:6.1f}x")
        if full:
            print(f"    members/s     vs full naive seeder:           {member_rate / full.members_per_second:6.1f}x")
            naive_estimate = result.counts["members"] / full.members_per_second
            print(f"    the full naive seeder would need about {naive_estimate:,.0f} s for this roster")
        last_line = (
            f"seed_demo members={result.counts['members']} rows_per_s={total_rate:.0f} "
            f"vs_save={total_rate / base.rows_per_second:.1f}"
        )
    finally:
        if args.keep:
            print(f"\nKept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    # One machine-readable line, last (make test's benchmark smoke run checks it).
    print(last_line)


if __name__ == "__main__":
    main()
