"""Benchmark of the roster import (ORG-7) against a per-row ORM ``save()`` loop.

Run by hand, not by pytest:

    .venv/bin/python bench/roster_import.py --rows 100000 --db sqlite
    .venv/bin/python bench/roster_import.py --rows 100000 --db postgres

It builds a throwaway database -- SQLite in a temporary directory, or with ``--db
postgres`` (and no ``DATABASE_URL`` in the environment) its own PostgreSQL cluster
started from the server binaries through ``tests/servers.py`` and stopped at the end --
migrates it, generates a valid CSV of N members with the demo generators
(``organizations.services.demo_data.generators``: real-format mobiles, ID numbers, bank cards) and measures in
the same process:

(a) the baseline: ``--baseline-sample`` members (default 1,000) created one by one with
    ``Member.save()`` plus ``MemberDepartment.save()``, same values, each save in its
    own autocommit transaction -- Django's default, as an ordinary per-row import runs
    (the encrypted fields encrypt in ``get_prep_value``, the digests are computed per
    row). ``vs_save`` is relative to this. For reference the same loop wrapped in one
    transaction is also measured and printed (a faster, less realistic baseline);
(b) the import, end to end minus the HTTP upload: storing the file encrypted with the
    attestation, checking every row and writing the report and the checked rows,
    the decision, and the write in one transaction -- the same service calls the
    upload page makes, and the Celery tasks run by a real ``celery worker``
    (prefork, ``--concurrency 2`` by default: ``--workers``) that the script starts
    before timing, on a Redis server it starts too (``tests/servers.py``), sharing
    the database and the private files. The clock runs from the upload call until
    the job row says ``validated`` (polled), then from the decision until it says
    ``completed``. With ``--eager`` the tasks run in this process instead
    (``CELERY_TASK_ALWAYS_EAGER``; the parts of the check one after the other).

The last line is ``import rows_per_s=<n> vs_save=<speed-up of (b) over (a)>``.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIELDS = ("id_number", "bank_card", "hired_on", "labor_contract_status")
HEADER = (
    "name", "mobile", "department", "employee_number", "position", "office_email", "office_phone", *FIELDS,
)  # fmt: skip


def configure_django(workdir: Path, database_url: str, broker_url: str | None = None) -> None:
    """Point Django at the throwaway database and var/ directory before setup; the
    tasks go to ``broker_url``, or run in this process (eagerly, on commit) without one."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["DATABASE_URL"] = database_url
    os.environ["CUSTODIA_VAR_DIR"] = str(workdir / "var")
    os.environ["DEBUG"] = "false"  # no query log: measure the code
    if broker_url:
        os.environ["CELERY_BROKER_URL"] = broker_url
        os.environ["CELERY_TASK_ALWAYS_EAGER"] = "false"
    else:
        os.environ["CELERY_TASK_ALWAYS_EAGER"] = "true"
    import django

    django.setup()
    import logging

    from django.core.management import call_command

    for name in ("celery", "kombu"):  # one line per eager task is noise here
        logging.getLogger(name).setLevel(logging.ERROR)

    call_command("migrate", verbosity=0)


def start_postgres():
    """A throwaway PostgreSQL cluster and a DATABASE_URL for a fresh database in it."""
    sys.path.insert(0, str(ROOT))
    import psycopg

    from tests import servers

    server = servers.start_postgres()
    with psycopg.connect(host="127.0.0.1", port=server.port, user="postgres", dbname="postgres", autocommit=True) as c:
        c.execute("CREATE DATABASE bench")
    return server, f"postgres://postgres@127.0.0.1:{server.port}/bench"


def start_worker(workdir: Path, concurrency: int) -> subprocess.Popen:
    """A real ``celery worker`` (prefork) on the configured broker, database and var/
    directory (the environment ``configure_django`` set), ready before it returns."""
    from django.conf import settings

    log_path = workdir / "worker.log"
    env = {**os.environ, "SECRET_KEY": settings.SECRET_KEY}  # the worker reads what this process encrypts
    command = [
        sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=prefork", f"--concurrency={concurrency}",
        "--loglevel=INFO", "--without-gossip", "--without-mingle", "--without-heartbeat", "--hostname", "bench@%h",
    ]  # fmt: skip
    with log_path.open("w") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while "ready." not in log_path.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"the Celery worker did not start:\n{log_path.read_text(errors='replace')}")
        time.sleep(0.1)
    return process


