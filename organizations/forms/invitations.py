"""Forms of the invitation pages (ORG-8). They validate input only; who may invite or
answer is decided by ``organizations.services.invitations``."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from organizations.services.invitations import MESSAGE_MAX_LENGTH

ACCEPT = "accept"
DECLINE = "decline"


class InvitationForm(forms.Form):
    """The administrator's optional personal message, sent in the SMS and shown on the
    invitation page above the terms."""

    message = forms.CharField(
        label=_("Personal message"),
        required=False,
        max_length=MESSAGE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Optional. Sent in the SMS with the link and shown on the invitation page."),
    )


class InvitationAnswerForm(forms.Form):
    decision = forms.ChoiceField(choices=[(ACCEPT, _("Accept")), (DECLINE, _("Decline"))])
