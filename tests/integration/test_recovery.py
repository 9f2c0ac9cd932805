"""Fault injection: every background job resumes within seconds of a worker, broker or
database fault, and ends exactly as a run without a fault (ANON-2 "resumable after a
crash, idempotent"; ANON-7; the roster import, ORG-7; an access request's archive,
REQ-7).

Real PostgreSQL (the session's throwaway cluster, stopped with ``-m immediate`` and
started again mid-run), real Redis (restarted without persistence: every queued and
unacknowledged message lost), two real ``celery worker`` processes (prefork, as in
production; killed with SIGKILL, the whole process group) and a real ``celery beat``
sending the recovery sweep. Each fault is injected at a named point of the work
(``dataprotection.liveness.checkpoint``, tests/integration/faults.py): while a cascade
is planned, mid-chunk, while it is verified; while a roster file is checked and while
it is written; while an archive is built.

Each case compares its end with a clean run of the same seed -- the same rows, the same
anonymized values, the same report counts, nothing left of the disbanded organization,
the other organization byte-identical; the same roster entries, each imported once; the
same archive -- and asserts that the job moved again within ``RECOVERY_LIMIT`` seconds
of the fault clearing (workers restarted, the database or the broker back). The workers
run with short liveness limits (a heartbeat every second, stale after three, a sweep
every second) and a tiny organization, so each case takes seconds.

Needs ``--postgres`` (the database is restarted under the suite): ``make test`` runs it
in ``make pytest-postgres`` and leaves it out of the SQLite run.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.db import transaction
from django.utils import timezone, translation

from accounts.models import User
from dataprotection import anonymization, audit_chain, files
from dataprotection.models import AnonymizationChunk, AnonymizationJob, AuditEvent, ChunkStatus, JobKind, JobStatus
from dataprotection.tasks import enqueue_drivers
from organizations.models import ImportStatus, Member, MemberDepartment, Organization, OrganizationStatus, RosterImport
from organizations.permissions import org_access
from organizations.services.roster_import import service
from requests.models import DataSubjectRequest, ExportArchive, ExportStatus, RequestKind
from requests.services import fulfilment
from tests.anonymization_data import job_content, populate, residue, snapshot, stage_counters
from tests.conftest import celery_on_broker, database_url_for_subprocess, require
from tests.factories import OrganizationFactory, UserFactory
from tests.integration.faults import (
    Clock,
    Cluster,
    Fault,
    kill_workers,
    reconnect,
    restart_postgres,
    restart_redis,
    run_with,
)
from tests.organizations.test_roster_import import csv_bytes, good_rows

pytestmark = [pytest.mark.realservices, pytest.mark.faultinjection]

HEARTBEAT_SECONDS = 1
STALE_SECONDS = 3
SWEEP_SECONDS = 1
CHUNK_ROWS = 20
RECOVERY_LIMIT = 30.0  # the bound: the job moves again within 30 s of the fault clearing
OUTAGE_SECONDS = 2.0  # how long the database or the broker stays away

# The clean run of each scenario, computed once per session by the first case that
# needs it: its signature (what the end state must be) and how long it took.
CLEAN: dict[str, tuple[dict, float]] = {}


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def postgres(request):
    if not request.config.getoption("--postgres"):
        require("the fault-injection suite restarts PostgreSQL under the test: run it with --postgres")
    return request.getfixturevalue("postgres_server")


@pytest.fixture(scope="module")
def workers(postgres, redis_server, django_db_setup, django_db_blocker, tmp_path_factory):
    """Beat and two workers on the session's Redis and PostgreSQL test database, with
    the liveness limits of the suite, started once for the module (a case that kills
    the workers starts new ones)."""
    folder = tmp_path_factory.mktemp("faults")
    with django_db_blocker.unblock():
        database_url = database_url_for_subprocess()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": redis_server.url,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "CELERY_TASK_SOFT_TIME_LIMIT": "60",
        "CELERY_TASK_TIME_LIMIT": "90",
        "ANONYMIZATION_CHUNK_ROWS": str(CHUNK_ROWS),
        "ANONYMIZATION_TASK_BUDGET_SECONDS": "2",
        "ANONYMIZATION_PARALLEL_TASKS": "2",
        "JOB_HEARTBEAT_SECONDS": str(HEARTBEAT_SECONDS),
        "JOB_STALE_SECONDS": str(STALE_SECONDS),
        "JOB_SWEEP_SECONDS": str(SWEEP_SECONDS),
        "JOB_DATABASE_RETRY_SECONDS": "45",
        "DISBAND_GRACE_DAYS": "0",
        "PRIVATE_MEDIA_ROOT": str(folder / "private"),
        "CUSTODIA_VAR_DIR": str(folder / "var"),
        "SMS_BACKEND": "accounts.services.sms_gateway.FileBackend",
        "SMS_FILE_PATH": str(folder / "sms.jsonl"),
        "SECRET_KEY": django_settings.SECRET_KEY,
        "LANGUAGE_CODE": "en",
    }
    purge(redis_server.url)
    faults = Cluster(env=env, folder=folder)
    try:
        faults.start_beat()
        faults.start_workers(2)
        yield faults
    finally:
        faults.stop()
        purge(redis_server.url)


@pytest.fixture
def cluster(workers, transactional_db, settings, redis_server):
    """The module's workers for one case; this process shares their settings and file
    store. Nothing armed, nothing queued, two live workers."""
    settings.JOB_HEARTBEAT_SECONDS = HEARTBEAT_SECONDS
    settings.JOB_STALE_SECONDS = STALE_SECONDS
    settings.JOB_SWEEP_SECONDS = SWEEP_SECONDS
    settings.ANONYMIZATION_CHUNK_ROWS = CHUNK_ROWS
    settings.DISBAND_GRACE_DAYS = 0
    settings.PRIVATE_MEDIA_ROOT = workers.folder / "private"
    workers.release()
    if len(workers.alive()) < 2:  # a case that failed half-way
        workers.kill_workers()
        workers.start_workers(2)
    purge(redis_server.url)
    yield workers
    workers.release()
    reconnect()
    purge(redis_server.url)


def sealed_snapshot(organization_id: int) -> dict:
    """Every row of the organization, once its audit events are sealed into the hash
    chain: the sealer (beat, every minute) links new events whenever it runs, which is
    no change of the organization's data (SEC-2)."""
    audit_chain.seal_audit_chain()
    return snapshot(organization_id)


