"""The row checks of a roster file (ORG-5, ORG-7, ORG-9, ORG-10, SEC-3): every row is
checked before anything is written, and each problem is reported with its row number as
in the file (the header is row 1), its column and a message. Pure code: the roster is
asked through a ``RosterSnapshot``.

Upsert by mobile: a row whose mobile number belongs to an existing roster entry of the
organization (found through the keyed-hash digest) UPDATES that entry -- blank cells
keep the stored value, a department moves the entry's primary placement -- and any
other row creates a new entry (status "invited") in its department, or in the root
department when the column is blank or absent.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.services.phones import normalize_mobile
from dataprotection.crypto import keyed_hasher
from dataprotection.identifiers import is_valid_id_number, normalize_id_number
from organizations.forms.roster import SENSITIVE_CLEANERS
from organizations.models import Member
from organizations.models.children import AGE_FIELD, CHILD_BASIC_FIELDS
from organizations.services.lookups import MOBILE_DIGEST_PURPOSE
from organizations.services.roster_import.columns import (
    CHOICE_FIELDS,
    DEPARTMENT,
    EMAIL_FIELDS,
    GUARDED_FIELDS,
    IMPORTABLE_FIELDS,
    TEXT_LIMITS,
    choice_lookup,
    mask_value,
)
from organizations.services.roster_import.parsing import unescape
from organizations.services.roster_import.snapshot import ExistingMember, RosterSnapshot

# Addresses Django's EmailValidator certainly accepts (dot-atom local part, LDH labels,
# a letters-only top-level domain); anything else goes through the validator itself.
_PLAIN_EMAIL = re.compile(
    r"^[A-Za-z0-9_%+\-]+(?:\.[A-Za-z0-9_%+\-]+)*@(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}\Z"
)


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


# Of a cell as an error shows it (on the page, in the report): a cell may hold up to the
# CSV reader's 131,072 characters, and an error never echoes more than an excerpt.
VALUE_CHARS = 100


def excerpt(text: str) -> str:
    return text if len(text) <= VALUE_CHARS else text[: VALUE_CHARS - 1] + "…"


@dataclass(frozen=True)
class RowError:
    row: int
    column: str
    value: str  # masked when the column is sensitive; at most an excerpt
    message: str

    def __post_init__(self):
        if len(self.value) > VALUE_CHARS:
            object.__setattr__(self, "value", excerpt(self.value))

    def as_dict(self) -> dict:
        return {"row": self.row, "column": self.column, "value": self.value, "message": self.message}


@dataclass
class PlannedRow:
    """A checked row: ``member_id`` set for an update; ``department_id`` ``None`` when
    nothing changes about the placement; ``values`` the cleaned, non-blank values."""

    row: int
    member_id: int | None
    department_id: int | None
    values: dict[str, str]
    mobile_digest: str = ""  # set by the checks, reused by the write


# Mainland mobile numbers as people type them: 11 digits starting with 1, perhaps +86.
_CN_MOBILE = re.compile(r"^(?:\+86)?(1[1-9]\d{9})$")


def _desc_matcher(desc, length: int) -> Callable[[str], object] | None:
    """``phonenumbers``' ``_is_number_matching_desc`` for national numbers of ``length``
    digits, compiled once: ``None`` where it can never match (no description, no
    pattern, or ``length`` not among the description's possible lengths)."""
    if desc is None or not desc.national_number_pattern:
        return None
    if len(desc.possible_length) > 0 and length not in desc.possible_length:
        return None
    return re.compile(desc.national_number_pattern).fullmatch


@lru_cache(maxsize=1)
def _cn_mobile_classifier() -> Callable[[str], bool]:
    """True when an 11-digit CN national number is one ``normalize_mobile`` accepts:
    ``is_valid_number`` (its type is not UNKNOWN) and ``number_type`` in
    ``MOBILE_TYPES``. The same decisions as phonenumbers' ``_number_type_helper``, in
    the same order, over the patterns of its own CN metadata compiled once."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region("CN")
    general = _desc_matcher(metadata.general_desc, 11)
    # Types checked before fixed line / mobile: a match there is not a mobile.
    others = [
        matcher
        for matcher in (
            _desc_matcher(getattr(metadata, name), 11)
            for name in (
                "premium_rate",
                "toll_free",
                "shared_cost",
                "voip",
                "personal_number",
                "pager",
                "uan",
                "voicemail",
            )
        )
        if matcher is not None
    ]
    fixed_line = _desc_matcher(metadata.fixed_line, 11)
    mobile = _desc_matcher(metadata.mobile, 11)
    same = bool(metadata.same_mobile_and_fixed_line_pattern)

    def is_mobile(national: str) -> bool:
        if general is None or not general(national):
            return False  # UNKNOWN: not a valid number
        for matcher in others:
            if matcher(national):
                return False
        if fixed_line is not None and fixed_line(national):
            return same or (mobile is not None and bool(mobile(national)))  # FIXED_LINE_OR_MOBILE or FIXED_LINE
        return not same and mobile is not None and bool(mobile(national))  # MOBILE or UNKNOWN

    return is_mobile


class MobileNormalizer:
    """``normalize_mobile`` with a fast path for the common case.

    A mainland mobile number typed as 11 digits starting with 1 (spaces, dashes or a
    +86 allowed) parses to country code 86 and those 11 digits: phonenumbers' CN
    national prefixes ("0" and the carrier codes 11xxx, 12xxx, 179xx) never start a
    mobile number, so nothing is stripped. Such a number is accepted when
    phonenumbers' own CN patterns classify it as a mobile (``_cn_mobile_classifier``)
    -- exactly what ``normalize_mobile`` checks -- without the cost of ``parse`` and
    ``number_type``. Every other input, and every number the fast path does not
    accept, goes through ``normalize_mobile`` itself (and its messages).
    """

    def __init__(self):

        self.national_is_cn = settings.SMS_DEFAULT_REGION == "CN"
        self.is_mobile = _cn_mobile_classifier()

    def __call__(self, raw: str) -> str:
        compact = raw.replace(" ", "").replace("-", "")
        match = _CN_MOBILE.match(compact)
        if match is not None and (self.national_is_cn or compact.startswith("+")):
            national = match.group(1)
            if self.is_mobile(national):
                return "+86" + national
        return normalize_mobile(raw)


def _mobile_message(code: str | None) -> str:
    """``normalize_mobile``'s verdict without echoing the number (the report and the
    page show sensitive values masked)."""
    if code == "not_mobile":
        return _("This is not a mobile number; members join with their mobile phone.")
    return _("This is not a valid mobile number: check the digits and the country code.")


class RowChecker:
    """Checks rows one at a time against a ``RosterSnapshot``; remembers the employee
    numbers and mobiles seen so far to find duplicates within the file."""

    def __init__(
        self,
        snapshot: RosterSnapshot | None,
        header: list[str | None],
        labels: list[str],
        *,
        find_duplicates: bool = True,
    ):
        self.snapshot = snapshot
        # False for a part of a file checked on its own (``check_part``): duplicates
        # within the file are then found over all the parts by ``merge_parts``.
        self.find_duplicates = find_duplicates
        self.header = header
        self.labels = labels  # the column headers as written in the file
        self.fields = [name for name in header if name is not None and name != DEPARTMENT]
        self.seen_mobiles: dict[str, int] = {}
        self.seen_numbers: dict[str, int] = {}
        self.keys: list[tuple[int, str, str, bool]] = []  # (row, mobile, employee number, resolved)
        self.normalize_mobile = MobileNormalizer()
        self.mobile_digest = keyed_hasher(MOBILE_DIGEST_PURPOSE)  # ``mobile_digest``, keyed once
        self.choices = choice_lookup()
        self.limits = {
            name: TEXT_LIMITS.get(name) or Member._meta.get_field(name).max_length for name in IMPORTABLE_FIELDS
        }
        self.column_of = {name: labels[index] for index, name in enumerate(header) if name is not None}
        # Per column of the file: its index, field and cleaner (``_clean`` for that field).
        self.columns = [
            (index, name, self._cleaner(name))
            for index, name in enumerate(header)
            if name is not None and name != DEPARTMENT
        ]
        self.department_index = header.index(DEPARTMENT) if DEPARTMENT in header else None

    # ---------------------------------------------------------------- cells

    def _clean(self, name: str, value: str) -> str:
        """The stored form of one non-blank cell or ``ValidationError``."""
        if name == "mobile":
            try:
                return self.normalize_mobile(value)
            except ValidationError as exc:
                raise ValidationError(_mobile_message(exc.code)) from None
        if name in SENSITIVE_CLEANERS:  # ID number check digit, bank card Luhn
            return SENSITIVE_CLEANERS[name](value)
        if name in CHOICE_FIELDS:
            stored = self.choices[name].get(" ".join(value.split()).casefold())
            if stored is None:
                allowed = ", ".join(str(label) for _value, label in CHOICE_FIELDS[name].choices)
                raise ValidationError(_("Use one of: %(choices)s.") % {"choices": allowed})
            return stored
        if name in ("hired_on", AGE_FIELD):
            try:
                if not _DATE.match(value):
                    raise ValueError
                day = date.fromisoformat(value)
            except ValueError:
                raise ValidationError(_("Write the date as YYYY-MM-DD, for example 2024-03-01.")) from None
            if name == AGE_FIELD and day > timezone.localdate():
                raise ValidationError(_("A birthday cannot be in the future."))
            return day.isoformat()
        if name in EMAIL_FIELDS and not (len(value) <= 254 and _PLAIN_EMAIL.match(value)):
            validate_email(value)
        if name == "name":
            value = " ".join(value.split())
        if name == "id_number":
            value = normalize_id_number(value)
        limit = self.limits.get(name)
        if limit and len(value) > limit:
            raise ValidationError(_("At most %(limit)d characters.") % {"limit": limit})
        return value

    def _cleaner(self, name: str) -> Callable[[str], str]:
        """``_clean`` for one field: the same result or ``ValidationError``, with what
        depends only on the field decided once. The common valid values take a short
        path; anything else goes through ``_clean`` itself (and its messages)."""
        clean = self._clean
        if name == "mobile":
            normalize = self.normalize_mobile

            def mobile(value: str) -> str:
                try:
                    return normalize(value)
                except ValidationError as exc:
                    raise ValidationError(_mobile_message(exc.code)) from None

            return mobile
        if name == "id_number":  # ``clean_id_number``: normalized, then checked

            def id_number(value: str) -> str:
                normalized = normalize_id_number(value)
                return normalized if is_valid_id_number(normalized) else clean(name, value)

            return id_number
        if name in SENSITIVE_CLEANERS:  # bank card: ``_clean`` hands it to the form's cleaner as is
            return SENSITIVE_CLEANERS[name]
        if name in CHOICE_FIELDS or name in ("hired_on", AGE_FIELD):
            return lambda value: clean(name, value)
        limit = self.limits.get(name) or 0
        if name in EMAIL_FIELDS:

            def email(value: str) -> str:
                if len(value) <= 254 and _PLAIN_EMAIL.match(value) and not (limit and len(value) > limit):
                    return value
                return clean(name, value)

            return email
        if name == "name":

            def person(value: str) -> str:
                spaced = " ".join(value.split())
                return spaced if not (limit and len(spaced) > limit) else clean(name, value)

            return person
        return lambda value: value if not (limit and len(value) > limit) else clean(name, value)

    # ---------------------------------------------------------------- rows

    def check(self, number: int, cells: list[str]) -> tuple[PlannedRow | None, list[RowError]]:
        errors: list[RowError] = []
        values: dict[str, str] = {}
        width = len(cells)
        header = self.header
        if width > len(header) and any(cell.strip() for cell in cells[len(header) :]):
            errors.append(RowError(number, "", "", _("This row has more cells than the header has columns.")))
        for index, name, clean in self.columns:
            raw = cells[index].strip() if index < width else ""
            if not raw:
                continue
            if raw[0] == "'":
                raw = unescape(raw)
            try:
                values[name] = clean(raw)
            except ValidationError as exc:
                errors.append(RowError(number, self.labels[index], mask_value(name, raw), " ".join(exc.messages)))
        index = self.department_index
        department_text = unescape(cells[index].strip()) if index is not None and index < width else ""
        if "name" not in values and not any(e.column == self.column_of.get("name") for e in errors):
            errors.append(RowError(number, self.column_of["name"], "", _("Enter the member's name.")))
        if "mobile" not in values and not any(e.column == self.column_of.get("mobile") for e in errors):
            errors.append(RowError(number, self.column_of["mobile"], "", _("Enter the mobile number.")))
        if errors:
            # Still remember the keys, so that a later copy of this row is reported too.
            self._remember(number, values, resolved=False)
            return None, errors
        planned = PlannedRow(number, None, None, values)
        errors = self.resolve(planned, department_text, within_file=True)
        return (None if errors else planned), errors

    def duplicate_errors(
        self, number: int, mobile: str, employee_number: str, first_mobile: int | None, first_number: int | None
    ) -> list[RowError]:
        """The errors of a row whose mobile number or employee number is already on an
        earlier row of the file (``first_*``: that row, ``None`` when there is none)."""
        errors: list[RowError] = []
        if first_mobile is not None:
            errors.append(
                RowError(
                    number,
                    self.column_of.get("mobile"),
                    mask_value("mobile", mobile),
                    _("The same mobile number is already on row %(row)d.") % {"row": first_mobile},
                )
            )
        if first_number is not None:
            errors.append(
                RowError(
                    number,
                    self.column_of.get("employee_number"),
                    employee_number,
                    _("The same employee number is already on row %(row)d.") % {"row": first_number},
                )
            )
        return errors

    def _remember(self, number: int, values: dict[str, str], *, resolved: bool) -> None:
        if not self.find_duplicates:
            # For ``merge_parts``: the keys of the row, and whether its duplicates are
            # errors of its own (``resolve`` ran: the row had no error in its cells).
            mobile, employee_number = values.get("mobile", ""), values.get("employee_number", "")
            if mobile or employee_number:
                self.keys.append((number, mobile, employee_number, resolved))
            return
        if values.get("mobile"):
            self.seen_mobiles.setdefault(values["mobile"], number)
        if values.get("employee_number"):
            self.seen_numbers.setdefault(values["employee_number"], number)

    def resolve(self, planned: PlannedRow, department_text: str | None, *, within_file: bool) -> list[RowError]:
        """The checks against the roster and the uploader's rights; sets the member to
        update and the department on ``planned``. Run again at import time on a fresh
        snapshot (``within_file=False``, ``department_text=None``: the department chosen
        at check time is kept) to catch what changed since the check."""
        snapshot, number, values = self.snapshot, planned.row, planned.values
        errors: list[RowError] = []
        column = self.column_of.get
        mobile = values["mobile"]
        employee_number = values.get("employee_number", "")
        if within_file:
            if self.find_duplicates:
                errors += self.duplicate_errors(
                    number,
                    mobile,
                    employee_number,
                    self.seen_mobiles.get(mobile),
                    self.seen_numbers.get(employee_number) if employee_number else None,
                )
            self._remember(number, values, resolved=True)
        planned.mobile_digest = self.mobile_digest(mobile)
        existing = snapshot.members_by_digest.get(planned.mobile_digest)
        if within_file:
            planned.member_id = existing.pk if existing is not None else None
        elif (existing.pk if existing is not None else None) != planned.member_id:
            errors.append(
                RowError(
                    number,
                    column("mobile"),
                    mask_value("mobile", mobile),
                    _(
                        "The roster entry with this mobile number changed since the file was checked; "
                        "upload the file again."
                    ),
                )
            )
            return errors
        if employee_number:
            owner = snapshot.employee_numbers.get(employee_number)
            if owner is not None and (existing is None or owner != existing.pk):
                errors.append(
                    RowError(
                        number,
                        column("employee_number"),
                        employee_number,
                        _("Another member of this organization already has this employee number."),
                    )
                )

        child_error = self._child_error(number, values, existing)
        if child_error is not None:
            errors.append(child_error)

        # The department: where a new entry goes, or where an existing one moves.
        department_column = column(DEPARTMENT) or column("name")
        target: tuple[int, str] | None = None
        if department_text is None:  # import time: the department chosen at check time
            if planned.department_id is not None:
                target = snapshot.by_pk.get(planned.department_id)
                if target is None:
                    errors.append(
                        RowError(
                            number, department_column, "", _("This department was deleted since the file was checked.")
                        )
                    )
        elif department_text:
            found = snapshot.department(department_text)
            if found is None:
                errors.append(
                    RowError(
                        number,
                        department_column,
                        department_text,
                        _("There is no department “%(name)s”. Write its path, e.g. Sales/Sales East.")
                        % {"name": excerpt(department_text)},
                    )
                )
            elif found is False:
                errors.append(
                    RowError(
                        number,
                        department_column,
                        department_text,
                        _("Several departments are called “%(name)s”; write the full path, e.g. Sales/%(name)s.")
                        % {"name": excerpt(department_text)},
                    )
                )
            else:
                target = found
        elif existing is None:
            target = snapshot.root
            if target is None:
                errors.append(RowError(number, department_column, "", _("The organization has no department yet.")))

        # The uploader's rights: edit_roster where the row writes, view_sensitive too
        # when it fills sensitive fields (ORG-9, ORG-10).
        guarded = [name for name in values if name in GUARDED_FIELDS]
        scopes: list[tuple[str, ...]] = []
        if existing is not None:
            scopes.append(existing.paths)
            if not snapshot.allowed("edit_roster", existing.paths):
                errors.append(
                    RowError(
                        number,
                        column("mobile"),
                        mask_value("mobile", mobile),
                        _("This mobile number belongs to a member outside the departments whose roster you may edit."),
                    )
                )
        if target is not None:
            scopes.append((target[1],))
            if not snapshot.allowed("edit_roster", (target[1],)):
                errors.append(
                    RowError(
                        number,
                        department_column,
                        department_text or "",
                        _("You may not add members to this department; choose a department whose roster you may edit."),
                    )
                )
            if existing is not None and target[0] in existing.department_ids:
                target = None  # already placed there: nothing to move
        if guarded and not all(snapshot.allowed("view_sensitive", paths) for paths in scopes):
            errors.append(self._sensitive_error(number, guarded))
        planned.department_id = target[0] if target is not None else None
        return errors

    def first_conflict(self, rows: list[PlannedRow], *, creates_unchanged: bool | None = None) -> RowError | None:
        """The import-time re-check of the planned rows on a fresh snapshot: the first
        error ``resolve(row, None, within_file=False)`` finds, in row order, or ``None``.

        New entries -- usually all the rows -- are checked set-wise: none of their
        mobiles and employee numbers may be on the roster now, and their departments
        must still exist and be ones the uploader may add to (and fill sensitive fields
        in, for the rows that do). Those are exactly the conditions under which
        ``resolve`` finds nothing on such a row; then only the updates go through
        ``resolve``. When any condition fails, every row goes through ``resolve``, so
        the error reported is the same first error as row by row.

        ``creates_unchanged``: the verdict of ``creates_unchanged`` when the caller has
        already asked it (from the columns of the plan); ``rows`` may then hold only the
        updates when it is true."""
        if creates_unchanged is None:
            digest = self.mobile_digest
            creates = [row for row in rows if row.member_id is None]
            for row in creates:
                row.mobile_digest = digest(row.values["mobile"])
            guarded = [name for name in self.fields if name in GUARDED_FIELDS]
            creates_unchanged = self.creates_unchanged(
                (row.mobile_digest for row in creates),
                (row.values.get("employee_number") for row in creates),
                {row.department_id for row in creates},
                lambda restricted: {
                    row.department_id
                    for row in creates
                    if row.department_id in restricted and any(name in row.values for name in guarded)
                },
            )
        checked: Iterable[PlannedRow] = rows
        if creates_unchanged:
            checked = [row for row in rows if row.member_id is not None]
        for row in checked:
            errors = self.resolve(row, None, within_file=False)
            if errors:
                return errors[0]
        return None

    def creates_unchanged(
        self,
        mobile_digests: Iterable[str],
        employee_numbers: Iterable[str | None],
        departments: set[int | None],
        sensitive_in: Callable[[set[int]], set[int]],
    ) -> bool:
        """True when ``resolve`` finds nothing on any of the new entries described:
        their mobile digests and (non-blank) employee numbers, the departments they go
        to, and ``sensitive_in(restricted)``: which of the ``restricted`` departments
        (those where the uploader may not view sensitive fields) get an entry that
        fills a sensitive field -- asked only when there are such departments."""
        snapshot = self.snapshot
        if not snapshot.members_by_digest.keys().isdisjoint(mobile_digests):
            return False
        if not snapshot.employee_numbers.keys().isdisjoint(number for number in employee_numbers if number):
            return False
        if not departments <= snapshot.by_pk.keys():  # also None: no department chosen
            return False
        if not all(snapshot.allowed("edit_roster", (snapshot.by_pk[pk][1],)) for pk in departments):
            return False
        if not any(name in GUARDED_FIELDS for name in self.fields):
            return True
        restricted = {pk for pk in departments if not snapshot.allowed("view_sensitive", (snapshot.by_pk[pk][1],))}
        return not restricted or not sensitive_in(restricted)

    def _child_error(self, number: int, values: dict[str, str], existing: ExistingMember | None) -> RowError | None:
        """SEC-3: a child's row (by its birthday, else the entry's) may fill only the
        basic fields until the child's entry has a guardian's consent in force and the
        organization a designated children's data officer. A new entry never has one."""
        snapshot = self.snapshot
        if not snapshot.child_cutoff:
            return None
        birthday = values.get(AGE_FIELD)
        if birthday is not None:
            child = birthday > snapshot.child_cutoff  # ISO dates compare as text
        else:
            child = existing is not None and existing.pk in snapshot.stored_children
        if not child:
            return None
        extended = [name for name in values if name not in CHILD_BASIC_FIELDS]
        if not extended:
            return None
        if existing is not None and existing.pk in snapshot.guardian_consented and snapshot.children_officer:
            return None
        return RowError(
            number,
            self.column_of.get(AGE_FIELD) or self.column_of.get("name", ""),
            values.get(AGE_FIELD, ""),
            _(
                "Guardian consent needed: this member is a child, so only the basic fields can be imported until a "
                "guardian's consent is recorded on their roster entry (%(fields)s)."
            )
            % {"fields": ", ".join(f"“{self.column_of[name]}”" for name in extended)},
        )

    def _sensitive_error(self, number: int, guarded: list[str]) -> RowError:
        return RowError(
            number,
            self.column_of[guarded[0]],
            "",
            _("You may not fill %(fields)s for members in this department: you cannot view sensitive fields there.")
            % {"fields": ", ".join(f"“{self.column_of[name]}”" for name in guarded)},
        )
