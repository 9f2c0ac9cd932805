"""Forms of the roster pages (ORG-7, ORG-10) and the audit log (SEC-2). They validate
input only; the views call ``organizations.services.roster``."""

from __future__ import annotations

import re

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from accounts.services.phones import normalize_mobile
from dataprotection.audit_labels import action_label
from dataprotection.identifiers import is_valid_bank_card
from dataprotection.validators import clean_id_number
from organizations.models import Member, MemberStatus
from organizations.services import collection
from organizations.services.roster import (
    AGE_FIELDS,
    ATTESTATION_TEXT,
    EDITABLE_FIELDS,
    LIFECYCLE_FIELDS,
    SENSITIVE_FIELDS,
    group_of,
    label,
    mask_value,
)

PAGE_SIZE = 50

# The roster's sortable columns (``?sort=key`` ascending, ``?sort=-key`` descending): a
# whitelist, so a query string never names a database column.
SORT_KEYS = ("name", "employee_number", "position", "department", "status")
DEFAULT_SORT = "name"
# Which entries the list shows: the current roster (invited and active) unless asked.
STATUS_FILTERS = {
    "current": (MemberStatus.INVITED, MemberStatus.ACTIVE),
    MemberStatus.INVITED: (MemberStatus.INVITED,),
    MemberStatus.ACTIVE: (MemberStatus.ACTIVE,),
    MemberStatus.LEFT: (MemberStatus.LEFT,),
    "all": None,
}
DEFAULT_STATUS = "current"


class RosterFilterForm(forms.Form):
    """The roster toolbar (GET). The department arrives as a key; the view resolves it
    against the departments in the administrator's scope (404 outside it). An unknown
    sort key or status falls back to the default, as a bad page number does."""

    q = forms.CharField(label=_("Search"), max_length=100, required=False, strip=True)
    department = forms.IntegerField(label=_("Department"), required=False, min_value=1)
    status = forms.ChoiceField(
        label=_("Show"),
        required=False,
        choices=[
            ("current", _("Current members")),
            (MemberStatus.INVITED, _("Invited only")),
            (MemberStatus.ACTIVE, _("Joined only")),
            (MemberStatus.LEFT, _("Former members (left)")),
            ("all", _("Everyone")),
        ],
    )
    sort = forms.ChoiceField(required=False, choices=[(key, key) for name in SORT_KEYS for key in (name, f"-{name}")])
    page = forms.IntegerField(required=False, min_value=1)

    def value(self, name: str, default=None):
        """The cleaned value, or ``default`` when it was missing or invalid."""
        if name in self.errors:
            return default
        return self.cleaned_data.get(name) or default


class MemberIdsField(forms.Field):
    """The ids of the selected roster entries (checkboxes named ``members``)."""

    widget = forms.MultipleHiddenInput
    default_error_messages = {"invalid": _("The selection is not valid; reload the roster and select again.")}

    def to_python(self, value):
        if not value:
            return []
        if isinstance(value, str):
            value = [value]
        try:
            ids = sorted({int(item) for item in value})
        except (TypeError, ValueError):
            raise ValidationError(self.error_messages["invalid"], code="invalid") from None
        if any(pk < 1 for pk in ids):
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return ids