def purge(broker_url: str) -> None:
    with celery_on_broker(broker_url) as app:
        app.control.purge()


def report(case: str, clock: Clock, clean_seconds: float) -> None:
    """One line per case, read by the benchmark notes (bench/README.md)."""
    if clock.fault_at is None:
        print(f"recovery case={case} clean total_s={clock.total:.1f}")
        return
    print(
        f"recovery case={case} outage_s={clock.outage:.1f} recovery_s={clock.recovery:.1f} "
        f"stalled_s={clock.stalled:.1f} total_s={clock.total:.1f} clean_s={clean_seconds:.1f}"
    )


def assert_recovered_in_time(case: str, clock: Clock) -> None:
    """The job moved within ``RECOVERY_LIMIT`` of the fault clearing, and never stood
    still (no progress, no heartbeat) for longer than that afterwards."""
    assert clock.recovery <= RECOVERY_LIMIT, f"{case}: recovered {clock.recovery:.1f} s after the fault cleared"
    assert clock.stalled <= RECOVERY_LIMIT, f"{case}: stood still for {clock.stalled:.1f} s after the fault"


# --------------------------------------------------------------------------- the cascade


def seed_disband(run: int):
    """A small organization with a row in every table (one member with an account that
    also belongs to the other organization), and the other organization. ``run`` keeps
    the values of a clean and a faulted run in one database apart (they are personal
    values: the cascade replaces them, so the end states compare equal)."""
    shared = UserFactory()
    target = OrganizationFactory(name="Recovery Co.")
    data = populate(target, members=40, records_per_member=3, users=[shared], tag=f"rec{run}")
    other = OrganizationFactory(name="Bystander Co.")
    populate(other, members=8, records_per_member=2, users=[shared], tag=f"oth{run}")
    return target, data, other


def disband_signature(job: AnonymizationJob) -> dict:
    report = job.report
    return {
        "content": job_content(job),  # every value the engine wrote, and every kept column
        "counters": stage_counters(job),  # total, processed, changed, files erased per stage
        "report": [(s["model"], s["planned"], s["changed"], s["files_erased"], s["left"]) for s in report["stages"]],
        "value_scan": [report["value_scan"][key] for key in ("values", "columns", "matches")],
    }


