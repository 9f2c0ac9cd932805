"""Benchmark of the roster upload's web request against hostile files (ORG-7, SEC-1).

Run by hand, not by pytest:

    .venv/bin/python bench/upload_bombs.py

Before uploads were parsed on a worker, the web request read the file: a 58 KB XLSX with
one 2,000,000-cell row took 12.7 s and 981 MB in the web process, a 1 MB sheet bomb 26 s
and 347 MB, a 416 KB shared-strings bomb 12 s and 364 MB, and a 200,000-column CSV was
refused with all 2.09 million characters of its column names echoed back.

For each hostile file of ``tests/organizations/roster_bombs.py`` -- the 2,000,000-cell
row, the sheet bomb, the shared-strings bomb, the 200,000-column CSV -- the script posts
it to the upload page as the owner would (Django's test client: the whole middleware
stack, the multipart parser, the form, the service storing the file sealed and starting
the job) and measures the request's wall time (median of ``--repeat`` runs) and its peak
Python memory (``tracemalloc``, in a separate run: tracing slows the code). The baseline,
measured in the same run the same way, is a plain roster CSV of the same byte size (name
and mobile rows). Then the worker's check runs on each hostile job in this process, to
show it refuses the file (the job fails with its message, nothing is written).

It builds a throwaway SQLite database and private-file directory in a temporary
directory; the check is queued to the file-system broker there and never runs inside
the request. The last line is
``upload_bombs cases=4 max_request_ms=<x> max_ratio_time=<x> max_ratio_memory=<x>``
(the ratios: hostile file over plain file of the same size, the largest of the four).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def configure_django(workdir: Path) -> None:
    """A throwaway SQLite database and var/ directory; tasks go to the file-system broker
    there (nobody consumes them: the check is run by hand, after the requests)."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["DATABASE_URL"] = f"sqlite:///{workdir / 'bench.sqlite3'}"
    os.environ["CUSTODIA_VAR_DIR"] = str(workdir / "var")
    os.environ["DEBUG"] = "false"
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "false"
    os.environ.pop("CELERY_BROKER_URL", None)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def bombs() -> dict[str, tuple[str, bytes]]:
    """The issue's files at their own sizes (built in about a second)."""
    from tests.organizations import roster_bombs

    return {
        "2,000,000-cell row": ("roster.xlsx", roster_bombs.one_wide_row()),
        "sheet bomb": ("roster.xlsx", roster_bombs.sheet_bomb()),
        "shared-strings bomb": ("roster.xlsx", roster_bombs.shared_strings_bomb()),
        "200,000-column CSV": ("roster.csv", roster_bombs.wide_csv()),
    }


def plain_csv(size: int) -> bytes:
    """An ordinary roster CSV (name, mobile) of exactly ``size`` bytes."""
    lines = ["name,mobile"]
    length = len(lines[0]) + 1
    index = 0
    while length < size:
        line = f"Member {index},139{index % 100_000_000:08d}"
        lines.append(line)
        length += len(line) + 1
        index += 1
    data = ("\n".join(lines) + "\n").encode()
    return data[:size] if len(data) > size else data


def signed_in_client(owner, key: str):
    from django.test import Client

    from bench.roster import sign_in

    client = Client(headers={"accept-language": "en"})
    sign_in(client, owner, key)
    return client


def post(client, url: str, name: str, content: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client.post(url, {"file": SimpleUploadedFile(name, content), "attestation": "on"})
    assert response.status_code == 302, (response.status_code, response.content[:500])
    return response


def measure(client, url: str, name: str, content: bytes, repeat: int) -> tuple[float, int]:
    """(median wall time in ms, peak traced memory in bytes) of the upload request."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        post(client, url, name, content)
        times.append((time.perf_counter() - started) * 1000)
    tracemalloc.start()
    try:
        post(client, url, name, content)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return statistics.median(times), peak


def run(args) -> None:
    from django.urls import reverse

    from accounts.models import User
    from bench.roster import PASSWORD, enroll_authenticator
    from organizations.models import ImportStatus, Member, RosterImport
    from organizations.services.registration import register_organization
    from organizations.services.roster_import import service

    owner = User.objects.create_user("+8613800000001", PASSWORD, name="Owner")
    organization = register_organization(owner, {"name": "Bench Co", "kind": "enterprise"})
    client = signed_in_client(owner, enroll_authenticator(owner))
    url = reverse("organizations:roster_import", args=[organization.pk])
    members_before = Member.objects.filter(organization=organization).count()

    post(client, url, "warm-up.csv", plain_csv(1024))  # imports, templates, caches: not the file's cost
    rows = []
    for case, (name, content) in bombs().items():
        request_ms, peak = measure(client, url, name, content, args.repeat)
        bomb_job = RosterImport.objects.order_by("-pk").first()
        plain_ms, plain_peak = measure(client, url, "plain.csv", plain_csv(len(content)), args.repeat)
        started = time.perf_counter()
        service.check_import(bomb_job.pk)
        worker_ms = (time.perf_counter() - started) * 1000
        bomb_job.refresh_from_db()
        assert bomb_job.status == ImportStatus.FAILED, (case, bomb_job.status)
        rows.append((case, len(content), request_ms, peak, plain_ms, plain_peak, worker_ms, bomb_job.last_error))

    assert Member.objects.filter(organization=organization).count() == members_before  # nothing written
    mb = 1024 * 1024
    print(f"{'case':<22} {'bytes':>9} {'request ms':>10} {'plain ms':>9} {'x time':>7} "
          f"{'peak MB':>8} {'plain MB':>9} {'x memory':>8} {'worker ms':>9}")  # fmt: skip
    for case, size, request_ms, peak, plain_ms, plain_peak, worker_ms, _message in rows:
        print(
            f"{case:<22} {size:>9} {request_ms:>10.1f} {plain_ms:>9.1f} {request_ms / plain_ms:>7.2f} "
            f"{peak / mb:>8.2f} {plain_peak / mb:>9.2f} {peak / plain_peak:>8.2f} {worker_ms:>9.1f}"
        )
    for case, *_figures, message in rows:
        print(f"worker refused {case} ({len(message)} chars): {message}")
    max_request_ms = max(row[2] for row in rows)
    max_ratio_time = max(row[2] / row[4] for row in rows)
    max_ratio_memory = max(row[3] / row[5] for row in rows)
    print(
        f"upload_bombs cases={len(rows)} max_request_ms={max_request_ms:.1f} "
        f"max_ratio_time={max_ratio_time:.2f} max_ratio_memory={max_ratio_memory:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed requests per file (the median is kept)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="custodia-upload-bombs-"))
    try:
        configure_django(workdir)
        run(args)
    finally:
        if args.keep:
            print(f"kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
