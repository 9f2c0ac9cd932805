"""Benchmark of the anonymization engine (ORG-11, ANON-2): disbanding one organization
against the hand-written SQL floor and a per-row ORM loop.

Run by hand, not by pytest:

    .venv/bin/python bench/anonymize.py --members 10000 --records 100000 --db postgres
    .venv/bin/python bench/anonymize.py --members 100000 --records 1000000 --db postgres --linearity
    .venv/bin/python bench/anonymize.py --members 100000 --records 1000000 --db sqlite

It builds a source database (SQLite file in a temporary directory; for ``--db postgres``
without ``DATABASE_URL`` a throwaway, durable (fsync on, as in production) PostgreSQL
cluster started with ``tests/servers.py`` and stopped at the end), migrates it and loads, with COPY (PostgreSQL) or
``executemany`` (SQLite), a target organization of ``--members`` roster entries (every
personal column filled; the encrypted ones with ciphertexts made once and reused) and
``--records`` activity rows (attendance punches, approvals, work logs and schedule
entries, 5:1:2:2), one department placement per member, and ``--others`` times as many
rows of each kind in other organizations, **interleaved** (every key range and heap page
holds target and other rows: the worst case of perf-anchors Part 2). Then VACUUM ANALYZE.

Each measurement runs on a fresh copy of that source (PostgreSQL ``CREATE DATABASE ...
TEMPLATE``, SQLite a file copy):

- **E, the engine**: the real disband job (``anonymization.create_job`` + freeze, then
  ``dataprotection.tasks.drive_anonymization_job.apply()``: the Celery task in-process,
  as perf-anchors Part 3 recommends), timed as planning, chunks and verification, with
  the statements executed (``connection.execute_wrapper``), the slowest and p99 chunk
  transaction and, on PostgreSQL, the WAL written. It checks the report is verified and
  that no other organization's row changed.
- **P, per row**: on its own copy, what per-object libraries (django-gdpr-assist and the
  like) do: a ``save()`` (``delete()`` for delete tables) per row, each in its own
  autocommit transaction, over ``--sample`` rows per table, extrapolated to each table's
  rows; the same loop in one transaction is printed for reference.
- **B, the floor**: one statement per table of the cascade, built from the same lookups
  and the same SET values (``UPDATE ... WHERE organization`` or ``DELETE``), autocommit.

``--linearity`` repeats E and B on a source one tenth the size, in the same process.
Last line: ``anonymize rows=<n> engine_s=<s> floor_s=<s> ratio=<engine/floor>
vs_per_row=<per-row/engine>``, rows being what the engine anonymized or deleted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KINDS = (("punches", 5), ("approvals", 1), ("work_logs", 2), ("schedule", 2))
OTHER_ORGS = 8


# --------------------------------------------------------------------------- databases


class Databases:
    """The source databases and their throwaway copies."""

    def __init__(self, db: str, workdir: Path):
        self.db = db
        self.workdir = workdir
        self.server = None
        self.admin_params: dict = {}

    def configure(self) -> None:
        sys.path.insert(0, str(ROOT))
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        os.environ["CUSTODIA_VAR_DIR"] = str(self.workdir / "var")
        os.environ["DEBUG"] = "false"
        os.environ.setdefault("LANGUAGE_CODE", "en")
        if self.db == "sqlite":
            os.environ["DATABASE_URL"] = f"sqlite:///{self.workdir / 'source.sqlite3'}"
        else:
            if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
                from tests import servers

                # Durable, as in production and perf-anchors Part 2: commits flush the WAL.
                self.server = servers.start_postgres(durable=True)
                os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:{self.server.port}/postgres"
        import django

        django.setup()
        from django.db import connection

        if self.db == "postgres":
            params = dict(connection.settings_dict)
            self.admin_params = {
                "host": params["HOST"],
                "port": params["PORT"],
                "user": params["USER"],
                "password": params["PASSWORD"] or None,
                "dbname": params["NAME"],
            }
            self.admin("ALTER SYSTEM SET max_wal_size = '4GB'")
            self.admin("ALTER SYSTEM SET work_mem = '32MB'")
            self.admin("SELECT pg_reload_conf()")

    def admin(self, sql: str):
        import psycopg

        with psycopg.connect(**self.admin_params, autocommit=True) as conn:
            cursor = conn.execute(sql)
            return cursor.fetchall() if cursor.description else None

    def use(self, name: str) -> None:
        from django.db import connections

        connections.close_all()
        connections["default"].settings_dict["NAME"] = name if self.db == "postgres" else str(self.workdir / name)

    def create_source(self, name: str) -> None:
        from django.core.management import call_command

        if self.db == "postgres":
            self.admin(f"DROP DATABASE IF EXISTS {name}")
            self.admin(f"CREATE DATABASE {name}")
        self.use(name)
        call_command("migrate", verbosity=0)

    def copy(self, source: str, name: str) -> None:
        from django.db import connections

        connections.close_all()
        if self.db == "postgres":
            self.admin(f"DROP DATABASE IF EXISTS {name}")
            self.admin(f"CREATE DATABASE {name} TEMPLATE {source} STRATEGY FILE_COPY")
        else:
            shutil.copyfile(self.workdir / source, self.workdir / name)
        self.use(name)
        from django.db import connection

        with connection.cursor() as cursor:  # warm up: the copy is read once, as a live table would be
            if self.db == "postgres":
                cursor.execute("CHECKPOINT")
        self.warm()

    def warm(self) -> None:
        from django.db import connection

        from organizations.models import (
            ApprovalRecord,
            AttendancePunch,
            Member,
            MemberDepartment,
            ScheduleEntry,
            WorkLog,
        )

        with connection.cursor() as cursor:
            for model in (Member, MemberDepartment, AttendancePunch, ApprovalRecord, WorkLog, ScheduleEntry):
                cursor.execute(f"SELECT COUNT(*) FROM {model._meta.db_table}")

    def drop(self, name: str) -> None:
        from django.db import connections

        connections.close_all()
        if self.db == "postgres":
            self.admin(f"DROP DATABASE IF EXISTS {name}")
        else:
            (self.workdir / name).unlink(missing_ok=True)

    def stop(self) -> None:
        from django.db import connections

        connections.close_all()
        if self.server is not None:
            self.server.stop()


# --------------------------------------------------------------------------- seeding


def template(model, **values) -> tuple[list[str], list]:
    """Column names and database values of one row of ``model`` (computed once)."""
    from django.db import connection

    obj = model(**values)
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    return [f.column for f in fields], [f.get_db_prep_save(getattr(obj, f.attname), connection) for f in fields]


class Loader:
    """Writes rows fast: COPY on PostgreSQL, executemany on SQLite, explicit keys."""

    def __init__(self, vendor: str):
        self.vendor = vendor

    def write(self, model, columns: list[str], rows) -> int:
        from django.db import connection

        table = model._meta.db_table
        names = ["id", *columns]
        count = 0
        with connection.cursor() as cursor:
            if self.vendor == "postgresql":
                with cursor.cursor.copy(f"COPY {table} ({', '.join(names)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                        count += 1
            else:
                sql = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join(['%s'] * len(names))})"
                batch = []
                for row in rows:
                    batch.append(row)
                    if len(batch) == 20_000:
                        cursor.executemany(sql, batch)
                        count += len(batch)
                        batch = []
                if batch:
                    cursor.executemany(sql, batch)
                    count += len(batch)
        return count


def seed(members: int, records: int, others: int) -> dict:
    """The target organization and ``others``× its rows in other organizations, keys
    interleaved. Returns the target's id and row counts."""
    import datetime as dt
    from decimal import Decimal

    from django.core.management.color import no_style
    from django.db import connection, transaction
    from django.utils import timezone

    from dataprotection import crypto
    from organizations.models import (
        ApprovalRecord,
        AttendancePunch,
        Department,
        Member,
        MemberDepartment,
        Organization,
        ScheduleEntry,
        WorkLog,
    )

    loader = Loader(connection.vendor)
    now = timezone.now()
    counts: dict[str, int] = {}
    with transaction.atomic():
        target = Organization.objects.create(name="Disbanded Co.")
        other_orgs = [Organization.objects.create(name=f"Other {i}") for i in range(OTHER_ORGS)]
        orgs = [target, *other_orgs]
        roots = {}
        for org in orgs:
            root = Department.objects.create(organization=org, name=org.name)
            root.path = root.compute_path()
            root.save(update_fields=["path"])
            roots[org.pk] = root.pk

        # Members: target i, then ``others`` rows of other organizations, round-robin.
        def cipher(text: str, purpose: str) -> str:
            return crypto.encrypt(text, purpose)

        columns, base = template(
            Member,
            organization_id=target.pk,
            status="active",
            name="x",
            position="Engineer",
            grade="P5",
            labor_contract_status="regular",
            hired_on=dt.date(2020, 1, 1),
            household_registration="Hangzhou",
            school="Zhejiang University",
            major="Computer science",
            degree="bachelor",
            bank_name="ICBC",
            emergency_contact_relation="spouse",
            created_at=now,
        )
        plaintexts = {
            "mobile": "+8613900000000",
            "id_number": "110105199001011234",
            "bank_card": "6222020000000000000",
            "home_address": "1 Home Road, Hangzhou",
            "emergency_contact_phone": "+8613700000000",
        }
        encrypted = {name: cipher(text, Member._meta.get_field(name).purpose) for name, text in plaintexts.items()}
        for name, value in encrypted.items():
            base[columns.index(name)] = value
        at = {name: columns.index(name) for name in columns}
        member_ids: dict[int, list[int]] = {org.pk: [] for org in orgs}
        placements: list[tuple[int, int]] = []

        def member_rows():
            key = 0
            for i in range(members):
                for r in range(others + 1):
                    org = target if r == 0 else other_orgs[(i * others + r - 1) % OTHER_ORGS]
                    key += 1
                    row = list(base)
                    row[at["organization_id"]] = org.pk
                    row[at["name"]] = f"成员{key}"
                    row[at["employee_number"]] = f"E{key:08d}"
                    row[at["office_email"]] = f"m{key}@example.com"
                    row[at["office_phone"]] = f"0571-8{key:07d}"
                    row[at["mobile_digest"]] = f"{key:064x}"
                    row[at["id_number_digest"]] = f"{key + 7:064x}"
                    row[at["fixed_phone"]] = f"0571-6{key:07d}"
                    row[at["personal_email"]] = f"me{key}@example.net"
                    row[at["office_address"]] = f"{key} Office Road"
                    row[at["emergency_contact_name"]] = f"联系人{key}"
                    member_ids[org.pk].append(key)
                    placements.append((key, roots[org.pk]))
                    yield (key, *row)

        counts["members"] = loader.write(Member, columns, member_rows())
        md_columns, md_base = template(MemberDepartment, member_id=1, department_id=1, is_primary=True)
        counts["placements"] = loader.write(
            MemberDepartment,
            md_columns,
            ((k, member, department, md_base[2]) for k, (member, department) in enumerate(placements, 1)),
        )
        placements.clear()

        per_kind = {
            "punches": (
                AttendancePunch,
                {
                    "organization_id": target.pk,
                    "member_id": 1,
                    "punched_at": now,
                    "kind": "in",
                    "latitude": Decimal("30.274084"),
                    "longitude": Decimal("120.155070"),
                },
                lambda key: {"address": f"{key} Punch Street", "photo_ref": f"dev-{key:012d}"},
                "member_id",
            ),
            "approvals": (
                ApprovalRecord,
                {
                    "organization_id": target.pk,
                    "applicant_id": 1,
                    "kind": "leave",
                    "amount": Decimal("12.50"),
                    "submitted_at": now,
                    "status": "approved",
                    "decided_at": now,
                },
                lambda key: {"title": f"Leave {key}", "details": f"Family matters of {key}"},
                "applicant_id",
            ),
            "work_logs": (
                WorkLog,
                {"organization_id": target.pk, "member_id": 1, "day": now.date(), "created_at": now},
                lambda key: {"content": f"Worked on ticket {key} with a customer"},
                "member_id",
            ),
            "schedule": (
                ScheduleEntry,
                {"organization_id": target.pk, "member_id": 1, "starts_at": now, "ends_at": now},
                lambda key: {"title": f"Meeting {key}", "location": f"Room {key % 977}"},
                "member_id",
            ),
        }
        weights = sum(weight for _kind, weight in KINDS)
        for kind, weight in KINDS:
            model, fixed, varying, member_column = per_kind[kind]
            columns, base = template(model, **fixed)
            at = {name: columns.index(name) for name in columns}
            target_rows = records * weight // weights

            def rows(model=model, base=base, at=at, varying=varying, member_column=member_column, n=target_rows):
                key = 0
                for j in range(n):
                    for r in range(others + 1):
                        org = target if r == 0 else other_orgs[(j * others + r - 1) % OTHER_ORGS]
                        ids = member_ids[org.pk]
                        key += 1
                        row = list(base)
                        row[at["organization_id"]] = org.pk
                        row[at[member_column]] = ids[j % len(ids)]
                        for name, value in varying(key).items():
                            row[at[name]] = value
                        yield (key, *row)

            counts[kind] = loader.write(model, columns, rows())
        models = [Member, MemberDepartment, AttendancePunch, ApprovalRecord, WorkLog, ScheduleEntry]
        with connection.cursor() as cursor:
            for sql in connection.ops.sequence_reset_sql(no_style(), models):
                cursor.execute(sql)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    return {"target": target.pk, "counts": counts}