def run_disband(cluster: Cluster, fault: Fault | None, **servers) -> tuple[dict, Clock]:
    target, data, other = seed_disband(0 if fault is None else 1)
    other_before = sealed_snapshot(other.pk)
    accounts_before = list(User.objects.order_by("pk").values())
    Organization.objects.filter(pk=target.pk).update(status=OrganizationStatus.FROZEN)
    job = anonymization.create_job(JobKind.DISBAND, organization_id=target.pk, label=target.name)

    def start():
        with celery_on_broker(servers["redis"].url):
            enqueue_drivers(job.pk, on_commit=False)

    def marker():
        status = AnonymizationJob.objects.filter(pk=job.pk).values_list("status", flat=True).get()
        return status, AnonymizationChunk.objects.filter(job_id=job.pk, status=ChunkStatus.DONE).count()

    def done():
        return AnonymizationJob.objects.filter(pk=job.pk, status__in=[JobStatus.COMPLETED, JobStatus.FAILED]).exists()

    def alive():
        return AnonymizationJob.objects.filter(pk=job.pk).values_list("heartbeat_at", flat=True).get()

    clock = run_with(cluster, fault, start, marker, done, progress_timeout=RECOVERY_LIMIT + 30, alive=alive, **servers)
    job.refresh_from_db()
    if fault is not None:
        fault.expect(job)
    # ANON-7: completed and verified; every chunk done and counted once; nothing left.
    assert job.status == JobStatus.COMPLETED, (job.last_error, cluster.logs())
    assert job.report["verified"] is True and job.report["rows_left"] == 0
    assert not AnonymizationChunk.objects.filter(job=job).exclude(status=ChunkStatus.DONE).exists()
    for label, (total, processed, _changed, _files) in stage_counters(job).items():
        assert processed == total, label
    assert residue(target.pk, data.values) == []
    assert Organization.objects.get(pk=target.pk).status == OrganizationStatus.DISBANDED
    assert AuditEvent.objects.filter(action="organization.disbanded", organization_id=target.pk).count() == 1
    root = django_settings.PRIVATE_MEDIA_ROOT
    assert [name for name in data.files if (root / name).exists()] == []
    # The other organization and the personal accounts, byte for byte.
    assert snapshot(other.pk) == other_before
    assert list(User.objects.order_by("pk").values()) == accounts_before
    return disband_signature(job), clock


def chunk_attempts(job: AnonymizationJob) -> list[int]:
    return sorted(set(AnonymizationChunk.objects.filter(job=job).values_list("attempts", flat=True)))


def step_taken_over(job: AnonymizationJob) -> None:
    """The planning or the verification was taken over from a dead worker: one attempt."""
    assert job.attempts == 1, job.attempts
    assert chunk_attempts(job) == [1]


def chunks_taken_over(job: AnonymizationJob) -> None:
    """The chunks the killed (or cancelled) workers held were taken over: applied
    once more each, counted once (the counters are checked for every case)."""
    assert chunk_attempts(job) == [1, 2]
    assert job.attempts == 0


def outage_costs_nothing(job: AnonymizationJob) -> None:
    """The database outage was waited out: no chunk, no step used an attempt."""
    assert chunk_attempts(job) == [1]
    assert job.attempts == 0


DISBAND_FAULTS = [
    Fault("workers killed while planning", "anonymization.planning", 1, kill_workers, step_taken_over),
    Fault("workers killed mid-chunk", "anonymization.chunk", 6, kill_workers, chunks_taken_over),
    Fault("workers killed while verifying", "anonymization.verifying", 1, kill_workers, step_taken_over),
    Fault("postgres restarted mid-chunk", "anonymization.chunk", 6, restart_postgres, outage_costs_nothing),
    Fault("redis restarted mid-chunk", "anonymization.chunk", 6, restart_redis, chunks_taken_over),
]


@pytest.mark.parametrize("fault", DISBAND_FAULTS, ids=lambda fault: fault.name.replace(" ", "-"))
def test_a_disband_survives(fault, cluster, postgres, redis_server):
    """ANON-2, ANON-7: the cascade completes, verified, exactly as a clean run of the
    same seed, and moves again within seconds of the fault clearing."""
    servers = {"postgres": postgres, "redis": redis_server, "outage": OUTAGE_SECONDS}
    if "disband" not in CLEAN:
        signature, clock = run_disband(cluster, None, **servers)
        report("disband", clock, clock.total)
        CLEAN["disband"] = (signature, clock.total)
    clean, clean_seconds = CLEAN["disband"]
    signature, clock = run_disband(cluster, fault, **servers)
    report(f"disband/{fault.name}", clock, clean_seconds)
    assert signature == clean
    assert_recovered_in_time(fault.name, clock)


