"""The form that confirms disbanding an organization (ORG-11). It validates input only;
the view calls ``organizations.services.disband.request_disband``, which checks the name
and the code."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.forms import CodeField


class DisbandForm(forms.Form):
    """ORG-11: the owner types the organization's name and proves it is the owner with a
    fresh SMS code."""

    confirm_name = forms.CharField(
        label=_("Type the organization's name to confirm"),
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    code = CodeField(help_text=_("Press “Send code” to receive a fresh code on your mobile number."))
