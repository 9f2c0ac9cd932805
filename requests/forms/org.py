"""Forms of an organization's request queue (REQ-4 to REQ-8): the queue filters and the
handler's actions. Views validate with these and call the services."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from requests.models import RefusalGround

PAGE_SIZE = 25


class QueueView:
    OPEN = "open"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"
    CLOSED = "closed"


QUEUE_VIEWS = (
    (QueueView.OPEN, pgettext_lazy("requests", "Open")),
    (QueueView.DUE_SOON, _("Due soon")),
    (QueueView.OVERDUE, _("Overdue")),
    (QueueView.CLOSED, pgettext_lazy("requests", "Closed")),
)


class QueueFilterForm(forms.Form):
    view = forms.ChoiceField(choices=QUEUE_VIEWS, required=False)
    page = forms.IntegerField(min_value=1, max_value=100_000, required=False)

    def cleaned_view(self) -> str:
        return (self.cleaned_data.get("view") if self.is_valid() else "") or QueueView.OPEN

    def cleaned_page(self) -> int:
        return (self.cleaned_data.get("page") if self.is_valid() else None) or 1


class AssignForm(forms.Form):
    assignee = forms.ModelChoiceField(queryset=None, required=False, label=_("Assign to"), empty_label=_("Nobody"))

    def __init__(self, *args, assignees, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = assignees
        self.fields["assignee"].label_from_instance = lambda user: user.name or user.phone


class NoteForm(forms.Form):
    text = forms.CharField(label=_("Note"), max_length=4000, widget=forms.Textarea(attrs={"rows": 3}))
    to_person = forms.BooleanField(
        label=_("Send to the person (otherwise only handlers see it)"),
        required=False,
    )


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason (the person reads it)"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )


class RefuseForm(forms.Form):
    ground = forms.ChoiceField(label=_("Ground"), choices=RefusalGround.choices)
    explanation = forms.CharField(
        label=_("Explanation (the person reads it)"), max_length=4000, widget=forms.Textarea(attrs={"rows": 3})
    )


class CompleteForm(forms.Form):
    outcome = forms.CharField(
        label=_("Answer to the person"), max_length=4000, widget=forms.Textarea(attrs={"rows": 3})
    )


class ConfirmForm(forms.Form):
    """An action that cannot be undone: the handler ticks the box."""

    confirm = forms.BooleanField(label=_("I have checked the request and want to go ahead"), required=True)


class EmptyForm(forms.Form):
    """An action without input (the CSRF token is the only field)."""