# --------------------------------------------------------------------------- the roster import


IMPORT_ROWS = 30


def import_signature(organization, job: RosterImport) -> dict:
    members = Member.objects.filter(organization=organization, name__startswith="Person ")
    places = dict(MemberDepartment.objects.filter(member__in=members).values_list("member_id", "department__name"))
    rows = sorted((m.name, m.mobile, m.employee_number, m.status, places.get(m.pk)) for m in members)
    return {
        "rows": rows,  # each imported once: the count, the values, the placements
        "counts": (job.total_rows, job.valid_rows, job.error_rows, job.imported_rows),
        "events": AuditEvent.objects.filter(action="roster.imported", target_id=str(job.pk)).count(),
    }


def run_import(cluster: Cluster, cast, check_fault: Fault | None, write_fault: Fault | None, **servers):
    access = org_access(cast.owner, cast.organization.pk)
    other = OrganizationFactory(name="Bystander Co.")
    populate(other, members=3, records_per_member=1, tag=f"imp{RosterImport.objects.count()}")
    bystander = sealed_snapshot(other.pk)
    holder: dict = {}

    def upload():
        with celery_on_broker(servers["redis"].url), translation.override("en"):
            holder["job"] = service.start_import(
                access, file_name="roster.csv", file_format="csv", content=csv_bytes(good_rows(IMPORT_ROWS)),
                attestation_text="They agreed.",
            )  # fmt: skip

    def decide():
        job = RosterImport.objects.get(pk=holder["job"].pk)
        with celery_on_broker(servers["redis"].url), translation.override("en"):
            assert service.decide(access, job, "all")

    def marker():
        return RosterImport.objects.filter(pk=holder["job"].pk).values_list("status", "processed_rows", "worker").get()

    def status_is(*statuses):
        return lambda: RosterImport.objects.filter(pk=holder["job"].pk, status__in=statuses).exists()

    def alive():
        return RosterImport.objects.filter(pk=holder["job"].pk).values_list("heartbeat_at", flat=True).get()

    checked = run_with(cluster, check_fault, upload, marker, status_is(ImportStatus.VALIDATED, ImportStatus.FAILED),
                       progress_timeout=RECOVERY_LIMIT + 30, alive=alive, **servers)  # fmt: skip
    job = RosterImport.objects.get(pk=holder["job"].pk)
    assert job.status == ImportStatus.VALIDATED, (job.last_error, cluster.logs())
    written = run_with(cluster, write_fault, decide, marker, status_is(ImportStatus.COMPLETED, ImportStatus.FAILED),
                       progress_timeout=RECOVERY_LIMIT + 30, alive=alive, **servers)  # fmt: skip
    job.refresh_from_db()
    assert job.status == ImportStatus.COMPLETED, (job.last_error, cluster.logs())
    if write_fault is not None:
        write_fault.expect(job)
    assert job.worker == "" and job.file_ref == ""
    assert snapshot(other.pk) == bystander
    return import_signature(cast.organization, job), checked, written


def attempts_are(count: int) -> Callable:
    def expect(row) -> None:
        assert row.attempts == count, row.attempts

    return expect


# (The check's attempts are reset once the file is checked: only the write's remain.)
IMPORT_FAULTS = [
    Fault("workers killed during the check", "roster_import.check", 1, kill_workers),
    Fault("workers killed during the write", "roster_import.write", 1, kill_workers, attempts_are(2)),
    Fault("postgres restarted during the check", "roster_import.check", 1, restart_postgres),
    Fault("postgres restarted during the write", "roster_import.write", 1, restart_postgres, attempts_are(1)),
    Fault("redis restarted during the check", "roster_import.check", 1, restart_redis),
    Fault("redis restarted during the write", "roster_import.write", 1, restart_redis, attempts_are(2)),
]