class RosterSelectionForm(forms.Form):
    """A bulk action's POST: the selection and, to move it, the target department (a key
    among the departments where the administrator may edit the roster)."""

    members = MemberIdsField(required=False)
    target = forms.TypedChoiceField(label=_("Move to"), coerce=int, required=False, empty_value=None)
    confirm = forms.BooleanField(required=False)

    def __init__(self, *args, targets: list[tuple[int, str]] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["target"].choices = [("", _("Choose a department")), *targets]


class AuditFilterForm(forms.Form):
    """The audit log filters (GET); ``actions`` are the distinct actions recorded in
    the organization's trail."""

    action = forms.ChoiceField(label=_("Action"), required=False)
    actor = forms.CharField(label=_("Actor"), max_length=100, required=False, strip=True)
    date_from = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("Until"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    page = forms.IntegerField(required=False, min_value=1)

    def __init__(self, *args, actions: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["action"].choices = [
            ("", _("All actions")),
            *((action, action_label(action)) for action in actions),
        ]

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", ValidationError(_("The end date is before the start date."), code="order"))
        return cleaned


def _clean_mobile(value: str) -> str:
    return normalize_mobile(value)


def _clean_id_number(value: str) -> str:
    return clean_id_number(
        value, _("This is not a valid ID card number: check the 18 characters, the birth date and the check digit.")
    )


def _clean_bank_card(value: str) -> str:
    value = value.replace(" ", "").replace("-", "")
    if not is_valid_bank_card(value):
        raise ValidationError(
            _("This is not a valid bank card number: it has 12 to 19 digits and a correct check digit."),
            code="invalid",
        )
    return value


_PHONE_SHAPE = re.compile(r"^\+?[\d\s()\-]{5,32}$")


def _clean_phone(value: str) -> str:
    """A contact phone: a mobile (normalized to E.164) or a fixed line as typed."""
    try:
        return normalize_mobile(value)
    except ValidationError:
        pass
    if not _PHONE_SHAPE.match(value) or sum(char.isdigit() for char in value) < 5:
        raise ValidationError(_("Enter a phone number: digits, spaces, +, - and brackets only."), code="invalid")
    return " ".join(value.split())


SENSITIVE_CLEANERS = {"mobile": _clean_mobile, "id_number": _clean_id_number, "bank_card": _clean_bank_card}
# The other sensitive inputs of the edit form (the import checks these columns itself).
EDIT_CLEANERS = {**SENSITIVE_CLEANERS, "emergency_contact_phone": _clean_phone}
SENSITIVE_MAX_LENGTH = {"home_address": 200, "student_photo_ref": 100}


class MemberEditForm(forms.Form):
    """ORG-5, ORG-6, ORG-7: correct or supplement a roster entry.

    Only the fields the organization collects are offered (``collected``); a value
    posted for any other roster field is an error and nothing is written. The ORG-4
    fields come from the model. The sensitive ones (ORG-10) exist only when the
    administrator also holds ``view_sensitive`` on the member; they start empty -- the
    form never puts a value in clear into the page -- and a blank input keeps the stored
    value. Posting a sensitive field without the right is refused with an error. For a
    member who has not consented (``needs_attestation``) the form carries the ORG-6
    attestation checkbox; the service refuses changes beyond the basic fields without it.
    ``changes()`` gives the service the cleaned values to apply.
    """

    def __init__(
        self,
        *args,
        member: Member,
        allow_sensitive: bool,
        collected: frozenset[str],
        needs_attestation: bool = False,
        **kwargs,
    ):
        always = (*LIFECYCLE_FIELDS, *AGE_FIELDS)
        order = [name for name in EDITABLE_FIELDS if name in collected or name in always]
        self.plain_fields = [name for name in order if name not in SENSITIVE_FIELDS]
        self.sensitive_fields = [name for name in order if name in SENSITIVE_FIELDS]
        kwargs.setdefault("initial", {field: getattr(member, field) for field in self.plain_fields})
        super().__init__(*args, **kwargs)
        self.member = member
        self.allow_sensitive = allow_sensitive
        self.collected = collected
        self.fields.update(forms.fields_for_model(Member, fields=self.plain_fields))
        for name in ("hired_on", *AGE_FIELDS):
            if name in self.fields:
                self.fields[name].widget = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
        for name in ("office_phone", "fixed_phone"):
            if name in self.fields:
                self.fields[name].widget.attrs.update({"inputmode": "tel", "autocomplete": "off"})
        if allow_sensitive:
            for field in self.sensitive_fields:
                masked = mask_value(field, getattr(member, field))
                self.fields[field] = forms.CharField(
                    label=capfirst(Member._meta.get_field(field).verbose_name),
                    max_length=SENSITIVE_MAX_LENGTH.get(field, 32),
                    required=False,
                    strip=True,
                    widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
                    help_text=(
                        _("Currently %(masked)s. Leave blank to keep it.") % {"masked": masked}
                        if masked
                        else _("Not recorded. Leave blank to keep it empty.")
                    ),
                )
        self.needs_attestation = needs_attestation
        if needs_attestation:
            self.fields["attest"] = forms.BooleanField(
                label=ATTESTATION_TEXT,
                required=False,
                help_text=_(
                    "%(name)s has not joined yet. Fields beyond the basic ones can only be filled with this "
                    "confirmation; it is kept as a record."
                )
                % {"name": member.name},
            )

    def clean_birthday(self):
        """SEC-3: the age check needs a plausible birthday."""
        birthday = self.cleaned_data.get("birthday")
        if birthday is not None and birthday > timezone.localdate():
            raise ValidationError(_("A birthday cannot be in the future."), code="future")
        return birthday

    def _posted(self, field: str) -> bool:
        return bool((self.data.get(field) or "").strip())

    def clean(self):
        cleaned = super().clean()
        always_collected = (*LIFECYCLE_FIELDS, *AGE_FIELDS)
        not_collected = [
            name
            for name in EDITABLE_FIELDS
            if name not in self.collected and name not in always_collected and self._posted(name)
        ]
        if not_collected:
            raise ValidationError(
                _("The organization does not collect %(fields)s; turn it on in the data collection settings first."),
                code="not_collected",
                params={"fields": ", ".join(f"“{label(name)}”" for name in not_collected)},
            )
        if not self.allow_sensitive and any(self._posted(field) for field in self.sensitive_fields):
            raise ValidationError(
                _("You cannot change the sensitive fields of this member (%(fields)s)."),
                code="sensitive_not_allowed",
                params={"fields": ", ".join(label(field) for field in self.sensitive_fields)},
            )
        if self.allow_sensitive:
            for field in self.sensitive_fields:
                value = cleaned.get(field)
                if not value:
                    cleaned[field] = ""
                    continue
                if field in EDIT_CLEANERS:
                    try:
                        cleaned[field] = EDIT_CLEANERS[field](value)
                    except ValidationError as exc:
                        self.add_error(field, exc)
        return cleaned

    def changes(self) -> dict:
        """The cleaned values to write: every collected field, and each sensitive field
        that was filled in."""
        data = {field: self.cleaned_data[field] for field in self.plain_fields}
        if self.allow_sensitive:
            data.update({field: value for field in self.sensitive_fields if (value := self.cleaned_data[field])})
        return data

    @property
    def attested(self) -> bool:
        return bool(self.needs_attestation and self.cleaned_data.get("attest"))

    def groups(self) -> list[dict]:
        """The inputs grouped as in ORG-4, for the template."""
        groups: dict[str, list] = {"basic": []}
        for name in EDITABLE_FIELDS:
            if name not in self.fields:
                continue
            groups.setdefault(group_of(name), []).append(self[name])
        labels = {"basic": _("Basic"), **collection.GROUPS}
        return [{"key": key, "label": labels[key], "fields": groups[key]} for key in labels if groups.get(key)]

    def hidden_sensitive_labels(self) -> list[str]:
        """The collected sensitive fields this administrator may not change."""
        return [] if self.allow_sensitive else [label(field) for field in self.sensitive_fields]