def stop_worker(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


def wait_for(job_id: int, statuses: set[str], timeout: float = 600.0) -> str:
    """Poll the job row until its status is one of ``statuses`` (the worker's progress)."""
    from organizations.models import RosterImport

    deadline = time.monotonic() + timeout
    while True:
        status = RosterImport.objects.filter(pk=job_id).values_list("status", flat=True).get()
        if status in statuses or time.monotonic() > deadline:
            return status
        time.sleep(0.02)


def make_organization(name: str, owner_phone: str):
    from accounts.models import User
    from organizations.models import CollectionSetting, Department
    from organizations.services.registration import register_organization

    owner = User.objects.create_user(phone=owner_phone, password=None, name=f"{name} owner")
    organization = register_organization(owner, {"name": name, "kind": "enterprise"})
    root = Department.objects.get(organization=organization, parent=None)
    leaves = []
    for division in ("Sales", "Engineering", "Operations", "Finance"):
        parent = Department.objects.create(organization=organization, parent=root, name=division, depth=1)
        parent.path = parent.compute_path(root.path)
        parent.save(update_fields=["path"])
        for team in range(1, 6):
            leaf = Department.objects.create(
                organization=organization, parent=parent, name=f"{division} {team}", depth=2
            )
            leaf.path = leaf.compute_path(parent.path)
            leaf.save(update_fields=["path"])
            leaves.append(leaf)
    for field in FIELDS:
        CollectionSetting.objects.create(organization=organization, field=field, enabled=True, purpose="Payroll")
    return owner, organization, leaves


def people(rows: int, seed: int, offset: int = 0):
    from django.utils import timezone

    from organizations.services.demo_data import generators

    rng = random.Random(seed)
    generator = generators.PersonGenerator(rng, timezone.localdate())
    for index in range(rows):
        person = generator.person()
        position, _grade = generators.position_and_grade(rng, "rd")
        yield index + offset, person, position, rng


def generate_csv(rows: int, seed: int, leaves) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    names = [f"{leaf.parent.name}/{leaf.name}" for leaf in leaves]
    for index, person, position, rng in people(rows, seed):
        mobile = person.mobile[3:]  # as people type it: the national number
        writer.writerow(
            [
                person.name.display, f"{mobile[:3]} {mobile[3:7]} {mobile[7:]}", rng.choice(names),
                f"YQ{index + 1:06d}", position, person.office_email, person.office_phone,
                person.id_number, person.bank_card, person.hired_on.isoformat(), person.contract,
            ]
        )  # fmt: skip
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def baseline(sample: int, seed: int, *, one_transaction: bool) -> float:
    """Per-row ``save()`` of Member + MemberDepartment with the same kind of values.

    ``one_transaction=False`` (the baseline ``vs_save`` uses): every ``save()`` commits
    on its own, as Django's autocommit runs a per-row import by default.
    ``one_transaction=True``: the same loop inside one ``transaction.atomic()``."""
    from contextlib import nullcontext

    from django.db import transaction

    from organizations.models import Member, MemberDepartment
    from organizations.services.lookups import id_number_digest, mobile_digest

    label = "one" if one_transaction else "auto"
    phone = "+8613800000097" if one_transaction else "+8613800000098"
    _owner, organization, leaves = make_organization(f"Baseline {label} Co.", phone)
    started = time.perf_counter()
    with transaction.atomic() if one_transaction else nullcontext():
        for index, person, position, rng in people(sample, seed + 1):
            member = Member(
                organization=organization,
                status="invited",
                name=person.name.display,
                employee_number=f"B{label}{index + 1:06d}",
                position=position,
                office_email=person.office_email,
                office_phone=person.office_phone,
                mobile=person.mobile,
                mobile_digest=mobile_digest(person.mobile),
                id_number=person.id_number,
                id_number_digest=id_number_digest(person.id_number),
                bank_card=person.bank_card,
                hired_on=person.hired_on,
                labor_contract_status=person.contract,
            )
            member.save()
            MemberDepartment(member=member, department=rng.choice(leaves), is_primary=True).save()
    return sample / (time.perf_counter() - started)


def run_import(rows: int, seed: int) -> dict:
    from organizations.forms.roster_import import ATTESTATION_TEXT
    from organizations.models import ImportStatus, Member, RosterImport
    from organizations.permissions import org_access
    from organizations.services.roster_import import service as services

    owner, organization, leaves = make_organization("Import Co.", "+8613800000099")
    content = generate_csv(rows, seed, leaves)
    access = org_access(owner, organization.pk)
    started = time.perf_counter()
    job = services.start_import(
        access,
        file_name="bench.csv",
        file_format="csv",
        content=content,
        attestation_text=str(ATTESTATION_TEXT),
    )  # the check is queued on commit
    wait_for(job.pk, {ImportStatus.VALIDATED, ImportStatus.FAILED})
    checked = time.perf_counter()
    job.refresh_from_db()
    assert job.status == ImportStatus.VALIDATED, (job.status, job.last_error, job.error_preview[:3])
    assert job.valid_rows == rows, (job.valid_rows, job.error_preview[:3])
    services.decide(access, job, "all")  # the write is queued on commit
    wait_for(job.pk, {ImportStatus.COMPLETED, ImportStatus.FAILED})
    finished = time.perf_counter()
    job = RosterImport.objects.get(pk=job.pk)
    assert job.status == ImportStatus.COMPLETED, (job.status, job.last_error)
    assert Member.objects.filter(organization=organization).count() == rows
    return {
        "bytes": len(content),
        "parts": job.parts_total or 1,
        "check_s": checked - started,
        "write_s": finished - checked,
        "total_s": finished - started,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--baseline-sample", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--workers", type=int, default=2, help="worker processes of the Celery worker (prefork)")
    parser.add_argument("--eager", action="store_true", help="run the tasks in this process, no worker")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="custodia-bench-import-"))
    server = redis = worker = None
    try:
        if args.db == "postgres":
            if os.environ.get("DATABASE_URL", "").startswith("postgres"):
                database_url = os.environ["DATABASE_URL"]
            else:
                server, database_url = start_postgres()
        else:
            database_url = f"sqlite:///{workdir / 'bench.sqlite3'}"
        if not args.eager:
            sys.path.insert(0, str(ROOT))
            from tests import servers

            redis = servers.start_redis()
        configure_django(workdir, database_url, None if args.eager else redis.url)
        from django.db import connection

        if not args.eager:
            worker = start_worker(workdir, args.workers)

        save_rate = baseline(args.baseline_sample, args.seed, one_transaction=False)
        save_rate_one = baseline(args.baseline_sample, args.seed + 100, one_transaction=True)
        result = run_import(args.rows, args.seed)
        rate = args.rows / result["total_s"]
        print(f"database: {connection.vendor}")
        print(
            "tasks: in this process (eager)"
            if args.eager
            else f"tasks: a celery worker, prefork, {args.workers} processes, Redis broker"
        )
        print(f"file: {args.rows:,} rows, {result['bytes'] / 1e6:.1f} MB CSV")
        print(
            f"baseline save(): {args.baseline_sample:,} members, autocommit per save (vs_save uses this), "
            f"{save_rate:,.0f} rows/s"
        )
        print(
            f"reference save(): {args.baseline_sample:,} members in one transaction, {save_rate_one:,.0f} rows/s "
            f"(import speed-up over it: {rate / save_rate_one:.1f}x)"
        )
        print(
            f"import: check {result['check_s']:.2f} s in {result['parts']} part(s) "
            f"({args.rows / result['check_s']:,.0f} rows/s), "
            f"write {result['write_s']:.2f} s ({args.rows / result['write_s']:,.0f} rows/s), "
            f"total {result['total_s']:.2f} s"
        )
        print(f"import rows_per_s={rate:.0f} vs_save={rate / save_rate:.1f}")
    finally:
        if worker is not None:
            stop_worker(worker)
        if redis is not None:
            redis.stop()
        if server is not None:
            from django.db import connections

            connections.close_all()
            server.stop()
        if args.keep:
            print(f"kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
