"""The roster import (ORG-7) through a real Celery worker on a real Redis: a file large
enough to be checked in parts is split by the check task, its parts are checked by
part tasks and merged by the task the last part queues -- all through the broker,
counted on the job row -- then imported after the decision."""

from __future__ import annotations

import csv
import io
import time

import pytest

from organizations.forms.roster_import import ATTESTATION_TEXT
from organizations.models import ImportStatus, Member, RosterImport
from organizations.permissions import org_access
from organizations.services.roster_import import service

pytestmark = pytest.mark.realservices


def wait_for(job_id: int, statuses: set[str], timeout: float = 120.0) -> RosterImport:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = RosterImport.objects.get(pk=job_id)
        if job.status in statuses:
            return job
        time.sleep(0.1)
    return RosterImport.objects.get(pk=job_id)


def test_worker_checks_a_large_file_in_parts_and_imports_it(celery_worker, cast, settings, tmp_path):
    """ORG-7: the parts run as separate tasks on the worker; the duplicate on the last
    row, whose first copy is in the first part, is reported exactly as a row-by-row
    check reports it, and the valid rows are imported."""
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "var" / "private"  # the worker's private files
    rows = service.CHECK_PART_ROWS + 500
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["name", "mobile", "department", "employee_number"])
    for index in range(1, rows):
        writer.writerow([f"Person {index}", f"139{index:08d}", "Sales", f"E{index:06d}"])
    writer.writerow(["Copy", "139 0000 0007", "Sales", "E-COPY"])  # the mobile of row 8
    access = org_access(cast.owner, cast.organization.pk)
    job = service.start_import(
        access, file_name="big.csv", file_format="csv", content=buffer.getvalue().encode(),
        attestation_text=str(ATTESTATION_TEXT),
    )  # fmt: skip
    job = wait_for(job.pk, {ImportStatus.VALIDATED, ImportStatus.FAILED})
    assert job.status == ImportStatus.VALIDATED, (job.last_error, celery_worker.log()[-3000:])
    assert (job.parts_total, job.parts_done, job.parts) == (2, 2, {})
    assert (job.total_rows, job.valid_rows, job.error_rows) == (rows, rows - 1, 1)
    assert [(error["row"], error["column"]) for error in job.error_preview] == [(rows + 1, "mobile")]
    assert "already on row 8" in job.error_preview[0]["message"]
    log = celery_worker.log()
    assert log.count("check_roster_import_part") >= 2 and "finish_roster_check" in log
    service.decide(access, job, "valid_only")
    job = wait_for(job.pk, {ImportStatus.COMPLETED, ImportStatus.FAILED})
    assert job.status == ImportStatus.COMPLETED, (job.last_error, celery_worker.log()[-3000:])
    assert Member.objects.filter(organization=cast.organization, name__startswith="Person ").count() == rows - 1
