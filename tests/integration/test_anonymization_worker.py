"""The anonymization engine on real Celery worker processes and a real Redis (ORG-11,
ANON-2, ANON-7): a disband runs to a verified end through the broker, survives a worker
killed with SIGKILL half-way, spreads over two workers without doing a chunk twice, and
changes nothing when run again.

The workers are real ``celery worker --pool=solo`` processes sharing the test database
(a file on SQLite, the throwaway cluster with ``--postgres``) and the private file store.
They run with small chunks, short liveness limits (a heartbeat every second, stale after
three) and a short task budget so that a cascade of a few thousand rows has hundreds of
chunks and hands over between messages many times.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from accounts.models import CodePurpose, User
from accounts.services.codes import send_code
from dataprotection import anonymization
from dataprotection.models import AnonymizationChunk, AnonymizationJob, ChunkStatus, JobKind, JobStatus
from dataprotection.tasks import enqueue_drivers
from organizations.models import Administrator, AdministratorRole, Member, Organization, OrganizationStatus
from organizations.permissions import org_access
from organizations.services import disband
from tests.anonymization_data import job_content, populate, residue, snapshot, stage_counters
from tests.conftest import PROJECT_ROOT, celery_on_broker, database_url_for_subprocess, last_code
from tests.factories import OrganizationFactory, UserFactory
from tests.integration import waiting

pytestmark = pytest.mark.realservices

CHUNK_ROWS = 50
HEARTBEAT_SECONDS = 1
STALE_SECONDS = 3
BUDGET_SECONDS = 1
DRIVE_SUCCEEDED = "Task dataprotection.tasks.drive_anonymization_job["

# A worker that also writes down, after each commit, the chunk it applied: the same
# ``celery worker`` with the engine's chunk step wrapped, for tests that ask which
# process did what. The product is not changed.
RECORDING_WORKER = """
import os, sys
import django
django.setup()
from config.celery import app
from dataprotection import anonymization
record = open(os.environ["CHUNK_RECORD"], "a", buffering=1)
run_chunk = anonymization._run_chunk
def recorded(chunk, *args, **kwargs):
    applied = run_chunk(chunk, *args, **kwargs)
    if applied:
        record.write(f"{chunk.pk}\\n")
    return applied
