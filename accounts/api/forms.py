"""The profile's "API tokens" page form (issue 7)."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from accounts.api.strict import INT64_MAX
from accounts.models import TokenScope


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        label=_("Name"), max_length=100, help_text=_("What uses the token, e.g. “HR sync” or “my script”.")
    )
    scope = forms.ChoiceField(
        label=_("Access"),
        choices=[(TokenScope.READ, _("Read only")), (TokenScope.WRITE, _("Read and write"))],
        initial=TokenScope.READ,
    )
    days = forms.IntegerField(
        label=_("Valid for (days)"),
        min_value=1,
        max_value=settings.API_TOKEN_MAX_DAYS,
        initial=settings.API_TOKEN_DEFAULT_DAYS,
    )
    organization_id = forms.IntegerField(
        label=_("Only for organization number"),
        min_value=1,
        max_value=INT64_MAX,
        required=False,
        help_text=_(
            "Optional: for an organization's integrations. The token then reaches that organization only "
            "(you must administer it) and cannot act as you."
        ),
    )
