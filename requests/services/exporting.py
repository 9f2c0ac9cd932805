"""The archive answering an access or portability request (REQ-7): every piece of
personal data held about the person, as a ZIP of JSON (every section) and CSV (the
tabular ones), with a README.txt and a manifest.json (row counts and the SHA-256 of
every file).

What goes in, and what deliberately does not:

- It is the person's own data, given in full: profile, identity verification (legal
  name and ID number in clear), their roster entries with every field the organization
  collects (ORG-5), activity records, consents, settings, requests, sharing records,
  audit events about them and automated decisions.
- Nothing about anyone else: audit events show who acted only as a kind (the person,
  an organization administrator, operations staff, the system), never the other
  account, and without metadata (it may quote other people); IP addresses only where the
  person acted; internal notes of handlers are left out (REQ-6 keeps them internal);
  requests filed as someone's agent are that other person's.
- Memory is bounded: rows are read with ``.iterator()`` and written to the ZIP as they
  come (CSV copies spill to a temporary file past 1 MB), and the ZIP itself is written
  to a temporary file.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal

from django.apps import apps
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Prefetch, Q
from django.db.models.fields.files import FieldFile
from django.utils import timezone

from accounts.models import IdentityVerification, User
from consent.models import ConsentRecord, Disclosure, PersonalAuthorization, PolicyAcknowledgement, PrivacySettings
from consent.services.ledger import current_consents
from dataprotection.models import AuditEvent
from organizations.models import Member
from organizations.services import collection
from requests.models import AutomatedDecision, DataSubjectRequest, RequestEvent

# The encryption purpose of a stored archive (``ExportArchive.stored_file``).
EXPORT_PURPOSE = "requests.export"
ROWS_PER_QUERY = 500
SPOOL_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Section:
    """One part of the archive: ``rows(user)`` yields dicts (or, for an ``object``
    section, one dict); ``columns`` are the CSV header (none: JSON only)."""

    name: str
    title: str
    rows: Callable[[object], Iterable[dict]]
    columns: tuple[str, ...] = ()
    single: bool = False


def _iso(value):
    if isinstance(value, FieldFile):
        return value.name or None
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _row(obj, names: Iterable[str]) -> dict:
    return {name: _iso(getattr(obj, name)) for name in names}


# --------------------------------------------------------------------------- sections


PROFILE_FIELDS = (
    "phone",
    "name",
    "nickname",
    "avatar",
    "gender",
    "birthday",
    "work_region",
    "company_email",
    "preferred_language",
    "data_region",
    "is_active",
    "date_joined",
    "last_login",
)


def profile(user) -> Iterator[dict]:
    account = User.objects.get(pk=user.pk)
    yield {name: _iso(getattr(account, name)) for name in PROFILE_FIELDS}


def identity_verification(user) -> Iterator[dict]:
    rows = IdentityVerification.objects.filter(user_id=user.pk).order_by("pk")
    for row in rows.iterator(chunk_size=ROWS_PER_QUERY):
        yield _row(row, ("legal_name", "id_number", "status", "submitted_at"))


def memberships(user) -> Iterator[dict]:
    """Every roster entry linked to the account, with the fields its organization
    collects (ORG-5: a field not collected is not the organization's to hold) and its
    departments."""
    collected_by_org: dict[int, frozenset[str]] = {}
    fields = _member_fields()
    members = (
        Member.objects.filter(user_id=user.pk)
        .select_related("organization")
        .prefetch_related("departments")
        .order_by("pk")
    )
    for member in members.iterator(chunk_size=ROWS_PER_QUERY):
        organization = member.organization
        if organization.pk not in collected_by_org:
            collected_by_org[organization.pk] = collection.collected_fields(organization)
        collected = collected_by_org[organization.pk]
        row = {
            "organization": organization.name,
            "status": member.status,
            "created_at": _iso(member.created_at),
            "departments": "; ".join(sorted(department.name for department in member.departments.all())),
        }
        for name in fields:
            row[name] = _iso(getattr(member, name)) if name in collected else None
        yield row


def _member_records(user, model_label: str, member_field: str, names: tuple[str, ...]) -> Iterator[dict]:
    model = apps.get_model(model_label)
    rows = (
        model.objects.filter(**{f"{member_field}__user_id": user.pk})
        .select_related("organization")
        .order_by("pk")
        .only("organization__name", *names)
    )
    for row in rows.iterator(chunk_size=ROWS_PER_QUERY):
        yield {"organization": row.organization.name, **_row(row, names)}


def _records(model_label: str, member_field: str, names: tuple[str, ...]) -> Callable[[object], Iterator[dict]]:
    def rows(user) -> Iterator[dict]:
        return _member_records(user, model_label, member_field, names)

    return rows


def consents(user) -> Iterator[dict]:
    """The consent ledger (every decision, CON-1) and, as the last object, the current
    state per purpose."""
    records = ConsentRecord.objects.filter(user_id=user.pk).select_related("policy_version").order_by("pk")
    for record in records.iterator(chunk_size=ROWS_PER_QUERY):
        yield {
            "purpose": record.purpose,
            "decision": record.decision,
            "policy_version": record.policy_version.version if record.policy_version_id else None,
            "channel": record.channel,
            "recorded_by": record.actor,
            "recorded_at": _iso(record.recorded_at),
        }


def consent_state(user) -> Iterator[dict]:
    for purpose, record in sorted(current_consents(user).items()):
        yield {"purpose": purpose, "decision": record.decision, "since": _iso(record.recorded_at)}


def privacy_settings(user) -> Iterator[dict]:
    settings_row = PrivacySettings.objects.filter(user_id=user.pk).first()
    if settings_row is None:
        yield {}
        return
    yield _row(settings_row, ("findable_by_phone", "device_permissions", "updated_at"))


def policy_acknowledgements(user) -> Iterator[dict]:
    rows = PolicyAcknowledgement.objects.filter(user_id=user.pk).select_related("version").order_by("pk")
    for row in rows.iterator(chunk_size=ROWS_PER_QUERY):
        yield {
            "edition": row.version.edition,
            "version": row.version.version,
            "language": row.language,
            "acknowledged_at": _iso(row.acknowledged_at),
        }


REQUEST_FIELDS = (
    "reference",
    "kind",
    "jurisdiction",
    "status",
    "received_at",
    "due_on",
    "closed_at",
    "details",
    "deletion_grounds",
    "field",
    "proposed_value",
    "outcome",
    "refusal_ground",
)


def data_requests(user) -> Iterator[dict]:
    """The person's requests (not those they filed as someone's agent) with the events
    they can see (internal notes stay with the handlers)."""
    visible = RequestEvent.objects.filter(internal=False).order_by("at", "pk")
    rows = (
        DataSubjectRequest.objects.filter(subject_id=user.pk)
        .select_related("organization")
        .prefetch_related(Prefetch("events", queryset=visible, to_attr="visible_events"))
        .order_by("pk")
    )
    for request in rows.iterator(chunk_size=ROWS_PER_QUERY):
        row = _row(request, REQUEST_FIELDS)
        row["outcome"] = request.answer  # the portal's answers in the person's language (the caller's)
        row["organization"] = request.organization.name if request.organization_id else None
        row["events"] = [
            {
                "at": _iso(event.at),
                "kind": event.kind,
                "from": event.from_status,
                "to": event.to_status,
                "text": event.display_text,
            }
            for event in request.visible_events
        ]
        yield row


def disclosures(user) -> Iterator[dict]:
    """SVC-5: which third parties received the person's data, directly or through an
    organization."""
    rows = (
        Disclosure.objects.filter(Q(user_id=user.pk) | Q(member__user_id=user.pk))
        .select_related("service", "organization")
        .order_by("pk")
    )
    for row in rows.iterator(chunk_size=ROWS_PER_QUERY):
        yield {
            "service": row.service.name,
            "provider": row.service.provider_name,
            "organization": row.organization.name if row.organization_id else None,
            "scopes": row.scopes,
            "first_shared_at": _iso(row.first_disclosed_at),
            "last_shared_at": _iso(row.last_disclosed_at),
            "times": row.times,
        }


def authorizations(user) -> Iterator[dict]:
    rows = PersonalAuthorization.objects.filter(user_id=user.pk).select_related("service").order_by("pk")
    for row in rows.iterator(chunk_size=ROWS_PER_QUERY):
        yield {
            "service": row.service.name,
            "provider": row.service.provider_name,
            "status": row.status,
            "granted_at": _iso(row.granted_at),
            "revoked_at": _iso(row.revoked_at),
        }


def _actor_kind(event, user) -> str:
    if event.actor_id == user.pk:
        return "you"
    if event.actor_kind == "staff":
        return "operations staff"
    if event.actor_kind == "system" or event.actor_id is None:
        return "system"
    return "organization administrator" if event.organization_id else "another person"


def audit_events(user) -> Iterator[dict]:
    rows = (
        AuditEvent.objects.filter(subject_user_id=user.pk)
        .only(
            "occurred_at", "action", "actor_id", "actor_kind", "organization_id", "target_type", "ip_address", "changes"
        )
        .order_by("pk")
    )
    for event in rows.iterator(chunk_size=ROWS_PER_QUERY):
        actor = _actor_kind(event, user)
        yield {
            "occurred_at": _iso(event.occurred_at),
            "action": event.action,
            "by": actor,
            "record_type": event.target_type,
            "fields": event.changes,
            # Only where the person acted: another actor's address is their data.
            "ip_address": event.ip_address if actor == "you" else None,
        }


def automated_decisions(user) -> Iterator[dict]:
    rows = AutomatedDecision.objects.filter(subject_id=user.pk).select_related("organization").order_by("pk")
    for row in rows.iterator(chunk_size=ROWS_PER_QUERY):
        yield {
            "organization": row.organization.name if row.organization_id else None,
            **_row(row, ("system", "decision", "explanation", "significant", "made_at")),
        }


def _member_fields() -> tuple[str, ...]:
    return (*collection.ALWAYS_COLLECTED, *(field.name for field in collection.CATALOG))


def _sections() -> tuple[Section, ...]:
    punches = ("punched_at", "kind", "latitude", "longitude", "address", "photo_ref")
    approvals = ("kind", "title", "details", "amount", "status", "submitted_at", "decided_at")
    return (
        Section("profile", "Your account profile", profile, single=True),
        Section(
            "identity_verification",
            "Identity verification (real-person authentication)",
            identity_verification,
            ("legal_name", "id_number", "status", "submitted_at"),
        ),
        Section(
            "memberships",
            "Your roster entries in organizations, with the fields each organization collects",
            memberships,
            ("organization", "status", "created_at", "departments", *_member_fields()),
        ),
        Section(
            "attendance_punches",
            "Attendance punches",
            _records("organizations.AttendancePunch", "member", punches),
            ("organization", *punches),
        ),
        Section(
            "approvals",
            "Approval requests you submitted",
            _records("organizations.ApprovalRecord", "applicant", approvals),
            ("organization", *approvals),
        ),
        Section(
            "work_logs",
            "Work logs",
            _records("organizations.WorkLog", "member", ("day", "content", "created_at")),
            ("organization", "day", "content", "created_at"),
        ),
        Section(
            "schedule_entries",
            "Schedule entries",
            _records("organizations.ScheduleEntry", "member", ("title", "location", "starts_at", "ends_at")),
            ("organization", "title", "location", "starts_at", "ends_at"),
        ),
        Section(
            "drive_files",
            "Files in organization drives (metadata)",
            _records("organizations.DriveFile", "owner", ("name", "content_type", "size", "uploaded_at")),
            ("organization", "name", "content_type", "size", "uploaded_at"),
        ),
        Section(
            "biometric_templates",
            "Biometric templates enrolled (which kind and when; the template itself is not readable data)",
            _records("organizations.BiometricTemplate", "member", ("kind", "enrolled_at")),
            ("organization", "kind", "enrolled_at"),
        ),
        Section(
            "consents",
            "Consent ledger: every consent decision recorded",
            consents,
            ("purpose", "decision", "policy_version", "channel", "recorded_by", "recorded_at"),
        ),
        Section("consent_state", "Your consents as they stand now", consent_state, ("purpose", "decision", "since")),
        Section("privacy_settings", "Privacy settings", privacy_settings, single=True),
        Section(
            "policy_acknowledgements",
            "Privacy policy versions you acknowledged",
            policy_acknowledgements,
            ("edition", "version", "language", "acknowledged_at"),
        ),
        Section(
            "requests",
            "Your data-subject requests and their history",
            data_requests,
            (*REQUEST_FIELDS, "organization"),
        ),
        Section(
            "sharing",
            "Third parties that received your data",
            disclosures,
            ("service", "provider", "organization", "scopes", "first_shared_at", "last_shared_at", "times"),
        ),
        Section(
            "authorizations",
            "Mini-programs and apps you authorized",
            authorizations,
            ("service", "provider", "status", "granted_at", "revoked_at"),
        ),
        Section(
            "audit_events",
            "Audit events about you (who acted is shown as a kind, not a person)",
            audit_events,
            ("occurred_at", "action", "by", "record_type", "fields", "ip_address"),
        ),
        Section(
            "automated_decisions",
            "Automated decisions about you",
            automated_decisions,
            ("organization", "system", "decision", "explanation", "significant", "made_at"),
        ),
    )


class _Sections:
    """The section list, built on first use (it reads the roster catalog)."""

    _cache: tuple[Section, ...] | None = None

    def __call__(self) -> tuple[Section, ...]:
        if self._cache is None:
            self._cache = _sections()
        return self._cache

    def __len__(self) -> int:
        return len(self())

    def __iter__(self):
        return iter(self())


SECTIONS = _Sections()


# --------------------------------------------------------------------------- writing


class _HashingWriter(io.RawIOBase):
    """Writes through to a ZIP entry, counting and hashing what goes in."""

    def __init__(self, target):
        self.target = target
        self.sha256 = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        data = bytes(data)
        self.sha256.update(data)
        self.size += len(data)
        self.target.write(data)
        return len(data)


def _csv_cell(value) -> str:
    """Plain text for spreadsheets: lists joined, and a leading =, +, - or @ quoted so a
    spreadsheet never runs it as a formula."""
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        value = json.dumps(value, ensure_ascii=False, cls=DjangoJSONEncoder)
    text = str(value)
    if text[:1] in ("=", "+", "-", "@"):
        return "'" + text
    return text


def _dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, cls=DjangoJSONEncoder)


@dataclass
class _Entry:
    name: str
    sha256: str
    size: int
    rows: int | None = None


def _write_entry(archive: zipfile.ZipFile, name: str, chunks: Iterable[bytes]) -> _Entry:
    with archive.open(name, "w", force_zip64=True) as raw:
        writer = _HashingWriter(raw)
        for chunk in chunks:
            writer.write(chunk)
    return _Entry(name, writer.sha256.hexdigest(), writer.size)


def _write_section(archive: zipfile.ZipFile, section: Section, user) -> list[_Entry]:
    """The section's JSON file (rows streamed as they are read) and, for a tabular
    section, its CSV copy (spooled, then written after the JSON entry is closed: a ZIP
    takes one entry at a time)."""
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES, mode="w+", encoding="utf-8", newline="") as spool:
        counted = {"rows": 0}
        csv_writer = None
        if section.columns and not section.single:
            csv_writer = csv.writer(spool)
            csv_writer.writerow(section.columns)

        def json_chunks() -> Iterator[bytes]:
            rows = iter(section.rows(user))
            if section.single:
                row = next(rows, {})
                counted["rows"] = 1 if row else 0
                yield _dumps(row).encode()
                return
            yield b"["
            first = True
            for row in rows:
                counted["rows"] += 1
                if csv_writer is not None:
                    csv_writer.writerow([_csv_cell(row.get(column)) for column in section.columns])
                yield (b"\n  " if first else b",\n  ") + json.dumps(
                    row, ensure_ascii=False, cls=DjangoJSONEncoder
                ).encode()
                first = False
            yield b"\n]\n" if not first else b"]\n"

        entries = [_write_entry(archive, f"{section.name}.json", json_chunks())]
        entries[0].rows = counted["rows"]
        if csv_writer is not None:
            spool.seek(0)

            def csv_chunks() -> Iterator[bytes]:
                yield "\ufeff".encode()  # spreadsheets read UTF-8 with the byte-order mark
                while chunk := spool.read(64 * 1024):
                    yield chunk.encode()

            entry = _write_entry(archive, f"{section.name}.csv", csv_chunks())
            entry.rows = counted["rows"]
            entries.append(entry)
        return entries


README = """Your personal data held by Custodia
===================================