anonymization._run_chunk = recorded
app.worker_main(sys.argv[1:])
"""


def wait_until(predicate, timeout: float = 120.0, interval: float = 0.05):
    return waiting.wait_until(predicate, timeout, interval)


# --------------------------------------------------------------------------- workers


@dataclass
class Worker:
    name: str
    process: subprocess.Popen
    log_path: Path
    record_path: Path

    def applied_chunks(self) -> list[int]:
        """Chunks this worker applied and committed (recording workers only)."""
        if not self.record_path.exists():
            return []
        return [int(line) for line in self.record_path.read_text().split()]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def drive_outcomes(self) -> list[str]:
        """The return value of every drive task this worker finished ("more": it ran
        chunks until its budget was used up)."""
        outcomes = []
        for line in self.log().splitlines():
            if DRIVE_SUCCEEDED in line and " succeeded in " in line:
                outcomes.append(line.rsplit(":", 1)[1].strip().strip("'"))
        return outcomes


@dataclass
class Workers:
    """Starts any number of ``celery worker --pool=solo`` processes on the test's
    Redis and database, and kills one with SIGKILL (with the solo pool the main process
    runs the task, so that is the whole worker, mid-chunk)."""

    env: dict
    folder: Path
    broker_url: str
    started: list[Worker] = field(default_factory=list)

    def start(self, name: str, *, recording: bool = False) -> Worker:
        log_path = self.folder / f"{name}.log"
        record_path = self.folder / f"{name}.chunks"
        program = ["-c", RECORDING_WORKER] if recording else ["-m", "celery", "-A", "config"]
        with log_path.open("w") as log:
            process = subprocess.Popen(
                [
                    sys.executable,
                    *program,
                    "worker",
                    "--pool=solo",
                    "--loglevel=INFO",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                    "--hostname",
                    f"{name}@%h",
                ],
                cwd=PROJECT_ROOT,
                env={**self.env, "CHUNK_RECORD": str(record_path)},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        worker = Worker(name, process, log_path, record_path)
        self.started.append(worker)
        deadline = time.monotonic() + 60
        while "ready." not in worker.log():
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"the Celery worker {name} did not start:\n{worker.log()}")
            time.sleep(0.1)
        return worker

    def kill(self, worker: Worker) -> None:
        os.kill(worker.process.pid, signal.SIGKILL)
        worker.process.wait(timeout=10)

    def logs(self) -> str:
        return "\n".join(f"--- {w.name}\n{w.log()[-6000:]}" for w in self.started)

    def stop(self) -> None:
        for worker in self.started:
            if worker.process.poll() is None:
                worker.process.terminate()
        for worker in self.started:
            try:
                worker.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.process.kill()
                worker.process.wait(timeout=10)


def purge_queue(broker_url: str) -> int:
    with celery_on_broker(broker_url) as app:
        return app.control.purge()


@pytest.fixture
def workers(redis_server, transactional_db, tmp_path, settings):
    """Worker processes for one test; this process and the workers share the settings
    that matter (chunk size, liveness limits, budget, the private file store)."""
    settings.ANONYMIZATION_CHUNK_ROWS = CHUNK_ROWS
    settings.JOB_HEARTBEAT_SECONDS = HEARTBEAT_SECONDS
    settings.JOB_STALE_SECONDS = STALE_SECONDS
    settings.ANONYMIZATION_TASK_BUDGET_SECONDS = BUDGET_SECONDS
    settings.ANONYMIZATION_PARALLEL_TASKS = 2
    settings.DISBAND_GRACE_DAYS = 0
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    env = {
        **os.environ,
        "DATABASE_URL": database_url_for_subprocess(),
        "CELERY_BROKER_URL": redis_server.url,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        # Budget < soft limit < hard limit < visibility timeout (config/settings.py checks).
        "CELERY_TASK_SOFT_TIME_LIMIT": "30",
        "CELERY_TASK_TIME_LIMIT": "40",
        "ANONYMIZATION_CHUNK_ROWS": str(CHUNK_ROWS),
        "JOB_HEARTBEAT_SECONDS": str(HEARTBEAT_SECONDS),
        "JOB_STALE_SECONDS": str(STALE_SECONDS),
        "JOB_DATABASE_RETRY_SECONDS": "10",
        "ANONYMIZATION_TASK_BUDGET_SECONDS": str(BUDGET_SECONDS),
        "ANONYMIZATION_PARALLEL_TASKS": "2",
        "PRIVATE_MEDIA_ROOT": str(tmp_path / "private"),
        "CUSTODIA_VAR_DIR": str(tmp_path / "var"),
        "SMS_BACKEND": "accounts.services.sms_gateway.FileBackend",
        "SMS_FILE_PATH": str(tmp_path / "sms.jsonl"),
        "SECRET_KEY": django_settings.SECRET_KEY,
    }
    purge_queue(redis_server.url)  # nothing left over from an earlier test
    pool = Workers(env=env, folder=tmp_path, broker_url=redis_server.url)
    yield pool
    pool.stop()
    purge_queue(redis_server.url)


# --------------------------------------------------------------------------- helpers


def frozen_job(organization: Organization) -> AnonymizationJob:
    """A due disband job, as ``request_disband`` leaves it once the grace window ends."""
    Organization.objects.filter(pk=organization.pk).update(status=OrganizationStatus.FROZEN)
    return anonymization.create_job(JobKind.DISBAND, organization_id=organization.pk, label=organization.name)


def wait_for_job(job_id: int, pool: Workers, timeout: float = 180.0) -> AnonymizationJob:
    def finished():
        status = AnonymizationJob.objects.filter(pk=job_id).values_list("status", flat=True).first()
        return status in {JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED}

    assert wait_until(finished, timeout=timeout, interval=0.2), pool.logs()
    return AnonymizationJob.objects.get(pk=job_id)


def chunk_counts(job_id: int) -> tuple[int, int]:
    chunks = AnonymizationChunk.objects.filter(job_id=job_id)
    return chunks.filter(status=ChunkStatus.DONE).count(), chunks.count()


def assert_verified_and_clean(job: AnonymizationJob, data, pool: Workers) -> None:
    """ANON-7: the job completed with a verified report, every chunk is done and
    counted once, and a scan of the organization finds none of its personal values."""
    assert job.status == JobStatus.COMPLETED, (job.last_error, job.report, pool.logs())
    assert job.report["verified"] is True and job.report["rows_left"] == 0
    assert all(stage["left"] == 0 for stage in job.report["stages"])
    assert not AnonymizationChunk.objects.filter(job=job).exclude(status=ChunkStatus.DONE).exists()
    for label, (total, processed, _changed, _files) in stage_counters(job).items():
        assert processed == total, label  # no chunk counted twice, none skipped
    assert residue(data.organization.pk, data.values) == []
    assert Organization.objects.get(pk=data.organization.pk).status == OrganizationStatus.DISBANDED
    assert not Member.objects.filter(organization=data.organization, user__isnull=False).exists()
    root = Path(django_settings.PRIVATE_MEDIA_ROOT)
    assert [name for name in data.files if (root / name).exists()] == []  # erased (ANON-3)


def reference_run(members: int, records: int, name: str):
    """The same cascade on an identically populated organization, driven in this
    process with no broker and no interruption: what a correct run produces."""
    organization = OrganizationFactory(name=name)
    populate(organization, members=members, records_per_member=records, tag="ref")
    job = frozen_job(organization)
    assert anonymization.drive(job.pk, budget_seconds=600) == "finished"
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED, job.report
    return job


# --------------------------------------------------------------------------- tests


def test_disband_through_the_broker_spares_accounts_and_other_organizations(workers, redis_server, sms_outbox):
    """ORG-11, ANON-2, ANON-7: the owner's disband request (re-verified, no grace window)
    enqueues drivers after commit; a real worker runs hundreds of chunks to a verified
    end. Personal accounts are untouched, and a member who also belongs to another
    organization keeps that membership and every value of it, row for row."""
    owner, shared, joined = UserFactory(), UserFactory(), UserFactory()
    target = OrganizationFactory(name="Disbanded Co.")
    Administrator.objects.create(organization=target, user=owner, role=AdministratorRole.OWNER)
    data = populate(target, members=300, records_per_member=5, users=[shared, joined], tag="tgt")
    other = OrganizationFactory(name="Staying Co.")
    other_data = populate(other, members=20, records_per_member=2, users=[shared], tag="oth")
    assert residue(target.pk, data.values)  # the scan sees the values before
    other_before = snapshot(other.pk)
    accounts_before = list(User.objects.order_by("pk").values())
    root = Path(django_settings.PRIVATE_MEDIA_ROOT)
    assert all((root / name).exists() for name in data.files + other_data.files)

    send_code(owner.phone, CodePurpose.REVERIFY, user=owner)  # delivered eagerly, before the broker
    code = last_code(sms_outbox, owner.phone)
    worker = workers.start("solo")
    with celery_on_broker(redis_server.url):
        job = disband.request_disband(org_access(owner, target.pk), code=code, confirm_name=target.name)
    assert job.status == JobStatus.SCHEDULED

    job = wait_for_job(job.pk, workers)
    assert_verified_and_clean(job, data, workers)
    done, total = chunk_counts(job.pk)
    assert done == total > 100  # many chunks, all through the real worker
    assert "finished" in worker.drive_outcomes()

    assert list(User.objects.order_by("pk").values()) == accounts_before  # phone, name, everything
    assert snapshot(other.pk) == other_before  # the other organization, exactly
    kept = Member.objects.get(organization=other, user=shared)
    assert kept.name == other_data.members[0].name and kept.status == "active"
    assert all((root / name).exists() for name in other_data.files)


def test_a_worker_killed_mid_cascade_is_resumed_to_the_same_result(workers, redis_server):
    """ANON-2: SIGKILL the worker half-way, lose every queued message; once the job's
    heartbeat is stale, the next worker's start-up sweep (``recover_jobs`` on
    ``worker_ready``) takes the job up, with no beat and no message left. The end state
    is that of an uninterrupted run: every chunk done and counted once, at most the one
    in flight done again, verified, no residue, and the same counters and table contents
    as a reference run on an identical organization."""
    name = "Same Shape Co."
    reference = reference_run(400, 5, name)
    target = OrganizationFactory(name=name)
    data = populate(target, members=400, records_per_member=5, tag="kill")
    job = frozen_job(target)

    first = workers.start("first")
    with celery_on_broker(redis_server.url):
        enqueue_drivers(job.pk, on_commit=False)
    assert wait_until(lambda: chunk_counts(job.pk)[0] >= 60, timeout=120, interval=0.01), workers.logs()
    workers.kill(first)
    done_at_kill, total = chunk_counts(job.pk)
    assert 60 <= done_at_kill < total, "the cascade finished before the kill: make it bigger"
    assert AnonymizationJob.objects.get(pk=job.pk).status == JobStatus.RUNNING
    purge_queue(redis_server.url)  # the worst case: no message left to continue the job

    time.sleep(STALE_SECONDS + 0.5)
    assert wait_until(lambda: anonymization.needs_worker().filter(pk=job.pk).exists(), timeout=30)
    assert chunk_counts(job.pk)[0] == done_at_kill  # nothing ran in between
    second = workers.start("second")  # its start-up sweep finds the job
    job = wait_for_job(job.pk, workers)
    assert "enqueued 1 jobs, 1 anonymization" in second.log()

    assert_verified_and_clean(job, data, workers)
    redone = AnonymizationChunk.objects.filter(job=job, attempts__gt=1).count()
    assert redone <= 1  # only the chunk the killed worker held
    print(f"killed after {done_at_kill} of {total} chunks; {redone} chunk applied again")
    counters = stage_counters(job)
    assert counters == stage_counters(reference)  # total, processed, changed, files erased
    assert job_content(job) == job_content(reference)
    assert [(s["model"], s["planned"], s["changed"]) for s in job.report["stages"]] == [
        (s["model"], s["planned"], s["changed"]) for s in reference.report["stages"]
    ]


def test_two_workers_share_one_cascade_without_doing_a_chunk_twice(workers, redis_server):
    """ANON-2: the drivers of one cascade run on two worker processes at once (on
    SQLite their writes take turns): both apply chunks, no chunk is applied by both or
    twice, every chunk and row is counted once, and the result is verified."""
    target = OrganizationFactory(name="Parallel Co.")
    data = populate(target, members=400, records_per_member=5, tag="par")
    one, two = workers.start("one", recording=True), workers.start("two", recording=True)
    job = frozen_job(target)  # due now: neither worker's start-up sweep took it up alone
    with celery_on_broker(redis_server.url):
        enqueue_drivers(job.pk, on_commit=False)  # two drivers (ANONYMIZATION_PARALLEL_TASKS)
    job = wait_for_job(job.pk, workers)

    assert_verified_and_clean(job, data, workers)
    by_one, by_two = one.applied_chunks(), two.applied_chunks()
    assert by_one and by_two, workers.logs()  # both workers did chunks
    assert DRIVE_SUCCEEDED in one.log() and DRIVE_SUCCEEDED in two.log()
    all_chunks = sorted(AnonymizationChunk.objects.filter(job=job).values_list("pk", flat=True))
    assert sorted(by_one + by_two) == all_chunks  # each chunk applied by exactly one worker, once
    for label, (total, processed, changed, _files) in stage_counters(job).items():
        assert processed == total == changed, label
    for chunk in AnonymizationChunk.objects.filter(job=job):
        assert chunk.status == ChunkStatus.DONE and chunk.rows == chunk.planned
    planned = {s["model"]: s["planned"] for s in job.report["stages"]}
    assert planned["organizations.AttendancePunch"] == data.counts["organizations.AttendancePunch"] == 2000


def test_running_a_finished_job_again_changes_nothing(workers, redis_server):
    """ANON-2: drivers delivered again after the end (a redelivered message, the beat
    sweep racing the last chunk) and the engine driven once more in this process leave
    every row, every counter and the report as they were; re-applying every chunk's key
    range writes the same values again."""
    target = OrganizationFactory(name="Twice Co.")
    data = populate(target, members=120, records_per_member=3, tag="twice")
    job = frozen_job(target)
    worker = workers.start("solo")
    with celery_on_broker(redis_server.url):
        enqueue_drivers(job.pk, on_commit=False)
    job = wait_for_job(job.pk, workers)
    assert_verified_and_clean(job, data, workers)

    rows_before = snapshot(target.pk)
    counters_before = stage_counters(job)
    chunks_before = list(AnonymizationChunk.objects.filter(job=job).order_by("pk").values())
    report_before = job.report
    finished_drives = len(worker.drive_outcomes())
    with celery_on_broker(redis_server.url):
        enqueue_drivers(job.pk, on_commit=False)
    assert wait_until(lambda: len(worker.drive_outcomes()) >= finished_drives + 2, timeout=60), worker.log()
    assert worker.drive_outcomes()[-2:] == ["finished", "finished"]
    assert anonymization.drive(job.pk) == "finished"

    job.refresh_from_db()
    assert snapshot(target.pk) == rows_before  # including the one "organization.disbanded" event
    assert stage_counters(job) == counters_before
    assert list(AnonymizationChunk.objects.filter(job=job).order_by("pk").values()) == chunks_before
    assert job.report == report_before

    for chunk in AnonymizationChunk.objects.filter(job=job).select_related("stage"):
        anonymization.apply_range(chunk.stage, chunk.low, chunk.high)
    assert snapshot(target.pk) == rows_before
    assert residue(target.pk, data.values) == []
