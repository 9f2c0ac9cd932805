"""The archive answering an access or portability request (REQ-7): what it holds (and
what it never holds), how it is built (compare-and-set claims, attempt cap, progress),
who downloads it, and its expiry."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from datetime import timedelta

import pytest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from accounts.models import IdentityVerification
from consent.models import ConsentRecord, Disclosure, PersonalAuthorization, Service, ServiceKind
from dataprotection import files
from dataprotection.audit import record_event
from dataprotection.models import AuditEvent
from requests.models import (
    AutomatedDecision,
    DataSubjectRequest,
    ExportArchive,
    ExportStatus,
    RequestEvent,
    RequestKind,
    RequestStatus,
)
from requests.services import exporting, fulfilment
from requests.tasks import exports as export_tasks
from tests.anonymization_data import populate
from tests.factories import AdministratorFactory, OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db

SECTION_NAMES = [section.name for section in exporting.SECTIONS]


def make_request(*, subject, organization=None, member=None, kind=RequestKind.ACCESS, **fields):
    today = timezone.localdate()
    return DataSubjectRequest.objects.create(
        kind=kind,
        jurisdiction="mainland",
        subject=subject,
        organization=organization,
        member=member,
        verified_at=timezone.now(),
        verification_method="sms",
        original_due_on=today + timedelta(days=15),
        due_on=today + timedelta(days=15),
        **fields,
    )


def built(data_request, django_capture_on_commit_callbacks) -> ExportArchive:
    """Start the export; the eager Celery task runs after commit."""
    with django_capture_on_commit_callbacks(execute=True):
        archive = fulfilment.start_export(data_request)
    archive.refresh_from_db()
    return archive


def unzip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


@pytest.fixture
def person_world():
    """A person with data everywhere, and another person in the same organization."""
    person = UserFactory(name="Exporting Person", nickname="Exy")
    other = UserFactory(name="Other Person Zed")
    organization = OrganizationFactory(name="Export Co.")
    admin = UserFactory(name="Admin Alice Secret")
    AdministratorFactory(organization=organization, user=admin, role="owner")
    data = populate(organization, members=3, records_per_member=2, users=[person, other], tag="exp")
    IdentityVerification.objects.create(
        user=person, legal_name="Legal Exporting Name", id_number="110105199001010011", id_number_digest="d" * 64
    )
    ConsentRecord.objects.create(user=person, purpose="marketing", decision="granted", channel="web", actor="self")
    ConsentRecord.objects.create(user=other, purpose="marketing", decision="granted", channel="web", actor="self")
    app = Service.objects.create(code="hrapp", name="HR App", kind=ServiceKind.THIRD_PARTY, provider_name="HR Ltd")
    Disclosure.objects.create(service=app, organization=organization, member=data.members[0], scopes=["name"])
    PersonalAuthorization.objects.create(user=person, service=app)
    AutomatedDecision.objects.create(
        subject=person, organization=organization, system="Shift planner", decision="Night shifts", explanation="Load"
    )
    record_event("member.updated", actor=admin, subject=person, organization=organization, ip="203.0.113.77")
    record_event("account.signed_in", actor=person, subject=person, ip="198.51.100.5")
    earlier = make_request(subject=person, kind=RequestKind.CORRECTION, field="position", proposed_value="Boss")
    RequestEvent.objects.create(request=earlier, kind="note", text="Internal handler remark", internal=True)
    RequestEvent.objects.create(request=earlier, kind="message", text="We are on it", internal=False)
    other_members = [member.name for member in data.members[1:]]
    return person, other, data, other_members


def test_archive_holds_every_section_and_nothing_about_anyone_else(person_world, django_capture_on_commit_callbacks):
    """REQ-7: every section as JSON (parsing), tabular ones also as CSV with headers, a
    README and a manifest whose hashes match; other people's data never appears."""
    person, other, data, other_members = person_world
    archive = built(make_request(subject=person), django_capture_on_commit_callbacks)
    assert archive.status == ExportStatus.READY
    assert archive.sections_done == archive.sections_total == len(SECTION_NAMES)
    raw = fulfilment.download_export(archive, user=person)
    assert hashlib.sha256(raw).hexdigest() == archive.sha256 and len(raw) == archive.size
    contents = unzip(raw)

    for section in exporting.SECTIONS:
        assert f"{section.name}.json" in contents
        json.loads(contents[f"{section.name}.json"])
        if section.columns and not section.single:
            reader = csv.reader(io.StringIO(contents[f"{section.name}.csv"].decode("utf-8-sig")))
            assert tuple(next(reader)) == section.columns
    manifest = json.loads(contents["manifest.json"])
    listed = {entry["name"]: entry for entry in manifest["files"]}
    assert set(listed) | {"manifest.json"} == set(contents)
    for name, entry in listed.items():
        assert hashlib.sha256(contents[name]).hexdigest() == entry["sha256"]
        assert len(contents[name]) == entry["size"]
    assert "README.txt" in contents

    profile = json.loads(contents["profile.json"])
    assert profile["name"] == "Exporting Person" and profile["phone"] == person.phone
    assert json.loads(contents["identity_verification.json"])[0]["id_number"] == "110105199001010011"
    (membership,) = json.loads(contents["memberships.json"])
    assert membership["name"] == data.members[0].name and membership["organization"] == "Export Co."
    assert membership["mobile"] == data.members[0].mobile
    assert membership["household_registration"] is None  # not collected by the organization (ORG-5)
    assert len(json.loads(contents["attendance_punches.json"])) == 2
    assert len(json.loads(contents["work_logs.json"])) == 2
    assert json.loads(contents["drive_files.json"])[0]["name"] == "report-exp-0.pdf"
    assert json.loads(contents["consents.json"])[0]["purpose"] == "marketing"
    assert json.loads(contents["sharing.json"])[0]["service"] == "HR App"
    assert json.loads(contents["authorizations.json"])[0]["service"] == "HR App"
    assert json.loads(contents["automated_decisions.json"])[0]["decision"] == "Night shifts"
    (earlier,) = [r for r in json.loads(contents["requests.json"]) if r["kind"] == "correction"]
    assert [event["text"] for event in earlier["events"]] == ["We are on it"]
    audit = json.loads(contents["audit_events.json"])
    by = {event["action"]: event for event in audit}
    assert by["member.updated"]["by"] == "organization administrator" and by["member.updated"]["ip_address"] is None
    assert by["account.signed_in"]["by"] == "you" and by["account.signed_in"]["ip_address"] == "198.51.100.5"

    everything = b"".join(contents.values()).decode("utf-8", errors="replace")
    for foreign in [*other_members, "Other Person Zed", other.phone, "Admin Alice Secret", "203.0.113.77"]:
        assert foreign not in everything
    assert "Internal handler remark" not in everything
    assert data.members[1].mobile not in everything and "Log exp 1-0" not in everything


