"""Forms of the roster pages (ORG-7, ORG-10) and the audit log (SEC-2). They validate
input only; the views call ``organizations.services.roster``."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from accounts.phones import normalize_mobile
from dataprotection.identifiers import is_valid_bank_card, is_valid_id_number, normalize_id_number
from organizations.models import Member
from organizations.services.roster import BASIC_FIELDS, SENSITIVE_FIELDS

PAGE_SIZE = 50


class RosterFilterForm(forms.Form):
    """The roster toolbar (GET). The department arrives as a key; the view resolves it
    against the departments in the administrator's scope (404 outside it)."""

    q = forms.CharField(label=_("Search"), max_length=100, required=False, strip=True)
    department = forms.IntegerField(label=_("Department"), required=False, min_value=1)
    page = forms.IntegerField(required=False, min_value=1)


class AuditFilterForm(forms.Form):
    """The audit log filters (GET); ``actions`` are the distinct actions recorded in
    the organization's trail."""

    action = forms.ChoiceField(label=_("Action"), required=False)
    actor = forms.CharField(label=_("Actor"), max_length=100, required=False, strip=True)
    date_from = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    page = forms.IntegerField(required=False, min_value=1)

    def __init__(self, *args, actions: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["action"].choices = [("", _("All actions")), *((action, action) for action in actions)]

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", ValidationError(_("The end date is before the start date."), code="order"))
        return cleaned


def _clean_mobile(value: str) -> str:
    return normalize_mobile(value)


def _clean_id_number(value: str) -> str:
    value = normalize_id_number(value)
    if not is_valid_id_number(value):
        raise ValidationError(
            _("This is not a valid ID card number: check the 18 characters, the birth date and the check digit."),
            code="invalid",
        )
    return value


def _clean_bank_card(value: str) -> str:
    value = value.replace(" ", "").replace("-", "")
    if not is_valid_bank_card(value):
        raise ValidationError(
            _("This is not a valid bank card number: it has 12 to 19 digits and a correct check digit."),
            code="invalid",
        )
    return value


SENSITIVE_CLEANERS = {"mobile": _clean_mobile, "id_number": _clean_id_number, "bank_card": _clean_bank_card}


class MemberEditForm(forms.Form):
    """ORG-7: correct or supplement a roster entry.

    The ORG-4 fields come from the model. The sensitive ones (ORG-10) exist only when
    the administrator also holds ``view_sensitive`` on the member; they start empty --
    the form never puts a value in clear into the page -- and a blank input keeps the
    stored value. Posting a sensitive field without the right is refused with an error.
    ``changes()`` gives the service the cleaned values to apply.
    """

    def __init__(self, *args, member: Member, allow_sensitive: bool, **kwargs):
        kwargs.setdefault("initial", {field: getattr(member, field) for field in BASIC_FIELDS})
        super().__init__(*args, **kwargs)
        self.member = member
        self.allow_sensitive = allow_sensitive
        self.fields.update(forms.fields_for_model(Member, fields=BASIC_FIELDS))
        self.fields["hired_on"].widget = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
        self.fields["office_phone"].widget.attrs.update({"inputmode": "tel", "autocomplete": "off"})
        if allow_sensitive:
            labels = {field: Member._meta.get_field(field).verbose_name for field in SENSITIVE_FIELDS}
            current = {
                "mobile": member.masked_mobile,
                "id_number": member.masked_id_number,
                "bank_card": member.masked_bank_card,
            }
            for field in SENSITIVE_FIELDS:
                self.fields[field] = forms.CharField(
                    label=labels[field],
                    max_length=32,
                    required=False,
                    strip=True,
                    widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
                    help_text=(
                        _("Currently %(masked)s. Leave blank to keep it.") % {"masked": current[field]}
                        if current[field]
                        else _("Not recorded. Leave blank to keep it empty.")
                    ),
                )

    def clean(self):
        cleaned = super().clean()
        if not self.allow_sensitive and any((self.data.get(field) or "").strip() for field in SENSITIVE_FIELDS):
            raise ValidationError(
                _("You cannot change mobile numbers, ID numbers or bank cards of this member."),
                code="sensitive_not_allowed",
            )
        if self.allow_sensitive:
            for field, clean_value in SENSITIVE_CLEANERS.items():
                value = cleaned.get(field)
                if not value:
                    cleaned[field] = ""
                    continue
                try:
                    cleaned[field] = clean_value(value)
                except ValidationError as exc:
                    self.add_error(field, exc)
        return cleaned

    def changes(self) -> dict:
        """The cleaned values to write: every ORG-4 field, and each sensitive field that
        was filled in."""
        data = {field: self.cleaned_data[field] for field in BASIC_FIELDS}
        if self.allow_sensitive:
            data.update({field: self.cleaned_data[field] for field in SENSITIVE_FIELDS if self.cleaned_data[field]})
        return data
