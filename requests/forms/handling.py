"""The handlers' forms (REQ-4 to REQ-8), one per action, shared by an organization's
request page and the operations console: the same fields, labels and limits on both.
Each form is bound with its action as prefix (``note-text``), so several forms live on
one page. The text limits are the services' own (``requests.services.workflow``), which
enforce them whichever channel a text comes through."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from requests.models import RefusalGround
from requests.services.workflow import ANSWER_MAX_LENGTH, NOTE_MAX_LENGTH, REASON_MAX_LENGTH


class AssignForm(forms.Form):
    """``assignees``: who may be chosen (an organization's handlers, or active staff)."""

    assignee = forms.ModelChoiceField(queryset=None, required=False, label=_("Assign to"), empty_label=_("Nobody"))

    def __init__(self, *args, assignees, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = assignees
        self.fields["assignee"].label_from_instance = lambda user: user.name or user.phone


class NoteForm(forms.Form):
    text = forms.CharField(label=_("Note"), max_length=NOTE_MAX_LENGTH, widget=forms.Textarea(attrs={"rows": 3}))
    to_person = forms.BooleanField(label=_("Send to the person (otherwise only handlers see it)"), required=False)


class ReasonForm(forms.Form):
    """The reason of a pause or an extension of the clock (REQ-4)."""

    reason = forms.CharField(
        label=_("Reason (the person reads it)"), max_length=REASON_MAX_LENGTH, widget=forms.Textarea(attrs={"rows": 2})
    )


class RefuseForm(forms.Form):
    """REQ-6: a refusal names its ground; none is preselected."""

    ground = forms.ChoiceField(label=_("Ground"), choices=[("", "---------"), *RefusalGround.choices])
    explanation = forms.CharField(
        label=_("Explanation (the person reads it)"),
        max_length=ANSWER_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class CompleteForm(forms.Form):
    outcome = forms.CharField(
        label=_("Answer to the person"), max_length=ANSWER_MAX_LENGTH, widget=forms.Textarea(attrs={"rows": 3})
    )


class ConfirmForm(forms.Form):
    """An action that cannot be undone: the handler ticks the box."""

    confirm = forms.BooleanField(label=_("I have checked the request and want to go ahead"), required=True)


class EmptyForm(forms.Form):
    """An action without input (the CSRF token is the only field)."""


# The form of each action of ``requests.services.handling``.
FORMS: dict[str, type[forms.Form]] = {
    "assign": AssignForm,
    "note": NoteForm,
    "start": EmptyForm,
    "pause": ReasonForm,
    "resume": EmptyForm,
    "extend": ReasonForm,
    "refuse": RefuseForm,
    "complete": CompleteForm,
    "apply": ConfirmForm,
    "delete": ConfirmForm,
    "export": EmptyForm,
}


def handling_form(action: str, data=None, *, assignees, initial: dict | None = None) -> forms.Form:
    """The form of ``action``, bound to ``data`` (a POST) or unbound, prefixed with the
    action's name."""
    form_class = FORMS[action]
    extra = {"assignees": assignees} if form_class is AssignForm else {}
    return form_class(data, prefix=action, initial=initial, **extra)


def error_messages(form: forms.Form) -> list[str]:
    """A bound, invalid form's errors as sentences naming their field."""
    messages = []
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else ""
        messages += [f"{label}: {error}" if label else str(error) for error in errors]
    return messages