def test_operations_request_completes_when_the_archive_is_ready(django_capture_on_commit_callbacks):
    """REQ-7: an operations-routed access request is answered by its archive; the
    answer names the expiry."""
    person = UserFactory()
    data_request = make_request(subject=person)
    archive = built(data_request, django_capture_on_commit_callbacks)
    data_request.refresh_from_db()
    assert data_request.status == RequestStatus.COMPLETED
    assert timezone.localtime(archive.expires_at).strftime("%Y-%m-%d %H:%M") in data_request.answer
    assert AuditEvent.objects.filter(action="request.export_ready").count() == 1


def test_organization_request_waits_for_its_administrator(cast, django_capture_on_commit_callbacks):
    data_request = make_request(subject=cast.member_user, organization=cast.organization, member=cast.member)
    archive = built(data_request, django_capture_on_commit_callbacks)
    assert archive.status == ExportStatus.READY
    data_request.refresh_from_db()
    assert data_request.status == RequestStatus.IN_PROGRESS


def test_expiry_follows_the_setting(settings, django_capture_on_commit_callbacks):
    settings.REQUEST_EXPORT_TTL_HOURS = 5
    archive = built(make_request(subject=UserFactory()), django_capture_on_commit_callbacks)
    assert archive.expires_at - archive.ready_at == timedelta(hours=5)