# --------------------------------------------------------------------------- measuring


class Statements:
    """Counts statements through ``connection.execute_wrapper``: in total, and per
    thread (``mine``) so that a chunk's count is not mixed with another driver's."""

    def __init__(self):
        self.count = 0
        self._local = threading.local()

    @property
    def mine(self) -> int:
        return getattr(self._local, "count", 0)

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        self._local.count = self.mine + 1
        return execute(sql, params, many, context)


@contextmanager
def patched(module, name, wrapper):
    original = getattr(module, name)
    setattr(module, name, wrapper(original))
    try:
        yield
    finally:
        setattr(module, name, original)


def wal_lsn():
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()")
        return cursor.fetchone()[0]


def wal_since(lsn) -> int | None:
    from django.db import connection

    if lsn is None:
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s)", [lsn])
        return int(cursor.fetchone()[0])


def other_rows_fingerprint(target_id: int) -> dict:
    """Row counts and anonymized-value counts of the other organizations' rows: the
    cascade must change none of them."""
    from dataprotection.personal_data import ANONYMIZED
    from organizations.models import ApprovalRecord, AttendancePunch, Member, MemberDepartment, ScheduleEntry, WorkLog

    result = {}
    for model in (Member, AttendancePunch, ApprovalRecord, WorkLog, ScheduleEntry):
        others = model.objects.exclude(organization_id=target_id)
        result[model.__name__] = others.count()
    result["placements"] = MemberDepartment.objects.exclude(member__organization_id=target_id).count()
    result["anonymized_members"] = Member.objects.exclude(organization_id=target_id).filter(name=ANONYMIZED).count()
    result["left_members"] = Member.objects.exclude(organization_id=target_id).filter(status="left").count()
    result["blank_punches"] = AttendancePunch.objects.exclude(organization_id=target_id).filter(address="").count()
    return result


