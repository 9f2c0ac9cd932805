"""Forms for policy documents (CON-6): the acknowledge form and the console's version form."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from consent.models import PolicyVersion, SignificantChange


class AcknowledgeForm(forms.Form):
    """The versions shown and the signed token that binds them to the person; the
    service checks the token, so a tampered id list is refused there."""

    versions = forms.CharField(widget=forms.HiddenInput)
    token = forms.CharField(widget=forms.HiddenInput)
    next = forms.CharField(widget=forms.HiddenInput, required=False)

    def clean_versions(self) -> list[int]:
        raw = self.cleaned_data["versions"]
        try:
            ids = [int(part) for part in raw.split(",") if part.strip()]
        except ValueError as exc:
            raise forms.ValidationError(_("This acknowledgement could not be verified."), code="token") from exc
        if not ids:
            raise forms.ValidationError(_("There is nothing to acknowledge."), code="empty")
        return ids


class PolicyVersionAdminForm(forms.ModelForm):
    """The kinds of significant change (EN VIII) as checkboxes instead of raw JSON."""

    significant_changes = forms.MultipleChoiceField(
        label=_("kinds of significant change"),
        choices=SignificantChange.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=_("EN VIII: what makes this version significant; people see this list at their next sign-in."),
    )

    class Meta:
        model = PolicyVersion
        fields = ("edition", "version", "effective_on", "significant", "significant_changes", "summary")

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("significant_changes") and not cleaned.get("significant"):
            self.add_error("significant", _("Tick this box when you choose kinds of significant change."))
        return cleaned
