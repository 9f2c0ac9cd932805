"""The filter of an organization's request queue (REQ-4, REQ-5): its tabs and pages.
The handlers' forms are in ``requests.forms.handling``, shared with the console."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

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