def test_on_request_received_starts_only_verified_operations_exports(cast, django_capture_on_commit_callbacks):
    """REQ-7: filing hands every new request over; only a verified access request for
    operations staff gets its archive at once."""
    person = UserFactory()
    ops = make_request(subject=person)
    waiting = make_request(subject=person, status=RequestStatus.VERIFYING)
    org = make_request(subject=cast.member_user, organization=cast.organization, member=cast.member)
    correction = make_request(subject=person, kind=RequestKind.CORRECTION)
    with django_capture_on_commit_callbacks(execute=True):
        for data_request in (ops, waiting, org, correction):
            fulfilment.on_request_received(data_request.pk)
    assert list(ExportArchive.objects.values_list("request_id", flat=True)) == [ops.pk]
    assert ExportArchive.objects.get().status == ExportStatus.READY


def test_starting_twice_gives_the_same_archive(django_capture_on_commit_callbacks):
    data_request = make_request(subject=UserFactory(), organization=None)
    with django_capture_on_commit_callbacks(execute=False):
        first = fulfilment.start_export(data_request)
        second = fulfilment.start_export(data_request)
    assert first.pk == second.pk and ExportArchive.objects.count() == 1


# --------------------------------------------------------------------------- building


def test_build_is_idempotent(django_capture_on_commit_callbacks, settings, tmp_path):
    """A second run (a duplicate message) finds nothing to claim: one file, one event."""
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path)
    archive = built(make_request(subject=UserFactory()), django_capture_on_commit_callbacks)
    stored = archive.stored_file
    assert export_tasks.build_export(archive.pk) == "not claimed"
    archive.refresh_from_db()
    assert archive.stored_file == stored and archive.attempts == 1
    assert len(list(tmp_path.iterdir())) == 1
    assert AuditEvent.objects.filter(action="request.export_ready").count() == 1