def run_engine(target_id: int, drivers: int) -> dict:
    """E: the disband job through the Celery task function, in-process, with ``drivers``
    drivers at once (``ANONYMIZATION_PARALLEL_TASKS``, as ``enqueue_drivers`` starts)."""
    from django.db import connection

    from dataprotection import anonymization
    from dataprotection.models import AnonymizationJob, JobKind, JobStatus
    from dataprotection.tasks import drive_anonymization_job
    from organizations.models import Organization, OrganizationStatus

    before = other_rows_fingerprint(target_id)
    # The steps that must grow no faster than the data (the 1,000,000-member scale run): planning
    # (its chunk bounds, then the value scan's kept values and copies), the chunks, and
    # verification (the residue counts, then the value scan again), then the report.
    timings = {
        "plan": 0.0,
        "verify": 0.0,
        "erase": 0.0,
        "bounds": 0.0,
        "kept_values": 0.0,
        "find_copies": 0.0,
        "scan_values": 0.0,
        "complete": 0.0,
    }
    chunk_times: list[float] = []
    chunk_statements: list[int] = []
    counter = Statements()

    def timed(key):
        def wrap(original):
            def inner(*args, **kwargs):
                started = time.perf_counter()
                try:
                    return original(*args, **kwargs)
                finally:
                    timings[key] += time.perf_counter() - started

            return inner

        return wrap

    def per_chunk(original):
        def inner(*args, **kwargs):
            started, statements = time.perf_counter(), counter.mine
            try:
                return original(*args, **kwargs)
            finally:
                chunk_times.append(time.perf_counter() - started)
                chunk_statements.append(counter.mine - statements)

        return inner

    lsn = wal_lsn()
    started = time.perf_counter()
    with (
        connection.execute_wrapper(counter),
        patched(anonymization, "plan", timed("plan")),
        patched(anonymization, "verify", timed("verify")),
        patched(anonymization, "_erase_files", timed("erase")),
        patched(anonymization, "_run_chunk", per_chunk),
        patched(anonymization, "chunk_bounds", timed("bounds")),
        patched(anonymization, "kept_values", timed("kept_values")),
        patched(anonymization, "find_copies", timed("find_copies")),
        patched(anonymization, "scan_values", timed("scan_values")),
        patched(anonymization, "_verify_and_complete", timed("complete")),
    ):
        Organization.objects.filter(pk=target_id).update(status=OrganizationStatus.FROZEN)
        job = anonymization.create_job(JobKind.DISBAND, organization_id=target_id, label="bench")
        outcomes = []

        def driver():
            # What ``enqueue_drivers`` starts on the workers: each driver its own database
            # connection (Django's are per thread), claiming chunks until the job ends.
            with connection.execute_wrapper(counter):
                while True:
                    outcome = drive_anonymization_job.apply(args=(job.pk,)).get()
                    status = AnonymizationJob.objects.filter(pk=job.pk).values_list("status", flat=True).get()
                    if outcome == "finished" or status in {JobStatus.COMPLETED, JobStatus.FAILED}:
                        outcomes.append(outcome)
                        break
                    time.sleep(0.02)  # another driver holds the last chunks of a phase
            connection.close()

        threads = [threading.Thread(target=driver) for _ in range(drivers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        outcome = "finished" if "finished" in outcomes else outcomes[:1]
    total = time.perf_counter() - started
    wal = wal_since(lsn)
    job = AnonymizationJob.objects.get(pk=job.pk)
    assert outcome == "finished" and job.status == JobStatus.COMPLETED, (outcome, job.status, job.last_error)
    assert job.report["verified"] and job.report["rows_left"] == 0, job.report
    after = other_rows_fingerprint(target_id)
    assert after == before, (before, after)
    chunk_times.sort()
    chunks = len(chunk_times)
    return {
        "seconds": total,
        "plan_s": timings["plan"],
        "verify_s": timings["verify"],
        "chunks_s": total - timings["plan"] - timings["verify"],
        "chunk_tx_s": sum(chunk_times),
        "erase_files_s": timings["erase"],
        "plan_bounds_s": timings["bounds"],
        "plan_kept_values_s": timings["kept_values"],
        "plan_find_copies_s": timings["find_copies"],
        "verify_value_scan_s": timings["scan_values"],
        "verify_residue_s": timings["verify"] - timings["scan_values"],
        "report_s": timings["complete"] - timings["verify"],
        "drivers": drivers,
        "chunks": chunks,
        "chunk_max_ms": chunk_times[-1] * 1000 if chunks else 0,
        "chunk_p99_ms": chunk_times[min(chunks - 1, int(chunks * 0.99))] * 1000 if chunks else 0,
        "statements": counter.count,
        "statements_per_chunk_tx": statistics.mean(chunk_statements) if chunks else 0,
        "statements_per_chunk": (counter.count / chunks) if chunks else 0,
        "rows": sum(stage["changed"] for stage in job.report["stages"]),
        "stages": {s["model"]: s["changed"] for s in job.report["stages"] if s["changed"]},
        "wal_bytes": wal,
    }


def floor_statements(target_id: int):
    """(label, action, queryset, values) per table of the cascade: the same lookups and
    SET values as the engine's stages."""
    from dataprotection import anonymization
    from dataprotection.models import StageAction
    from organizations.services.disband import disband_stages

    for spec in disband_stages(target_id):
        model = anonymization.model_of(spec.model)
        action = spec.action or anonymization.default_action(model)
        queryset = anonymization.base_queryset(model).filter(**spec.lookup)
        values = anonymization.treatment(model, spec.extra).constants
        yield spec.model, action, queryset, values, StageAction


def run_floor(target_id: int) -> dict:
    """B: one UPDATE (or DELETE) per table, autocommit."""
    from django.db import connection, models

    counter = Statements()
    rows = 0
    per_table = {}
    lsn = wal_lsn()
    started = time.perf_counter()
    with connection.execute_wrapper(counter):
        for label, action, queryset, values, StageAction in floor_statements(target_id):
            if action == StageAction.DELETE:
                changed = queryset._raw_delete(queryset.db)
            else:
                changed = models.QuerySet.update(queryset, **values)
            rows += changed
            if changed:
                per_table[label] = changed
    total = time.perf_counter() - started
    return {
        "seconds": total,
        "rows": rows,
        "statements": counter.count,
        "stages": per_table,
        "wal_bytes": wal_since(lsn),
    }


def run_per_row(target_id: int, sample: int) -> dict:
    """P: what per-object libraries do: load each row, set the values, ``save()`` it
    (``delete()`` for delete tables), each in its own autocommit transaction (Django's
    default), over ``sample`` rows per table; extrapolated to each table's rows. Runs on
    its own copy. The same loop inside one transaction (the loop's best case, not what
    those libraries do) is timed too, for reference."""
    from django.db import transaction

    estimated = estimated_one_tx = 0.0
    timed_rows = 0
    per_table = {}
    for label, action, queryset, values, StageAction in floor_statements(target_id):
        rows = queryset.count()
        if not rows:
            continue
        ids = list(queryset.order_by("pk").values_list("pk", flat=True)[: 2 * sample])
        timings = []
        for batch, one_transaction in ((ids[:sample], False), (ids[sample:], True)):
            if not batch:
                continue
            objects = queryset.model._default_manager.filter(pk__in=batch).order_by("pk")
            started = time.perf_counter()
            with transaction.atomic() if one_transaction else _nothing():
                done = 0
                for obj in objects.iterator(chunk_size=500):
                    if action == StageAction.DELETE:
                        obj.delete()
                    else:
                        for name, value in values.items():
                            setattr(obj, name, value)
                        obj.save()
                    done += 1
            timings.append((one_transaction, (time.perf_counter() - started) / done, done))
        for one_transaction, seconds_per_row, done in timings:
            if one_transaction:
                estimated_one_tx += rows * seconds_per_row
            else:
                timed_rows += done
                per_table[label] = round(rows * seconds_per_row, 2)
                estimated += rows * seconds_per_row
    return {
        "seconds": estimated,
        "seconds_one_transaction": estimated_one_tx,
        "sampled_rows": timed_rows,
        "stages": per_table,
    }


@contextmanager
def _nothing():
    yield


# --------------------------------------------------------------------------- driver


def measure(
    databases: Databases, source: str, target_id: int, sample: int, with_per_row: bool, drivers: list[int]
) -> dict:
    """P (first round only), B, then E once per driver count, each on a fresh copy."""
    per_row = None
    if with_per_row:
        databases.copy(source, "anon_per_row")
        per_row = run_per_row(target_id, sample)
        databases.drop("anon_per_row")
    databases.copy(source, "anon_floor")
    floor = run_floor(target_id)
    databases.drop("anon_floor")
    engines = {}
    for count in drivers:
        databases.copy(source, "anon_engine")
        engines[count] = run_engine(target_id, count)
        databases.drop("anon_engine")
    return {"engine": engines[drivers[0]], "engines": engines, "floor": floor, "per_row": per_row}


def build(databases: Databases, name: str, members: int, records: int, others: int) -> dict:
    started = time.perf_counter()
    databases.create_source(name)
    seeded = seed(members, records, others)
    from django.db import connection

    size = None
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_database_size(current_database())")
            size = cursor.fetchone()[0]
    else:
        size = (databases.workdir / name).stat().st_size
    seeded["seconds"] = time.perf_counter() - started
    seeded["bytes"] = size
    print(
        f"seeded {name}: {json.dumps(seeded['counts'])} in {seeded['seconds']:.1f}s, {size / 2**20:.0f} MB",
        flush=True,
    )
    return seeded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--others", type=int, default=4, help="rows in other organizations per target row")
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="postgres")
    parser.add_argument("--chunk", type=int, default=None, help="ANONYMIZATION_CHUNK_ROWS (default: the setting)")
    parser.add_argument("--sample", type=int, default=2_000, help="rows per table for the per-row loop")
    parser.add_argument("--repeat", type=int, default=1, help="B/E rounds on fresh copies (medians reported)")
    parser.add_argument("--linearity", action="store_true", help="also run at 1/10 size and print the ratio")
    parser.add_argument(
        "--drivers",
        default=None,
        help="drivers at once (default: ANONYMIZATION_PARALLEL_TASKS); a list such as 2,1,4 times the engine "
        "once per count, each on a fresh copy (the first is the one in the ratio)",
    )
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="custodia-bench-anonymize-"))
    databases = Databases(args.db, workdir)
    databases.configure()
    try:
        run(args, databases)
    finally:
        databases.stop()
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def summary(rounds: list[dict]) -> dict:
    def med(path):
        values = [r[path[0]][path[1]] for r in rounds if r[path[0]] is not None]
        return statistics.median(values) if values else None

    def span(path):
        values = [r[path[0]][path[1]] for r in rounds if r[path[0]] is not None]
        return (min(values), max(values)) if values else None

    return {
        "engine_s": med(("engine", "seconds")),
        "engine_range": span(("engine", "seconds")),
        "floor_s": med(("floor", "seconds")),
        "floor_range": span(("floor", "seconds")),
        "per_row_s": med(("per_row", "seconds")),
        "ratios": [r["engine"]["seconds"] / r["floor"]["seconds"] for r in rounds],
    }


