"""Benchmark of recovery (README "Recovery"): how long each background job takes to move
again after a worker, broker or database fault, on a 100,000-member organization, with
the production liveness settings.

Run by hand, not by pytest:

    .venv/bin/python bench/recovery.py --members 100000 --records 1000000
    .venv/bin/python bench/recovery.py --members 100000 --records 1000000 --only disband

It starts a durable PostgreSQL cluster (fsync on, as in production: ``tests/servers.py``)
and a Redis server, seeds a source database with ``bench/anonymize.py``'s seeder (one
organization of ``--members`` roster entries and ``--records`` activity rows, ``--others``
times as many rows in other organizations), and runs every case on a fresh copy of it
(``CREATE DATABASE ... TEMPLATE``) with two real ``celery worker`` processes (prefork,
concurrency 1 each) and a real ``celery beat``, exactly as the fault-injection suite does
(``tests/integration/faults.py``: a worker is held at a named checkpoint, then the fault
is injected):

- **disband** of the ``--members`` organization: clean; both workers SIGKILLed while
  planning, mid-chunk and while verifying (and restarted); PostgreSQL stopped with
  ``-m immediate`` mid-chunk and started after ``--outage`` seconds; redis-server
  restarted mid-chunk (down ``--outage`` seconds, every queued message lost);
- **roster import** of ``--import-rows`` rows (checked in parts, written in one
  transaction) into a new organization of that database: clean; the same three faults
  during the check and during the write;
- **access archive** of a person on the organization's roster: clean; the same three
  faults during the build.

The workers run with the defaults of ``config/settings.py`` (``JOB_HEARTBEAT_SECONDS``
3, ``JOB_STALE_SECONDS`` 15, ``JOB_SWEEP_SECONDS`` 5, chunks of 5,000 rows, a 60 s task
budget) unless the environment says otherwise. For each case it prints the outage (fault
to cleared: workers restarted, the database or Redis accepting connections again), the
recovery (cleared to the job's first move: a step, a chunk, a status), how long the job
then stood still at most (no progress and no heartbeat: a straggler's commit right after
the fault does not hide a wait for the sweep), the total and the clean run's total,
checks the end (the cascade completed and verified with the clean run's report counts and
no other organization touched; the import completed with every row once; the archive
ready with the same files), and whether the faulted run stayed within 2x the clean run
plus the outage. Last line:
``recovery cases=<n> max_recovery_s=<s> within_30s=<k>/<n> within_2x=<k>/<n>``, where a
case's recovery is the larger of its first move and its longest standstill.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.anonymize import Databases, build, other_rows_fingerprint  # noqa: E402
from bench.roster_import import generate_csv, make_organization  # noqa: E402
from tests import servers  # noqa: E402
from tests.integration.faults import Cluster, Fault, kill_workers, restart_postgres, restart_redis, run_with  # noqa: E402

SOURCE = "recovery_source"
RUN = "recovery_run"
RECOVERY_LIMIT = 30.0


def faults(checkpoints: dict[str, tuple[str, int]]) -> list[Fault]:
    """The three faults at each named checkpoint: {label: (checkpoint, nth)}."""
    cases = []
    for label, (checkpoint, nth) in checkpoints.items():
        cases.append(Fault(f"workers killed {label}", checkpoint, nth, kill_workers))
        cases.append(Fault(f"postgres restarted {label}", checkpoint, nth, restart_postgres))
        cases.append(Fault(f"redis restarted {label}", checkpoint, nth, restart_redis))
    return cases


class Bench:
    def __init__(self, args, workdir: Path):
        self.args = args
        self.workdir = workdir
        self.databases = Databases("postgres", workdir)
        self.redis = None
        self.results: list[dict] = []
        self.case = 0
        self.clusters: list[Cluster] = []

    # ------------------------------------------------------------------ set-up

    def start(self) -> None:
        self.redis = servers.start_redis()
        os.environ["CELERY_BROKER_URL"] = self.redis.url
        os.environ["PRIVATE_MEDIA_ROOT"] = str(self.workdir / "private")
        self.databases.configure()
        from config.celery import app

        app.conf.broker_url = self.redis.url
        app.conf.task_always_eager = False
        app.conf.broker_transport_options = {"visibility_timeout": 3600}

    def stop(self) -> None:
        for cluster in self.clusters:
            cluster.stop()  # every worker and beat this run started, whatever happened
        self.databases.stop()
        if self.redis is not None:
            self.redis.stop()

    def cluster(self, database: str) -> Cluster:
        from django.conf import settings

        self.case += 1
        folder = self.workdir / f"case-{self.case:02d}"
        folder.mkdir()
        port = self.databases.server.port
        env = {
            **os.environ,
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:{port}/{database}",
            "CELERY_BROKER_URL": self.redis.url,
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "PRIVATE_MEDIA_ROOT": str(self.workdir / "private"),
            "CUSTODIA_VAR_DIR": str(self.workdir / "var"),
            "SECRET_KEY": settings.SECRET_KEY,
            "DISBAND_GRACE_DAYS": "0",
            "SMS_BACKEND": "accounts.services.sms_gateway.FileBackend",
            "SMS_FILE_PATH": str(folder / "sms.jsonl"),
        }
        cluster = Cluster(env=env, folder=folder, concurrency=1)
        self.clusters.append(cluster)
        with self.redis_client() as client:
            client.flushall()
        cluster.start_beat()
        cluster.start_workers(2)
        return cluster

    def redis_client(self):
        import redis

        return redis.Redis.from_url(self.redis.url)

    def servers(self) -> dict:
        return {"postgres": self.databases.server, "redis": self.redis, "outage": self.args.outage}

    def record(self, scenario: str, fault: Fault | None, clock, clean_total: float | None, ok: str) -> dict:
        row = {"scenario": scenario, "case": fault.name if fault else "clean", "total_s": round(clock.total, 1)}
        if fault is not None:
            row.update(
                outage_s=round(clock.outage, 1),
                recovery_s=round(clock.recovery, 1),
                stalled_s=round(clock.stalled, 1),
                clean_s=round(clean_total, 1),
                within_2x=clock.total <= 2 * clean_total + clock.outage,
            )
        row["end"] = ok
        print(json.dumps(row), flush=True)
        self.results.append(row)
        return row

    # ------------------------------------------------------------------ disband

    def disband(self, target_id: int) -> None:
        from dataprotection.models import AnonymizationJob

        clean_total = None
        clean_report = None
        cases = [None]
        while cases:
            fault = cases.pop(0)
            self.databases.copy(SOURCE, RUN)
            others_before = other_rows_fingerprint(target_id)
            cluster = self.cluster(RUN)
            try:
                clock, job_id = self.run_disband(cluster, target_id, fault)
            finally:
                cluster.stop()
            from django.db import connection

            connection.close()
            job = AnonymizationJob.objects.get(pk=job_id)
            report = [(s["model"], s["planned"], s["changed"]) for s in job.report.get("stages", [])]
            assert job.status == "completed" and job.report["verified"], (job.status, job.last_error)
            assert other_rows_fingerprint(target_id) == others_before, "another organization changed"
            if fault is None:
                clean_total, clean_report = clock.total, report
                cases = faults_of_disband(job.chunks.count())
            else:
                assert report == clean_report, "the report differs from the clean run's"
            self.record("disband", fault, clock, clean_total, f"completed, verified, attempts {job.attempts}")
        self.databases.drop(RUN)

    def run_disband(self, cluster: Cluster, target_id: int, fault: Fault | None):
        from dataprotection import anonymization
        from dataprotection.models import AnonymizationChunk, AnonymizationJob, JobKind
        from dataprotection.tasks import enqueue_drivers
        from organizations.models import Organization

        Organization.objects.filter(pk=target_id).update(status="frozen")
        job = anonymization.create_job(JobKind.DISBAND, organization_id=target_id, label="Disbanded Co.")

        def marker():
            status = AnonymizationJob.objects.filter(pk=job.pk).values_list("status", flat=True).get()
            return status, AnonymizationChunk.objects.filter(job_id=job.pk, status="done").count()

        def done():
            return AnonymizationJob.objects.filter(pk=job.pk, status__in=["completed", "failed"]).exists()

        clock = run_with(
            cluster,
            fault,
            lambda: enqueue_drivers(job.pk, on_commit=False),
            marker,
            done,
            progress_timeout=600,
            done_timeout=3600,
            alive=lambda: AnonymizationJob.objects.filter(pk=job.pk).values_list("heartbeat_at", flat=True).get(),
            **self.servers(),
        )
        return clock, job.pk

    # ------------------------------------------------------------------ roster import

    def roster_import(self) -> None:
        from django.db import connection

        from organizations.models import Member, RosterImport
        from organizations.permissions import org_access
        from organizations.services.roster_import import service as services

        content = None
        clean_total = None
        checkpoints = {"during the check": ("roster_import.check", 1), "during the write": ("roster_import.write", 1)}
        for index, fault in enumerate([None, *faults(checkpoints)]):
            self.databases.copy(SOURCE, RUN)
            owner, organization, leaves = make_organization(f"Import {index} Co.", f"+86138{index:08d}")
            if content is None:
                content = generate_csv(self.args.import_rows, 7, leaves)
            access = org_access(owner, organization.pk)
            holder: dict = {}
            cluster = self.cluster(RUN)

            def upload(access=access, holder=holder, content=content):
                holder["job"] = services.start_import(
                    access, file_name="roster.csv", file_format="csv", content=content,
                    attestation_text="They agreed.",
                )  # fmt: skip

            def decide(access=access, holder=holder):
                job = RosterImport.objects.get(pk=holder["job"].pk)
                assert services.decide(access, job, "all")

            def marker(holder=holder):
                # The claim too: a takeover is the write moving again (it commits all at once).
                row = RosterImport.objects.filter(pk=holder["job"].pk)
                return row.values_list("status", "parts_done", "worker").get()

            def alive(holder=holder):
                return RosterImport.objects.filter(pk=holder["job"].pk).values_list("heartbeat_at", flat=True).get()

            def status_in(*statuses, holder=holder):
                return lambda: RosterImport.objects.filter(pk=holder["job"].pk, status__in=statuses).exists()

            during_check = fault is not None and fault.checkpoint == "roster_import.check"
            try:
                checked = run_with(
                    cluster, fault if during_check else None, upload, marker, status_in("validated", "failed"),
                    progress_timeout=600, done_timeout=1800, alive=alive, **self.servers(),
                )  # fmt: skip
                written = run_with(
                    cluster, None if during_check else fault, decide, marker, status_in("completed", "failed"),
                    progress_timeout=600, done_timeout=1800, alive=alive, **self.servers(),
                )  # fmt: skip
            finally:
                cluster.stop()
            connection.close()
            job = RosterImport.objects.get(pk=holder["job"].pk)
            members = Member.objects.filter(organization=organization).count()
            assert job.status == "completed" and members == self.args.import_rows, (job.status, job.last_error, members)
            clock = checked if during_check else written
            if fault is None:
                clean_total = checked.total + written.total
                self.record("import (check)", None, checked, None, f"validated in {job.parts_total or 1} parts")
                self.record("import (write)", None, written, None, f"{members} rows, once")
                continue
            # The clock of the faulted phase against the clean run of both phases.
            self.record("import", fault, clock, clean_total, f"{members} rows, once; write attempts {job.attempts}")
        self.databases.drop(RUN)

    # ------------------------------------------------------------------ access archive

    def export(self, target_id: int) -> None:
        import zipfile
        from datetime import timedelta
        from io import BytesIO

        from django.db import connection, transaction
        from django.utils import timezone

        from accounts.models import User
        from dataprotection import files
        from organizations.models import Member
        from requests.models import DataSubjectRequest, ExportArchive
        from requests.services import fulfilment

        clean_total = None
        clean_files = None
        checkpoints = {"during the build": ("export.section", 2)}
        for index, fault in enumerate([None, *faults(checkpoints)]):
            self.databases.copy(SOURCE, RUN)
            person = User.objects.create_user(phone=f"+86137{index:08d}", password=None, name="Archive Person")
            member = Member.objects.filter(organization_id=target_id).order_by("pk").first()
            Member.objects.filter(pk=member.pk).update(user=person)
            today = timezone.localdate()
            request = DataSubjectRequest.objects.create(
                kind="access", jurisdiction="mainland", subject=person, verified_at=timezone.now(),
                verification_method="sms", original_due_on=today + timedelta(days=15),
                due_on=today + timedelta(days=15),
            )  # fmt: skip
            holder: dict = {}
            cluster = self.cluster(RUN)

            def start(request=request, holder=holder):
                with transaction.atomic():
                    holder["archive"] = fulfilment.start_export(request)

            def marker(holder=holder):
                row = ExportArchive.objects.filter(pk=holder["archive"].pk)
                return row.values_list("status", "sections_done", "worker").get()

            def done(holder=holder):
                return ExportArchive.objects.filter(pk=holder["archive"].pk, status__in=["ready", "failed"]).exists()

            def alive(holder=holder):
                archives = ExportArchive.objects.filter(pk=holder["archive"].pk)
                return archives.values_list("heartbeat_at", flat=True).get()

            try:
                clock = run_with(
                    cluster, fault, start, marker, done, progress_timeout=600, done_timeout=1800, alive=alive,
                    **self.servers(),
                )  # fmt: skip
            finally:
                cluster.stop()
            connection.close()
            archive = ExportArchive.objects.get(pk=holder["archive"].pk)
            assert archive.status == "ready", (archive.status, archive.last_error)
            data = files.read_decrypted(archive.stored_file, fulfilment.EXPORT_PURPOSE)
            with zipfile.ZipFile(BytesIO(data)) as zipped:
                manifest = json.loads(zipped.read("manifest.json"))
            names = sorted((entry["name"], entry.get("rows")) for entry in manifest["files"])
            if fault is None:
                clean_total, clean_files = clock.total, names
            else:
                assert names == clean_files, "the archive differs from the clean build's"
            self.record("access archive", fault, clock, clean_total, f"ready, attempts {archive.attempts}")
        self.databases.drop(RUN)

    # ------------------------------------------------------------------ summary

    def summary(self) -> None:
        faulted = [row for row in self.results if row["case"] != "clean"]
        print()
        head = f"{'scenario':16} {'case':38} {'outage s':>8} {'recovery s':>10} {'stalled s':>9} {'total s':>8}"
        print(head + f" {'clean s':>8}  2x+outage")
        for row in self.results:
            print(
                f"{row['scenario']:16} {row['case']:38} {row.get('outage_s', ''):>8} {row.get('recovery_s', ''):>10} "
                f"{row.get('stalled_s', ''):>9} {row['total_s']:>8} {row.get('clean_s', ''):>8}  "
                f"{row.get('within_2x', '')}"
            )
        worst = [max(row["recovery_s"], row["stalled_s"]) for row in faulted]
        within_30 = sum(value <= RECOVERY_LIMIT for value in worst)
        within_2x = sum(bool(row["within_2x"]) for row in faulted)
        print(
            f"recovery cases={len(faulted)} max_recovery_s={max(worst, default=0):.1f} "
            f"within_30s={within_30}/{len(faulted)} within_2x={within_2x}/{len(faulted)}"
        )


def faults_of_disband(chunks: int) -> list[Fault]:
    """Mid-chunk: a third of the way through, counted per worker process (two share the
    chunks)."""
    middle = max(1, chunks // 6)
    return [
        Fault("workers killed while planning", "anonymization.planning", 1, kill_workers),
        Fault("workers killed mid-chunk", "anonymization.chunk", middle, kill_workers),
        Fault("workers killed while verifying", "anonymization.verifying", 1, kill_workers),
        Fault("postgres restarted mid-chunk", "anonymization.chunk", middle, restart_postgres),
        Fault("redis restarted mid-chunk", "anonymization.chunk", middle, restart_redis),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--others", type=int, default=1, help="rows in other organizations per target row")
    parser.add_argument("--import-rows", type=int, default=100_000)
    parser.add_argument("--outage", type=float, default=5.0, help="seconds PostgreSQL or Redis stays down")
    parser.add_argument("--only", choices=("disband", "import", "export"), action="append")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs of every worker)")
    args = parser.parse_args()
    only = set(args.only or ("disband", "import", "export"))

    # ``timeout`` and Ctrl-C: leave through the ``finally`` below, which stops every
    # worker, beat and server this run started.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))
    workdir = Path(tempfile.mkdtemp(prefix="custodia-bench-recovery-"))
    bench = Bench(args, workdir)
    started = time.monotonic()
    try:
        bench.start()
        seeded = build(bench.databases, SOURCE, args.members, args.records, args.others)
        target_id = seeded["target"]
        if "disband" in only:
            bench.disband(target_id)
        if "import" in only:
            bench.roster_import()
        if "export" in only:
            bench.export(target_id)
        bench.summary()
        print(f"(whole run {time.monotonic() - started:.0f} s)", file=sys.stderr)  # the last stdout line is the summary
    finally:
        bench.stop()
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