def test_claim_is_compare_and_set():
    """REQ-7: one builder at a time; a builder whose heartbeat went stale is taken over,
    and the claim token fences the late one out (no progress, no archive)."""
    archive = ExportArchive.objects.create(request=make_request(subject=UserFactory()), sections_total=3)
    assert export_tasks.claim_archive(archive.pk, "first:1:a") == 1
    assert export_tasks.claim_archive(archive.pk, "second:2:b") is None  # its worker is alive
    ExportArchive.objects.filter(pk=archive.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    assert export_tasks.claim_archive(archive.pk, "second:2:b") == 2  # the first worker died
    assert export_tasks._mine(archive.pk, "first:1:a").update(sections_done=1) == 0  # the first lost its claim
    assert export_tasks._mine(archive.pk, "second:2:b").update(sections_done=1) == 1


def test_failed_attempts_are_capped(monkeypatch):
    """Each failed attempt is counted in the row; after five the archive fails for good
    and the recovery sweep leaves it."""

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(exporting, "build_archive", broken)
    archive = ExportArchive.objects.create(request=make_request(subject=UserFactory()), sections_total=3)
    for attempt in range(1, 6):
        assert export_tasks.build(archive.pk) == "failed"
        archive.refresh_from_db()
        assert archive.attempts == attempt and "disk full" in archive.last_error and archive.worker == ""
    assert archive.status == ExportStatus.FAILED
    assert export_tasks.build(archive.pk) == "not claimed"
    assert not export_tasks.needs_worker(timezone.now() + timedelta(hours=1)).exists()


def test_the_sweep_rebuilds_queued_and_stale_archives(monkeypatch):
    """REQ-7: the recovery sweep sends archives queued (their message lost) and those
    whose builder stopped beating; a live build and a fresh queue entry are left alone,
    and a second sweep right after sends nothing twice."""
    from dataprotection.tasks import recover_jobs

    calls = []
    monkeypatch.setattr(export_tasks.build_export, "delay", calls.append)
    person = UserFactory()
    long_ago = timezone.now() - timedelta(minutes=1)
    queued = ExportArchive.objects.create(request=make_request(subject=person), heartbeat_at=long_ago)
    ExportArchive.objects.create(request=make_request(subject=person))  # just queued: its message is on its way
    stale = ExportArchive.objects.create(
        request=make_request(subject=person), status=ExportStatus.BUILDING, worker="dead:1:x", heartbeat_at=long_ago
    )
    ExportArchive.objects.create(request=make_request(subject=person), status=ExportStatus.BUILDING, worker="alive:2:y")
    assert recover_jobs() == "enqueued 2 jobs, 2 export_archive"
    assert sorted(calls) == sorted([queued.pk, stale.pk])
    assert recover_jobs() == "enqueued 0 jobs"


def test_progress_is_recorded_per_section(monkeypatch, django_capture_on_commit_callbacks):
    seen = []
    real = exporting.build_archive

    def watching(user, *, reference, progress):
        def spy(done):
            progress(done)
            seen.append(ExportArchive.objects.values_list("sections_done", flat=True).get())

        return real(user, reference=reference, progress=spy)

    monkeypatch.setattr(exporting, "build_archive", watching)
    built(make_request(subject=UserFactory()), django_capture_on_commit_callbacks)
    assert seen == list(range(1, len(SECTION_NAMES) + 1))


def test_expired_archives_are_deleted(django_capture_on_commit_callbacks, client):
    person = UserFactory()
    archive = built(make_request(subject=person), django_capture_on_commit_callbacks)
    stored = archive.stored_file
    assert export_tasks.expire_exports() == "0 expired"
    ExportArchive.objects.filter(pk=archive.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    client.force_login(person)
    assert client.get(reverse("data_requests:export_download", args=[archive.pk])).status_code == 410
    assert export_tasks.expire_exports() == "1 expired"
    archive.refresh_from_db()
    assert archive.status == ExportStatus.EXPIRED and archive.stored_file == ""
    assert not files.is_stored_name(stored) or not (files._path(stored)).exists()


# --------------------------------------------------------------------------- downloading


DOWNLOAD_MATRIX = {"subject": 200, "agent": 404, "owner": 404, "staff": 404, "stranger": 404, "anonymous": 302}


@pytest.mark.parametrize("role", list(DOWNLOAD_MATRIX))
def test_only_the_requester_downloads(client, cast, role, django_capture_on_commit_callbacks):
    """REQ-7: nobody but the person the request is about downloads the archive -- not
    the agent who filed it, an administrator of the organization or staff. Downloads
    are counted and audited."""
    agent = UserFactory(name="Agent")
    data_request = make_request(
        subject=cast.member_user, organization=cast.organization, member=cast.member, agent=agent
    )
    archive = built(data_request, django_capture_on_commit_callbacks)
    users = {
        "subject": cast.member_user,
        "agent": agent,
        "owner": cast.owner,
        "staff": cast.staff,
        "stranger": cast.other_org_admin,
    }
    if role != "anonymous":
        client.force_login(users[role])
    response = client.get(reverse("data_requests:export_download", args=[archive.pk]))
    assert response.status_code == DOWNLOAD_MATRIX[role]
    status = client.get(reverse("data_requests:export_status", args=[archive.pk]))
    assert status.status_code == DOWNLOAD_MATRIX[role]
    archive.refresh_from_db()
    if role == "subject":
        assert response["Content-Type"] == "application/zip"
        assert response["Content-Disposition"].startswith("attachment;")
        assert "no-store" in response["Cache-Control"]
        assert "profile.json" in unzip(response.content)
        assert status.json()["ready"] and status.json()["percent"] == 100
        assert archive.downloads == 1
        assert AuditEvent.objects.filter(action="request.export_downloaded", actor=cast.member_user).count() == 1
    else:
        assert archive.downloads == 0
        assert not AuditEvent.objects.filter(action="request.export_downloaded").exists()


def test_download_panel(cast, django_capture_on_commit_callbacks):
    """The include shows progress while building, the download button and expiry when
    ready -- to the person only."""
    agent = UserFactory()
    data_request = make_request(subject=cast.member_user, agent=agent)
    with django_capture_on_commit_callbacks(execute=False):
        archive = fulfilment.start_export(data_request)

    def render(user):
        return render_to_string("requests/exports/download_panel.html", {"request": data_request, "user": user})

    building = render(cast.member_user)
    assert "<progress" in building and reverse("data_requests:export_status", args=[archive.pk]) in building
    assert "export-progress.js" in building
    export_tasks.build(archive.pk)
    ready = render(cast.member_user)
    assert 'data-testid="export-download"' in ready and "Available until" in ready
    assert 'data-testid="export-download"' not in render(agent)


# --------------------------------------------------------------------------- recovery


@pytest.mark.django_db(transaction=True)
def test_a_database_outage_during_the_build_costs_no_attempt(monkeypatch, settings, tmp_path):
    """REQ-7: the connection goes while the archive is built: the task waits for the
    database, gives the archive back to the queue with its attempt, and builds it again:
    ready, one attempt counted, one stored file."""
    from tests.dataprotection.test_anonymization_recovery import connection_lost

    settings.PRIVATE_MEDIA_ROOT = str(tmp_path)
    archive = ExportArchive.objects.create(request=make_request(subject=UserFactory()), sections_total=3)
    real = exporting.build_archive
    lost = []

    def flaky(user, *, reference, progress):
        if not lost:
            lost.append(True)
            progress(1)
            raise connection_lost()
        return real(user, reference=reference, progress=progress)

    monkeypatch.setattr(exporting, "build_archive", flaky)
    assert export_tasks.build_export(archive.pk) == "ready"
    archive.refresh_from_db()
    assert lost and (archive.status, archive.attempts, archive.worker) == (ExportStatus.READY, 1, "")
    assert len(list(tmp_path.iterdir())) == 1


def test_the_status_says_since_when_an_archive_waits_for_a_worker(client, db):
    """REQ-7: queued or building with no live worker: the poller's JSON (and the page it
    updates) say "waiting for a worker since ..." in the person's language; the API
    gives the moment."""
    person = UserFactory()
    long_ago = timezone.now() - timedelta(minutes=3)
    archive = ExportArchive.objects.create(request=make_request(subject=person), sections_total=3)
    client.force_login(person)
    url = reverse("data_requests:export_status", args=[archive.pk])
    state = client.get(url, headers={"accept-language": "en"}).json()
    assert (state["waiting_since"], state["waiting_text"]) == ("", "")  # just queued
    ExportArchive.objects.filter(pk=archive.pk).update(heartbeat_at=long_ago)
    since = timezone.localtime(long_ago).strftime("%H:%M")
    state = client.get(url, headers={"accept-language": "en"}).json()
    assert state["waiting_since"] == since and state["waiting_text"].startswith(f"Waiting for a worker since {since}.")
    state = client.get(url, headers={"accept-language": "zh-hans"}).json()
    assert state["waiting_text"].startswith(f"自 {since} 起正在等待后台进程处理")
    client.get(url, headers={"accept-language": "en"})  # the test thread reads English again
    with translation.override("en"):
        panel = render_to_string("requests/exports/download_panel.html", {"request": archive.request, "user": person})
    assert f"Waiting for a worker since {since}." in panel
    archive.refresh_from_db()
    assert fulfilment.export_progress(archive)["waiting_since"] == archive.heartbeat_at
    ExportArchive.objects.filter(pk=archive.pk).update(status=ExportStatus.READY, expires_at=timezone.now())
    archive.refresh_from_db()
    assert fulfilment.export_progress(archive)["waiting_since"] is None
