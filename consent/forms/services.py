"""Forms of an organization's service pages (SVC-2, SVC-3).

The open and reconfirm forms carry the scopes and revision the administrator was shown
(hidden fields) and need an explicit confirmation; the service refuses them when the
catalog has changed since (a stale page), so what is recorded is what was seen."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from consent.models.sharing import DataScope, Service


class ConfirmSharingForm(forms.Form):
    scopes = forms.CharField(required=False, widget=forms.HiddenInput)
    scopes_revision = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    confirm = forms.BooleanField(
        label=_("I have read what will be shared and confirm it for the whole organization."),
        error_messages={"required": _("Tick the box to confirm what will be shared.")},
    )

    @classmethod
    def for_service(cls, service: Service, data=None):
        return cls(
            data,
            initial={"scopes": ",".join(service.data_scopes), "scopes_revision": service.scopes_revision},
        )

    def clean_scopes(self) -> list[str]:
        scopes = [scope for scope in self.cleaned_data["scopes"].split(",") if scope]
        if any(scope not in DataScope.values for scope in scopes):
            raise ValidationError(_("The page was changed; reload it and confirm again."), code="invalid")
        return scopes


class CloseServiceForm(forms.Form):
    """The confirmation says what closing does: for a provider's app, its access stops
    and it is asked to delete what it received; a Custodia service has no provider to
    ask, its records stay with the organization here."""

    confirm = forms.BooleanField(
        label=_("Close the service: the provider's access stops now and it is asked to delete the data it received."),
        error_messages={"required": _("Tick the box to confirm closing the service.")},
    )

    def __init__(self, *args, first_party: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if first_party:
            self.fields["confirm"].label = _(
                "Close the service: members can no longer use it in the organization; its records stay here."
            )


class ChildSharingForm(forms.Form):
    """SEC-3: one child's entry shared with a service one at a time, or no longer."""

    member = forms.IntegerField(min_value=1, max_value=2**63 - 1)
    shared = forms.TypedChoiceField(choices=(("yes", "yes"), ("no", "no")), coerce=lambda value: value == "yes")
