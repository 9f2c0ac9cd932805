"""Forms of the children's data pages (SEC-3). They validate input only; the views call
``organizations.services.children``."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext_lazy as _

from accounts.services.phones import normalize_mobile
from organizations.models import Administrator, GuardianMethod, Organization
from organizations.services.children import GUARDIAN_ATTESTATION_TEXT


class AdministratorChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Administrator) -> str:
        return f"{obj.user.display_name} ({obj.get_role_display()})"


class ChildrenSettingsForm(forms.Form):
    """The designated person responsible for children's data and where the
    organization's people are located (which sets the age limit)."""

    officer = AdministratorChoiceField(
        label=_("Person responsible for children's data"),
        queryset=Administrator.objects.none(),
        required=False,
        empty_label=_("Nobody designated"),
        help_text=_(
            "An administrator of the organization. Until one is designated the organization holds only a child's "
            "basic fields. Members and guardians see this person's name."
        ),
    )
    jurisdiction = forms.ChoiceField(label=_("Where the organization's people are located"))

    def __init__(self, *args, organization: Organization, **kwargs):
        kwargs.setdefault(
            "initial",
            {"officer": organization.children_data_officer_id, "jurisdiction": organization.children_jurisdiction},
        )
        super().__init__(*args, **kwargs)
        self.fields["officer"].queryset = (
            Administrator.objects.filter(organization=organization).select_related("user").order_by("role", "pk")
        )
        self.fields["jurisdiction"].choices = Organization._meta.get_field("children_jurisdiction").choices


class GuardianConsentForm(forms.Form):
    """A guardian's consent for a child's roster entry, with the administrator's
    attestation that the guardian gave it."""

    guardian_name = forms.CharField(label=_("Guardian's name"), max_length=100, strip=True)
    relationship = forms.CharField(
        label=_("Relationship to the child"), max_length=40, strip=True, help_text=_("For example: mother, father.")
    )
    contact = forms.CharField(label=_("Guardian's phone or email"), max_length=254, strip=True)
    method = forms.ChoiceField(label=_("How consent was given"), choices=GuardianMethod.choices)
    attest = forms.BooleanField(label=GUARDIAN_ATTESTATION_TEXT, required=True)

    def clean_contact(self) -> str:
        value = self.cleaned_data["contact"]
        if "@" in value:
            validate_email(value)
            return value
        try:
            return normalize_mobile(value)
        except ValidationError:
            raise ValidationError(
                _("Enter the guardian's mobile number or email address."), code="invalid_contact"
            ) from None
