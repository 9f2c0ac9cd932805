"""An organization with a row in every table that holds organization data, every
personal column filled with a value that appears nowhere else: what the anonymization
tests disband and then search for (ORG-11, ANON-2, ANON-7)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils import timezone

from dataprotection.audit import record_event
from dataprotection.crypto import keyed_hash
from dataprotection.files import store_encrypted
from organizations.models import (
    Administrator,
    AdministratorRole,
    ApprovalRecord,
    AttendancePunch,
    BiometricTemplate,
    Certification,
    Department,
    DriveFile,
    ExternalContactCard,
    FamilyContact,
    Invitation,
    Member,
    MemberDepartment,
    Organization,
    RosterImport,
    ScheduleEntry,
    UploadAttestation,
    WorkLog,
)
from organizations.services.grants import grant_rights


@dataclass
class Populated:
    organization: Organization
    members: list[Member]
    values: set[str] = field(default_factory=set)  # every personal value written
    files: list[str] = field(default_factory=list)  # stored private files
    counts: dict[str, int] = field(default_factory=dict)


def populate(
    organization: Organization,
    *,
    members: int = 6,
    records_per_member: int = 3,
    users: list | None = None,
    tag: str = "",
) -> Populated:
    """Fill ``organization``; ``users`` (optional) are linked to the first roster
    entries, as people who joined. ``tag`` keeps values distinct between organizations."""
    now = timezone.now()
    tag = tag or f"o{organization.pk}"
    result = Populated(organization, [])
    values = result.values

    def v(text: str) -> str:
        values.add(text)
        return text

    root = Department.objects.filter(organization=organization, parent=None).first()
    if root is None:
        root = Department.objects.create(organization=organization, name=f"{organization.name} root")
        root.path = root.compute_path()
        root.save(update_fields=["path"])
    users = users or []
    roster = []
    for i in range(members):
        mobile = f"+861390{organization.pk % 100:02d}{i:05d}"
        roster.append(
            Member(
                organization=organization,
                user=users[i] if i < len(users) else None,
                status="active",
                name=v(f"成员{tag}n{i}"),
                employee_number=v(f"E{tag}x{i:05d}"),
                position=v(f"Position {tag} {i}"),
                grade=v(f"G{tag}{i}"),
                labor_contract_status="regular",
                office_email=v(f"office{i}.{tag}@example.com"),
                office_phone=v(f"0571-8{organization.pk % 10}{i:05d}"),
                mobile=v(mobile),
                mobile_digest=keyed_hash(mobile, "test"),
                id_number=v(f"11010519900101{i:04d}"[:18]),
                id_number_digest=keyed_hash(f"id{i}{tag}", "test"),
                bank_card=v(f"62220200{organization.pk % 100:02d}{i:06d}"),
                hired_on=dt.date(2020, 1, 1) + dt.timedelta(days=i),
                household_registration=v(f"Household {tag} {i}"),
                fixed_phone=v(f"0571-6{i:06d}{tag}"),
                personal_email=v(f"me{i}.{tag}@example.net"),
                home_address=v(f"{i} Home Road {tag}"),
                office_address=v(f"{i} Office Road {tag}"),
                school=v(f"School {tag} {i}"),
                major=v(f"Major {tag} {i}"),
                degree="bachelor",
                bank_name=v(f"Bank {tag} {i}"),
                emergency_contact_name=v(f"Emergency {tag} {i}"),
                emergency_contact_relation=v(f"Relation {tag} {i}"),
                emergency_contact_phone=v(f"+86137{organization.pk % 100:02d}{i:06d}"),
                student_grade=v(f"Year {tag} {i}"),
                student_class=v(f"Class {tag} {i}"),
                student_photo_ref=v(f"photo-{tag}-{i}"),
            )
        )
    result.members = Member.objects.bulk_create(roster)
    MemberDepartment.objects.bulk_create(MemberDepartment(member=m, department=root) for m in result.members)
    punches, approvals, logs, schedules, drives, cards, contacts, biometrics = [], [], [], [], [], [], [], []
    for i, member in enumerate(result.members):
        stored = store_encrypted(f"drive {tag} {i}".encode(), "organizations.drive")
        result.files.append(stored)
        for k in range(records_per_member):
            punches.append(
                AttendancePunch(
                    organization=organization,
                    member=member,
                    punched_at=now - dt.timedelta(days=k, minutes=i),
                    kind="in",
                    latitude=Decimal("30.274084"),
                    longitude=Decimal("120.155070"),
                    address=v(f"Punch place {tag} {i}-{k}"),
                    photo_ref=v(f"punch-{tag}-{i}-{k}"),
                )
            )
            approvals.append(
                ApprovalRecord(
                    organization=organization,
                    applicant=member,
                    kind="leave",
                    title=v(f"Leave of {tag} {i}-{k}"),
                    details=v(f"Because {tag} {i}-{k}"),
                    amount=Decimal("12.50"),
                    submitted_at=now,
                )
            )
            logs.append(
                WorkLog(organization=organization, member=member, day=now.date(), content=v(f"Log {tag} {i}-{k}"))
            )
            schedules.append(
                ScheduleEntry(
                    organization=organization,
                    member=member,
                    title=v(f"Meeting {tag} {i}-{k}"),
                    location=v(f"Room {tag} {i}-{k}"),
                    starts_at=now,
                    ends_at=now,
                )
            )
        drives.append(
            DriveFile(
                organization=organization,
                owner=member,
                name=v(f"report-{tag}-{i}.pdf"),
                size=10,
                storage_ref=stored,
            )
        )
        cards.append(
            ExternalContactCard(
                organization=organization,
                owner=member,
                name=v(f"Card {tag} {i}"),
                company=v(f"Company {tag} {i}"),
                title=v(f"Title {tag} {i}"),
                phone=v(f"+86135{organization.pk % 100:02d}{i:06d}"),
                email=v(f"card{i}.{tag}@example.org"),
            )
        )
        contacts.append(
            FamilyContact(
                organization=organization,
                student=member,
                name=v(f"Parent {tag} {i}"),
                relation=v(f"Mother {tag} {i}"),
                phone=v(f"+86136{organization.pk % 100:02d}{i:06d}"),
            )
        )
        biometrics.append(
            BiometricTemplate(organization=organization, member=member, kind="face", template=v(f"TPL{tag}{i}"))
        )
    for model, rows in (
        (AttendancePunch, punches),
        (ApprovalRecord, approvals),
        (WorkLog, logs),
        (ScheduleEntry, schedules),
        (DriveFile, drives),
        (ExternalContactCard, cards),
        (FamilyContact, contacts),
        (BiometricTemplate, biometrics),
    ):
        model.objects.bulk_create(rows, batch_size=2000)
        result.counts[model._meta.label] = len(rows)
    for i, member in enumerate(result.members[: min(3, members)]):
        Invitation.objects.create(
            organization=organization,
            member=member,
            token_digest=keyed_hash(f"token{tag}{i}", "test"),
            message=v(f"Welcome {tag} {i}"),
            expires_at=now + dt.timedelta(days=7),
        )
    licence = store_encrypted(b"%PDF-licence", "organizations.certification.file")
    letter = store_encrypted(b"%PDF-letter", "organizations.certification.file")
    result.files += [licence, letter]
    Certification.objects.create(
        organization=organization,
        registration_number="91330100MA27XXXX1X",
        legal_representative_name=v(f"Legal rep {tag}"),
        legal_representative_id_number=v(f"33010619800101{organization.pk % 10000:04d}"),
        business_licence=licence,
        business_licence_type="application/pdf",
        certification_letter=letter,
        certification_letter_type="application/pdf",
        attestation=v(f"I attest {tag}"),
        status="approved",
        review_reason=v(f"Looks right {tag}"),
    )
    upload = store_encrypted(b"name,mobile\n", "organizations.import.file")
    result.files.append(upload)
    attestation = UploadAttestation.objects.create(organization=organization, kind="import", text="consented")
    RosterImport.objects.create(
        organization=organization,
        file_name=v(f"roster-{tag}.csv"),
        file_format="csv",
        file_ref=upload,
        status="completed",
        attestation=attestation,
        error_preview=[{"row": 2, "message": v(f"bad row {tag}")}],
    )
    if users:
        admin_user = users[0]
        if not Administrator.objects.filter(organization=organization, user=admin_user).exists():
            admin = Administrator.objects.create(
                organization=organization, user=admin_user, role=AdministratorRole.SUB_ADMIN
            )
            admin.scope.add(root)
            grant_rights(admin_user, ["view_roster"], root)
            grant_rights(admin_user, ["view_sensitive"], organization)
    record_event(
        "member.updated",
        target=result.members[0],
        organization=organization,
        subject=result.members[0].user,
        changes=["position"],
        metadata={"before": {"position": f"Position {tag} 0"}, "after": {"position": v(f"Renamed {tag}")}},
    )
    return result


# --------------------------------------------------------------------------- scanning and snapshots


def org_rows(organization_id: int):
    """Every row of every table that holds this organization's data, as (label, dict)."""
    from dataprotection import anonymization
    from organizations.services import disband

    for spec in disband.disband_stages(organization_id):
        model = anonymization.model_of(spec.model)
        names = [f.attname for f in model._meta.concrete_fields]
        for obj in anonymization.base_queryset(model).filter(**spec.lookup).order_by("pk"):
            yield spec.model, {name: getattr(obj, name) for name in names}