def run(args, databases: Databases) -> None:
    from django.conf import settings

    if args.chunk:
        settings.ANONYMIZATION_CHUNK_ROWS = args.chunk
    drivers = [int(n) for n in args.drivers.split(",")] if args.drivers else [settings.ANONYMIZATION_PARALLEL_TASKS]
    sizes = [("anon_source", args.members, args.records)]
    if args.linearity:
        sizes.append(("anon_small", max(1, args.members // 10), max(1, args.records // 10)))
    if args.db == "sqlite":
        sizes = [(f"{name}.sqlite3", m, r) for name, m, r in sizes]
    results = {}
    for name, members, records in sizes:
        seeded = build(databases, name, members, records, args.others)
        rounds = []
        for index in range(args.repeat):
            result = measure(databases, name, seeded["target"], args.sample, index == 0, drivers)
            result.update(
                drivers=drivers, db=args.db, source=name, members=members, records=records, others=args.others
            )
            result["chunk_rows"] = settings.ANONYMIZATION_CHUNK_ROWS
            print(json.dumps(result, default=str), flush=True)
            rounds.append(result)
        results[name] = (rounds, summary(rounds))
        databases.drop(name)

    name = sizes[0][0]
    rounds, main_summary = results[name]
    engine = rounds[0]["engine"]
    per_row_s = rounds[0]["per_row"]["seconds"]
    print()
    print(f"db={args.db} members={args.members:,} records={args.records:,} others={args.others}x "
          f"chunk={settings.ANONYMIZATION_CHUNK_ROWS} rounds={args.repeat} "
          f"drivers={','.join(map(str, drivers))}")  # fmt: skip
    print(f"{'measure':34} {'seconds':>10} {'rows/s':>10}  note")
    rows = engine["rows"]

    def line(label, seconds, note=""):
        rate = f"{rows / seconds:,.0f}" if seconds else "-"
        print(f"{label:34} {seconds:>10.2f} {rate:>10}  {note}")

    er, fr = main_summary["engine_range"], main_summary["floor_range"]
    line("E engine, total (median)", main_summary["engine_s"], f"range {er[0]:.2f}-{er[1]:.2f}")
    line("  planning (ROW_NUMBER pass)", engine["plan_s"])
    line(
        "  chunks (claim+apply+mark)",
        engine["chunks_s"],
        f"{engine['chunks']} chunks, tx sum {engine['chunk_tx_s']:.2f}s",
    )
    line("    of which file-reference scan", engine["erase_files_s"], "SELECT + Python loop over ERASE_FILE columns")
    line("    of which chunk bounds", engine["plan_bounds_s"])
    line("    of which kept values (scan)", engine["plan_kept_values_s"])
    line("    of which copies found (scan)", engine["plan_find_copies_s"])
    line("  verification", engine["verify_s"])
    line("    of which residue counts", engine["verify_residue_s"])
    line("    of which value scan", engine["verify_value_scan_s"])
    line("  report and completion", engine["report_s"])
    line("B floor, 1 statement/table (median)", main_summary["floor_s"], f"range {fr[0]:.2f}-{fr[1]:.2f}")
    line(
        "P per-row save(), autocommit",
        per_row_s,
        f"{rounds[0]['per_row']['sampled_rows']} rows timed, extrapolated",
    )
    line("  (same loop in one transaction)", rounds[0]["per_row"]["seconds_one_transaction"], "for reference")
    print(
        f"chunk tx max {engine['chunk_max_ms']:.0f} ms, p99 {engine['chunk_p99_ms']:.0f} ms; "
        f"statements {engine['statements']} ({engine['statements_per_chunk']:.1f}/chunk overall, "
        f"{engine['statements_per_chunk_tx']:.1f} inside each chunk transaction); "
        f"floor statements {rounds[0]['floor']['statements']}"
    )
    if engine["wal_bytes"] is not None:
        print(
            f"WAL engine {engine['wal_bytes'] / 2**20:.0f} MB, floor {rounds[0]['floor']['wal_bytes'] / 2**20:.0f} MB"
        )
    print("ratios per round: " + ", ".join(f"{r:.2f}" for r in main_summary["ratios"]))
    by_drivers = {}
    if len(drivers) > 1:
        for count in drivers:
            seconds = statistics.median(r["engines"][count]["seconds"] for r in rounds)
            by_drivers[count] = seconds
            ratio_to_floor = seconds / main_summary["floor_s"]
            print(f"engine with {count} driver(s): {seconds:.2f}s (ratio to the floor {ratio_to_floor:.2f})")
    # For reading vs_per_row: the single hand-written statement's own speed-up over the
    # same per-row loop, measured in the same run.
    print(f"floor vs per-row (single statement / per-row loop): {per_row_s / main_summary['floor_s']:.1f}")
    if args.linearity:
        small_name = sizes[1][0]
        small_rounds, small = results[small_name]
        print(
            f"linearity (10x data): engine {main_summary['engine_s'] / small['engine_s']:.2f}x, "
            f"floor {main_summary['floor_s'] / small['floor_s']:.2f}x "
            f"(small: engine {small['engine_s']:.2f}s, floor {small['floor_s']:.2f}s)"
        )
        small_engine = small_rounds[0]["engine"]
        steps = ("plan_s", "plan_bounds_s", "plan_kept_values_s", "plan_find_copies_s", "chunks_s", "verify_s",
                 "verify_residue_s", "verify_value_scan_s", "report_s")  # fmt: skip
        print(
            "linearity per step (10x data): "
            + ", ".join(
                f"{step[:-2]} {engine[step] / small_engine[step]:.1f}x"
                if small_engine[step] > 0.005
                else f"{step[:-2]} -"
                for step in steps
            )
        )
    ratio = main_summary["engine_s"] / main_summary["floor_s"]
    print(
        f"anonymize rows={rows} engine_s={main_summary['engine_s']:.2f} floor_s={main_summary['floor_s']:.2f} "
        f"ratio={ratio:.2f} vs_per_row={per_row_s / main_summary['engine_s']:.1f}"
        + ("".join(f" drivers{count}_s={seconds:.2f}" for count, seconds in by_drivers.items()))
    )


if __name__ == "__main__":
    main()