@pytest.mark.parametrize("fault", IMPORT_FAULTS, ids=lambda fault: fault.name.replace(" ", "-"))
def test_a_roster_import_survives(fault, cluster, cast, postgres, redis_server):
    """ORG-7: the file is checked and imported exactly as in a clean run (every row
    once, nothing half-written), and the job moves again within seconds of the fault
    clearing, whether it struck the check or the write."""
    servers = {"postgres": postgres, "redis": redis_server, "outage": OUTAGE_SECONDS}
    if "import" not in CLEAN:
        signature, checked, written = run_import(cluster, cast, None, None, **servers)
        report("import/check", checked, checked.total)
        report("import/write", written, written.total)
        CLEAN["import"] = (signature, checked.total + written.total)
        Member.objects.filter(organization=cast.organization, name__startswith="Person ").delete()
    clean, clean_seconds = CLEAN["import"]
    during_check = fault.checkpoint == "roster_import.check"
    signature, checked, written = run_import(
        cluster, cast, fault if during_check else None, None if during_check else fault, **servers
    )
    clock = checked if during_check else written
    report(f"import/{fault.name}", clock, clean_seconds)
    assert signature == clean
    assert_recovered_in_time(fault.name, clock)


# --------------------------------------------------------------------------- the access request's archive


def archive_signature(archive: ExportArchive) -> dict:
    """The archive's files and rows (from its manifest) and the person's profile in it;
    the times it was made at and the request's reference differ between two runs."""
    data = files.read_decrypted(archive.stored_file, fulfilment.EXPORT_PURPOSE)
    with zipfile.ZipFile(io.BytesIO(data)) as zipped:
        manifest = json.loads(zipped.read("manifest.json"))
        profile = json.loads(zipped.read("profile.json"))
    return {
        "files": sorted((entry["name"], entry.get("rows")) for entry in manifest["files"]),
        "profile": {key: profile.get(key) for key in ("name", "nickname", "work_region")},
    }


def run_export(cluster: Cluster, fault: Fault | None, **servers) -> tuple[dict, Clock]:
    person = UserFactory(name="Archive Person", nickname="Archie")
    organization = OrganizationFactory(name="Export Co.")
    populate(organization, members=4, records_per_member=2, users=[person], tag=f"exp{0 if fault is None else 1}")
    today = timezone.localdate()
    request = DataSubjectRequest.objects.create(
        kind=RequestKind.ACCESS, jurisdiction="mainland", subject=person, verified_at=timezone.now(),
        verification_method="sms", original_due_on=today + timedelta(days=15), due_on=today + timedelta(days=15),
    )  # fmt: skip
    holder: dict = {}

    def start():
        with celery_on_broker(servers["redis"].url), transaction.atomic():
            holder["archive"] = fulfilment.start_export(request)

    def marker():
        row = ExportArchive.objects.filter(pk=holder["archive"].pk)
        return row.values_list("status", "sections_done", "worker").get()

    def done():
        return ExportArchive.objects.filter(
            pk=holder["archive"].pk, status__in=[ExportStatus.READY, ExportStatus.FAILED]
        ).exists()

    def alive():
        return ExportArchive.objects.filter(pk=holder["archive"].pk).values_list("heartbeat_at", flat=True).get()

    clock = run_with(cluster, fault, start, marker, done, progress_timeout=RECOVERY_LIMIT + 30, alive=alive, **servers)
    archive = ExportArchive.objects.get(pk=holder["archive"].pk)
    assert archive.status == ExportStatus.READY, (archive.last_error, cluster.logs())
    if fault is not None:
        fault.expect(archive)
    assert AuditEvent.objects.filter(action="request.export_ready", target_id=str(archive.pk)).count() == 1
    return archive_signature(archive), clock


EXPORT_FAULTS = [
    Fault("workers killed during the build", "export.section", 2, kill_workers, attempts_are(2)),
    Fault("postgres restarted during the build", "export.section", 2, restart_postgres, attempts_are(1)),
    Fault("redis restarted during the build", "export.section", 2, restart_redis, attempts_are(2)),
]


@pytest.mark.parametrize("fault", EXPORT_FAULTS, ids=lambda fault: fault.name.replace(" ", "-"))
def test_an_access_archive_survives(fault, cluster, postgres, redis_server):
    """REQ-7: the archive is built once and holds what a clean build holds, and the
    build moves again within seconds of the fault clearing."""
    servers = {"postgres": postgres, "redis": redis_server, "outage": OUTAGE_SECONDS}
    if "export" not in CLEAN:
        signature, clock = run_export(cluster, None, **servers)
        report("export", clock, clock.total)
        CLEAN["export"] = (signature, clock.total)
    clean, clean_seconds = CLEAN["export"]
    signature, clock = run_export(cluster, fault, **servers)
    report(f"export/{fault.name}", clock, clean_seconds)
    assert signature == clean
    assert_recovered_in_time(fault.name, clock)
