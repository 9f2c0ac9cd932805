"""Forms of the administrator pages (ORG-9). They validate input only; who may grant
what is decided by ``organizations.services.administrators`` in its transaction."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from accounts.forms import PhoneField
from accounts.models import User
from organizations.models import Department, Right

WHOLE_ORGANIZATION = "organization"
DEPARTMENTS = "departments"


class AdministratorRightsForm(forms.Form):
    """Rights and a scope: the whole organization, or one or more departments (each
    right is granted on each chosen department's subtree)."""

    rights = forms.MultipleChoiceField(
        label=_("Rights"),
        choices=Right.choices,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose at least one right.")},
    )
    scope = forms.ChoiceField(
        label=_("Where"),
        choices=[(WHOLE_ORGANIZATION, _("Whole organization")), (DEPARTMENTS, _("Selected departments"))],
        widget=forms.RadioSelect,
        initial=DEPARTMENTS,
    )
    departments = forms.ModelMultipleChoiceField(
        label=_("Departments"),
        queryset=Department.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Each right also covers the sub-departments of every chosen department."),
    )

    def __init__(self, *args, departments: QuerySet[Department], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["departments"].queryset = departments.order_by("path")

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("scope") == DEPARTMENTS and not cleaned.get("departments"):
            self.add_error("departments", _("Choose at least one department, or the whole organization."))
        return cleaned

    def chosen_departments(self) -> list[Department]:
        """The scope as the services take it: no departments means the whole organization."""
        if self.cleaned_data["scope"] == WHOLE_ORGANIZATION:
            return []
        return list(self.cleaned_data["departments"])


class AppointAdministratorForm(AdministratorRightsForm):
    """ORG-9: the new sub-administrator is found by the verified mobile number of their
    personal account."""

    phone = PhoneField(
        help_text=_("The mobile number of their personal Custodia account."),
        error_messages={"required": _("Enter their mobile number.")},
    )

    field_order = ["phone", "rights", "scope", "departments"]

    def clean_phone(self) -> str:
        phone = self.cleaned_data["phone"]
        self.person = User.objects.filter(phone=phone, is_active=True).first()
        if self.person is None:
            raise ValidationError(_("No account uses this number; ask them to register first."), code="no_account")
        return phone
