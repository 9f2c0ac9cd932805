"""Forms of the privacy settings pages (CON-1 to CON-5, CON-7)."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from consent.models import PURPOSES, Decision, DevicePermission, Purpose
from consent.services.ledger import check_seen_policy_version

SENSITIVE = [(value, label) for value, label in Purpose.choices if PURPOSES[value].sensitive]
NOT_SENSITIVE = [(value, label) for value, label in Purpose.choices if not PURPOSES[value].sensitive]


class SeenPolicyVersionForm(forms.Form):
    """Carries the policy version the person was shown; a newer one makes the form
    invalid with a clear message and nothing is written (CON-2, CON-6)."""

    policy_version = forms.CharField(required=False, widget=forms.HiddenInput)

    def clean(self):
        cleaned = super().clean()
        # A hidden field: its error belongs at the top of the form, where it is seen.
        cleaned["policy_version"] = check_seen_policy_version(cleaned.get("policy_version"))
        return cleaned


class ConsentDecisionForm(SeenPolicyVersionForm):
    """Grant or withdraw one purpose. Granting a sensitive purpose is refused here: it
    has its own form with an explicit confirmation (CON-5)."""

    purpose = forms.ChoiceField(choices=Purpose.choices)
    decision = forms.ChoiceField(choices=Decision.choices)

    def clean(self):
        cleaned = super().clean()
        purpose, decision = cleaned.get("purpose"), cleaned.get("decision")
        if purpose and decision == Decision.GRANTED and PURPOSES[purpose].sensitive:
            raise ValidationError(
                gettext("%(purpose)s needs your explicit confirmation on its own form.")
                % {"purpose": Purpose(purpose).label},
                code="explicit_needed",
            )
        return cleaned


class SensitiveConsentForm(SeenPolicyVersionForm):
    """CON-5: one sensitive purpose, with a checkbox that says what is processed."""

    purpose = forms.ChoiceField(choices=SENSITIVE, widget=forms.HiddenInput)
    confirm = forms.BooleanField(
        required=True,
        error_messages={"required": _("Tick the box to confirm your explicit consent, or leave it off.")},
    )

    def __init__(self, *args, purpose: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        purpose = purpose or self.data.get(self.add_prefix("purpose")) or ""
        if purpose in dict(SENSITIVE):
            self.fields["confirm"].label = gettext("I explicitly consent to %(purpose)s: %(what)s") % {
                "purpose": Purpose(purpose).label,
                "what": PURPOSES[purpose].description,
            }
            self.initial.setdefault("purpose", purpose)


class AcceptAllForm(SeenPolicyVersionForm):
    """Turn on every additional function except the sensitive ones (CON-5)."""


class DiscoveryForm(forms.Form):
    findable_by_phone = forms.BooleanField(
        required=False,
        label=_("Others can find me by my phone number"),
        help_text=_(
            "People who have your number in their contacts and use contact matching see your nickname. "
            "Only a keyed hash of your number is compared."
        ),
    )


class DevicePermissionsForm(forms.Form):
    permissions = forms.MultipleChoiceField(
        choices=DevicePermission.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label=_("Client apps may use"),
    )


class CookieChoicesForm(forms.Form):
    """CON-3 (EN II): the cookie banner's optional categories. Strictly necessary
    cookies are always on and not a choice."""

    ACCEPT_ALL, REJECT_ALL, CHOSEN = "accept_all", "reject_all", "chosen"

    preferences = forms.BooleanField(required=False, label=_("Preference cookies"))
    marketing = forms.BooleanField(required=False, label=_("Marketing cookies"))
    action = forms.ChoiceField(
        choices=[(ACCEPT_ALL, ACCEPT_ALL), (REJECT_ALL, REJECT_ALL), (CHOSEN, CHOSEN)], initial=CHOSEN
    )
    next = forms.CharField(required=False, widget=forms.HiddenInput)

    def choices(self) -> dict[str, bool]:
        """Category -> on/off as the person answered."""
        action = self.cleaned_data["action"]
        if action == self.ACCEPT_ALL:
            return {"preferences": True, "marketing": True}
        if action == self.REJECT_ALL:
            return {"preferences": False, "marketing": False}
        return {"preferences": self.cleaned_data["preferences"], "marketing": self.cleaned_data["marketing"]}