Made for: {name}
Request: {reference}
Made at: {made_at}

Every file holding your data is here in JSON (for machines) and, for tables, also in
CSV (for spreadsheets, UTF-8). manifest.json lists every file with its number of rows
and its SHA-256 checksum.

{sections}

Nothing about other people is included: where someone else acted on your data (an
organization administrator, our operations staff), the audit events say which kind of
person acted, not who.
"""


def _avatar_entry(archive: zipfile.ZipFile, user) -> _Entry | None:
    """The person's profile picture itself, not only its name."""
    avatar = User.objects.get(pk=user.pk).avatar
    if not avatar or not avatar.name:
        return None
    try:
        with avatar.open("rb") as source:
            name = "files/avatar" + ("." + avatar.name.rsplit(".", 1)[-1] if "." in avatar.name else "")
            return _write_entry(archive, name, iter(lambda: source.read(64 * 1024), b""))
    except OSError:  # the file is gone: the profile still names it
        return None


def build_archive(user, *, reference: str, progress: Callable[[int], None] | None = None):
    """Write the archive of ``user`` to a temporary file and return it (positioned at
    the start; the caller closes it). ``progress(n)`` is called after each section."""
    output = tempfile.TemporaryFile()  # noqa: SIM115 - handed to the caller, who closes it
    entries: list[_Entry] = []
    sections = tuple(SECTIONS)
    with zipfile.ZipFile(output, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        for done, section in enumerate(sections, start=1):
            entries += _write_section(archive, section, user)
            if progress is not None:
                progress(done)
        avatar = _avatar_entry(archive, user)
        if avatar is not None:
            entries.append(avatar)
        made_at = timezone.now().isoformat()
        lines = []
        for section in sections:
            names = [e.name for e in entries if e.name.rsplit(".", 1)[0] == section.name]
            lines.append(f"- {section.title}: {', '.join(names)}")
        readme = README.format(
            name=user.name or user.phone, reference=reference, made_at=made_at, sections="\n".join(lines)
        )
        entries.append(_write_entry(archive, "README.txt", [readme.encode()]))
        manifest = {
            "reference": reference,
            "made_at": made_at,
            "files": [
                {"name": e.name, "sha256": e.sha256, "size": e.size, **({"rows": e.rows} if e.rows is not None else {})}
                for e in entries
            ],
        }
        _write_entry(archive, "manifest.json", [_dumps(manifest).encode()])
    output.seek(0)
    return output
