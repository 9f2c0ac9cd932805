"""Forms of the person's request pages (REQ-1 to REQ-3, REQ-9, REQ-10). They check
what a page can check; ``requests.services.filing`` checks everything again and is
the only writer."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.forms import CodeField, PhoneField
from consent.models import Purpose
from requests.models import (
    DELETION_KINDS,
    KINDS_BY_JURISDICTION,
    AutomatedDecision,
    DeletionGround,
    Jurisdiction,
    RequestKind,
)
from requests.selectors import correction_targets
from requests.services.filing import STRUCTURED_KINDS, file_max_bytes, read_document

# REQ-1: one line on each kind, shown where the person chooses.
KIND_EXPLANATIONS = {
    RequestKind.ACCESS: _("Find out what personal data we hold about you and get a copy of it."),
    RequestKind.CORRECTION: _("Have data about you that is wrong corrected."),
    RequestKind.SUPPLEMENT: _("Have data about you that is incomplete completed."),
    RequestKind.DELETION: _("Have your personal data deleted, on one of the grounds the policy names."),
    RequestKind.CONSENT_WITHDRAWAL: _("Withdraw a consent you gave for an additional function."),
    RequestKind.ACCOUNT_CANCELLATION: _("Close your personal account and end the processing of your data."),
    RequestKind.AUTOMATED_DECISION: _(
        "Ask for an explanation of a decision a system made about you without a person, and appeal it."
    ),
    RequestKind.COMPLAINT: _("Complain about how your personal data is handled."),
    RequestKind.OBJECTION: _("Object to the processing of your personal data."),
    RequestKind.RESTRICTION: _("Ask us to restrict the processing of your personal data for a while."),
    RequestKind.PORTABILITY: _("Get your data in a machine-readable format to take it elsewhere."),
    RequestKind.DISCLOSURE: _("Have the personal data we retain about you disclosed to you."),
    RequestKind.CA_ACCESS: _("Know what personal information we collected about you and how it is used."),
    RequestKind.CA_DELETION: _("Have the personal information we collected about you deleted."),
    RequestKind.CA_PORTABILITY: _("Get your personal information in a portable, readily usable format."),
}

# REQ-9: an agent cannot pick the person's automated decisions (they are the person's
# to see); the person files that kind themselves.
NOT_FOR_AGENTS = frozenset({RequestKind.AUTOMATED_DECISION})


def kinds_for(jurisdiction: str, *, agent: bool = False) -> list[tuple[str, str, str]]:
    """(value, label, explanation) of the kinds a person of ``jurisdiction`` may file."""
    return [
        (kind, RequestKind(kind).label, KIND_EXPLANATIONS[kind])
        for kind in KINDS_BY_JURISDICTION[jurisdiction]
        if not (agent and kind in NOT_FOR_AGENTS)
    ]


class JurisdictionForm(forms.Form):
    jurisdiction = forms.ChoiceField(
        label=_("Where do you live?"),
        choices=Jurisdiction.choices,
        help_text=_("Your rights and the deadline for our answer depend on it."),
    )


class DocumentField(forms.FileField):
    """A PDF, PNG or JPEG file, recognized from its content and size-limited
    (``filing.read_document``); cleans to the upload itself, rewound."""

    def clean(self, data, initial=None):
        upload = super().clean(data, initial)
        if not upload:
            return upload
        try:
            read_document(upload, field="file")
        except forms.ValidationError as exc:
            raise forms.ValidationError(exc.message_dict["file"]) from None
        return upload


class RequestForm(forms.Form):
    """REQ-1 to REQ-3: the fields of one kind, then the SMS code. For an authorized
    agent (REQ-9), the person's mobile number and the proof of authority first."""

    def __init__(self, *args, user, kind: str, jurisdiction: str, agent: bool = False, decision=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.kind = kind
        self.jurisdiction = jurisdiction
        self.agent = agent
        self.targets = {}
        limit_note = _("PDF, PNG or JPEG, up to %(size)d MB.") % {"size": max(1, file_max_bytes() // (1024 * 1024))}
        if agent:
            self.fields["subject_phone"] = PhoneField(
                label=_("The person's mobile number"),
                help_text=_("The number of their Custodia account. They confirm the request before we act on it."),
            )
            self.fields["agent_proof"] = DocumentField(
                label=_("Proof of authority"),
                help_text=_("A power of attorney or another written authorization. ") + limit_note,
            )
        if kind in DELETION_KINDS:
            self.fields["deletion_grounds"] = forms.MultipleChoiceField(
                label=_("Why should the data be deleted?"),
                choices=DeletionGround.choices,
                widget=forms.CheckboxSelectMultiple,
                error_messages={"required": _("Choose at least one ground for the deletion.")},
            )
        if kind in STRUCTURED_KINDS:
            targets = correction_targets(user, include_roster=not agent)
            self.targets = {target.value: target for target in targets}
            self.fields["target"] = forms.ChoiceField(
                label=_("Which data?"),
                choices=[("", "---------")] + [(target.value, target.label) for target in targets],
                error_messages={"required": _("Choose which data is wrong or incomplete.")},
            )
            self.fields["proposed_value"] = forms.CharField(
                label=_("What should it be?"),
                max_length=500,
                error_messages={"required": _("Say what the data should be.")},
            )
            self.fields["evidence"] = DocumentField(
                label=_("Evidence (optional)"),
                required=False,
                help_text=_("A document that shows the right value. ") + limit_note,
            )
        if kind == RequestKind.CONSENT_WITHDRAWAL:
            self.fields["purpose"] = forms.ChoiceField(
                label=_("Which consent do you withdraw?"),
                choices=[("", "---------"), *Purpose.choices],
                error_messages={"required": _("Choose the consent you withdraw.")},
            )
        if kind == RequestKind.AUTOMATED_DECISION:
            self.fields["automated_decision"] = forms.ModelChoiceField(
                label=_("Which decision?"),
                queryset=AutomatedDecision.objects.filter(subject=user).order_by("-made_at", "-pk"),
                initial=decision,
                error_messages={"required": _("Choose the decision.")},
            )
        details_label = {
            RequestKind.COMPLAINT: _("What is your complaint about?"),
            RequestKind.AUTOMATED_DECISION: _("What would you like explained, or why do you appeal?"),
        }.get(kind, _("Anything else we should know (optional)"))
        self.fields["details"] = forms.CharField(
            label=details_label,
            required=kind == RequestKind.COMPLAINT,
            max_length=4000,
            widget=forms.Textarea(attrs={"rows": 4}),
            error_messages={"required": _("Describe what you are complaining about.")},
        )
        self.fields["code"] = CodeField(
            help_text=_("Ask for a code with the button above; it is sent to your own mobile number.")
        )

    def clean(self):
        cleaned = super().clean()
        target = cleaned.get("target")
        if target:
            chosen = self.targets.get(target)
            if chosen is None:
                self.add_error("target", _("Choose which data is wrong or incomplete."))
            else:
                cleaned["member"] = chosen.member
                cleaned["field"] = chosen.field
        return cleaned

    def service_arguments(self) -> dict:
        """The keyword arguments of ``filing.file_request`` from the cleaned data."""
        data = self.cleaned_data
        field = data.get("field", "")
        if self.kind == RequestKind.CONSENT_WITHDRAWAL:
            field = data.get("purpose", "")
        return {
            "kind": self.kind,
            "jurisdiction": self.jurisdiction,
            "code": data["code"],
            "subject_phone": data.get("subject_phone", "") if self.agent else "",
            "member": data.get("member"),
            "details": data.get("details", ""),
            "deletion_grounds": data.get("deletion_grounds", ()),
            "field": field,
            "proposed_value": data.get("proposed_value", ""),
            "evidence": data.get("evidence") or None,
            "agent_proof": data.get("agent_proof") or None,
            "automated_decision": data.get("automated_decision"),
        }


class EscalationForm(forms.Form):
    """REQ-10: what the requester is not satisfied with."""

    details = forms.CharField(
        label=_("What are you not satisfied with?"),
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={"required": _("Say what you are not satisfied with.")},
    )
