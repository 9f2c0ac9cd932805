"""The organization's security settings form (SEC-1). It validates input only; the view
calls ``organizations.services.security``."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class SecuritySettingsForm(forms.Form):
    require_admin_two_factor = forms.BooleanField(
        label=_("Require two-factor authentication for every administrator"),
        help_text=_("The owner always needs it. When this is on, sub-administrators need it too."),
        required=False,
    )