def residue(organization_id: int, values: set[str]) -> list[tuple[str, str]]:
    """(table, column) of every personal value of ``values`` still found in the
    organization's rows: an exact match, or (text, JSON) one of the longer values inside.

    The substring search is memoized per distinct text: after a cascade only a handful
    of distinct texts are left, so scanning thousands of rows stays cheap."""
    long_values = [v for v in values if len(v) > 6]
    seen: dict[str, bool] = {}

    def contains(text: str) -> bool:
        if text not in seen:
            seen[text] = any(v in text for v in long_values)
        return seen[text]

    found = []
    for label, row in org_rows(organization_id):
        for name, value in row.items():
            text = str(value) if value is not None else ""
            if text in values or (isinstance(value, (str, dict, list)) and contains(text)):
                found.append((label, name))
    return found


def snapshot(organization_id: int) -> dict[str, list[dict]]:
    """Every column of every row of the organization's tables, by table, in key order:
    compared exactly before and after to prove nothing changed."""
    tables: dict[str, list[dict]] = {}
    for label, row in org_rows(organization_id):
        tables.setdefault(label, []).append(row)
    return tables


def job_content(job) -> dict[str, list[tuple]]:
    """What a finished job left in the rows its stages cover, comparable between two
    identically populated organizations: per stage, in key order, the columns the engine
    wrote plus every other column that is not a key, a reference or a timestamp (those
    differ between two organizations by construction)."""
    from django.db import models

    from dataprotection import anonymization

    content = {}
    for stage in job.stages.order_by("position"):
        model = anonymization.model_of(stage.model_label)
        written = set(anonymization.treatment(model, stage.extra).constants)
        columns = [
            f.attname
            for f in model._meta.concrete_fields
            if f.name in written
            or not (
                f.primary_key
                or f.is_relation
                or f.attname.endswith("_id")
                or f.attname
                in {"content_digest", "field_digests", "chain_seq", "chain_hash"}  # SEC-2: salted, per event
                or isinstance(f, (models.DateField, models.TimeField))  # DateTimeField is a DateField
            )
        ]
        rows = anonymization.stage_queryset(stage).order_by("pk").values_list(*columns)
        content[stage.model_label] = [tuple(row) for row in rows]
    return content


def stage_counters(job) -> dict[str, tuple]:
    """(total, processed, changed, files_erased) per stage of ``job``."""
    rows = job.stages.order_by("position").values_list("model_label", "total", "processed", "changed", "files_erased")
    return {label: tuple(counts) for label, *counts in rows}
