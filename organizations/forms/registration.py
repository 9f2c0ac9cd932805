"""Forms for registering an organization (ORG-1), certifying it (ORG-2) and transferring
its ownership (ORG-12). They validate input only; the views call
``organizations.services.registration``."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from accounts.forms import CodeField
from accounts.models import DataRegion
from dataprotection.files import sniff_document_type
from dataprotection.identifiers import is_valid_credit_code, normalize_credit_code
from dataprotection.validators import clean_id_number
from organizations.models import Administrator, AdministratorRole, Organization
from organizations.services.registration import region_label

# EN I(II)5: the submitter attests that the legal representative authorized the
# certification. The exact sentence shown is stored with the submission.
ATTESTATION_TEXT = _(
    "I confirm that the legal representative named above has authorized this certification and these documents"
)


def other_region_portals() -> list[tuple[str, str]]:
    """SEC-6: (region label, address) of every other region's deployment that is
    configured, for the note that sends organizations of another region there."""
    urls = getattr(settings, "REGION_PORTAL_URLS", {}) or {}
    return [
        (region_label(region), urls.get(region, "")) for region in DataRegion.values if region != settings.DATA_REGION
    ]


class OrganizationRegistrationForm(forms.ModelForm):
    """ORG-1: name first, then location, industry and staff size; the edition (ACC-6).
    The data region is the deployment's (SEC-6): the page shows it as fixed text, and
    ``register_organization`` refuses (and audits) any other posted region."""

    # Hidden and passed on as posted, so a tampered or stale page naming another region
    # gets a clear refusal, never a quiet substitution.
    data_region = forms.CharField(required=False, widget=forms.HiddenInput)

    class Meta:
        model = Organization
        fields = ("name", "kind", "location", "industry", "staff_size", "edition")
        labels = {
            "name": _("Organization name"),
            "kind": _("Kind of organization"),
            "location": _("Location"),
            "industry": _("Industry"),
            "staff_size": _("Staff size"),
            "edition": _("Edition"),
        }
        help_texts = {
            "edition": _(
                "Standard: members correct their own basic data. Dedicated: your organization provides "
                "members' basic data, and members correct it only through your administrators."
            ),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["data_region"].initial = settings.DATA_REGION
        self.fields["name"].widget.attrs["autocomplete"] = "organization"
        self.region = settings.DATA_REGION
        self.region_label = region_label(self.region)
        self.other_portals = other_region_portals()

    def clean_name(self):
        name = " ".join(self.cleaned_data["name"].split())
        if not name:
            raise ValidationError(_("Enter the organization's name."), code="required")
        return name

    def clean(self):
        cleaned = super().clean()
        region = (cleaned.get("data_region") or "").strip() or settings.DATA_REGION
        if region not in DataRegion.values:
            # A non-field error: the field is hidden, so its own errors would not show.
            self.add_error(
                None,
                ValidationError(
                    _("Select a valid choice. “%(value)s” is not a data region."),
                    code="invalid_choice",
                    params={"value": region[:20]},
                ),
            )
        # Another region's value goes on to the service, which refuses it and records
        # the refusal in the audit trail (SEC-6); the view shows its message.
        cleaned["data_region"] = region
        return cleaned


class DocumentField(forms.FileField):
    """A PDF, PNG or JPEG document, recognized from its content (never from its name),
    no larger than ``settings.CERTIFICATION_FILE_MAX_BYTES``. Cleans to
    ``(bytes, content_type)``."""

    def clean(self, data, initial=None):
        upload = super().clean(data, initial)
        if not upload:
            return upload
        limit = settings.CERTIFICATION_FILE_MAX_BYTES
        if upload.size > limit:
            raise ValidationError(
                _("The file is %(size)s; the largest allowed is %(limit)s."),
                code="too_large",
                params={"size": filesizeformat(upload.size), "limit": filesizeformat(limit)},
            )
        upload.seek(0)
        content = upload.read(limit + 1)
        if len(content) > limit:  # the declared size lied
            raise ValidationError(_("The file is larger than %(limit)s."), code="too_large", params={"limit": limit})
        content_type = sniff_document_type(content[:16])
        if content_type is None:
            raise ValidationError(_("Upload a PDF, PNG or JPEG file."), code="file_type")
        return content, content_type


class CertificationForm(forms.Form):
    """ORG-2: the registration number, the legal representative and two documents, with
    the submitter's attestation (EN I(II)5)."""

    registration_number = forms.CharField(
        label=_("Unified social credit code"),
        max_length=32,
        help_text=_("The 18-character code on the business licence."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    legal_representative_name = forms.CharField(label=_("Legal representative's name"), max_length=100)
    legal_representative_id_number = forms.CharField(
        label=_("Legal representative's ID number"),
        max_length=32,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    business_licence = DocumentField(label=_("Business licence"), help_text=_("A scan or photo: PDF, PNG or JPEG."))
    certification_letter = DocumentField(
        label=_("Certification letter"),
        help_text=_("Signed by the legal representative: PDF, PNG or JPEG."),
    )
    attestation = forms.BooleanField(
        label=ATTESTATION_TEXT,
        error_messages={"required": _("Confirm that the legal representative authorized this certification.")},
    )

    def clean_registration_number(self):
        value = normalize_credit_code(self.cleaned_data["registration_number"])
        if not is_valid_credit_code(value):
            raise ValidationError(
                _(
                    "This is not a valid unified social credit code: 18 digits and capital letters "
                    "(no I, O, S, V or Z) ending in the right check character."
                ),
                code="invalid",
            )
        return value

    def clean_legal_representative_name(self):
        value = " ".join(self.cleaned_data["legal_representative_name"].split())
        if not value:
            raise ValidationError(_("Enter the legal representative's name."), code="required")
        return value

    def clean_legal_representative_id_number(self):
        return clean_id_number(
            self.cleaned_data["legal_representative_id_number"],
            _("This is not a valid 18-digit ID card number; check the date of birth and the last digit."),
        )

    def clean_attestation(self):
        # Store the sentence the submitter saw, in the language it was shown in.
        return str(ATTESTATION_TEXT) if self.cleaned_data["attestation"] else ""


class NewOwnerChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Administrator) -> str:
        return f"{obj.user.name or obj.user.masked_phone} ({obj.user.masked_phone})"


class TransferOwnershipForm(forms.Form):
    """ORG-12: pick another administrator, prove it is the owner with a fresh SMS code,
    and type the organization's name."""

    new_owner = NewOwnerChoiceField(
        label=_("New owner"),
        queryset=Administrator.objects.none(),
        empty_label=_("Choose an administrator"),
        help_text=_("You stay an administrator, with every right on the whole organization."),
    )
    code = CodeField(help_text=_("Press “Send code” to receive a fresh code on your mobile number."))
    confirm_name = forms.CharField(label=_("Type the organization's name to confirm"), max_length=200)

    def __init__(self, *args, organization: Organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.organization = organization
        self.fields["new_owner"].queryset = candidate_owners(organization)

    def clean_confirm_name(self):
        typed = " ".join(self.cleaned_data["confirm_name"].split())
        if typed != " ".join(self.organization.name.split()):
            raise ValidationError(_("The name does not match the organization's name."), code="mismatch")
        return typed


def candidate_owners(organization: Organization):
    return (
        Administrator.objects.filter(organization=organization, role=AdministratorRole.SUB_ADMIN)
        .select_related("user")
        .order_by("user__name", "pk")
    )
