"""The retention settings form (ANON-5): one months input per kind of activity record,
empty meaning "kept as long as the organization exists". It validates input only; the
view calls ``organizations.services.retention``."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from organizations.models import RecordKind
from organizations.services.retention import MAX_RETENTION_MONTHS


def field_name(kind: str) -> str:
    return f"months_{kind}"


class RetentionSettingsForm(forms.Form):
    """``current`` maps each kind to its months (``None``: kept)."""

    def __init__(self, *args, current: dict[str, int | None], read_only: bool = False, **kwargs):
        kwargs.setdefault("initial", {field_name(kind): months for kind, months in current.items()})
        super().__init__(*args, **kwargs)
        self.read_only = read_only
        for kind in RecordKind:
            self.fields[field_name(kind.value)] = forms.IntegerField(
                label=_("Months to keep %(records)s") % {"records": kind.label},
                required=False,
                min_value=1,
                max_value=MAX_RETENTION_MONTHS,
                disabled=read_only,
                error_messages={"invalid": _("Enter a whole number of months, or leave it empty.")},
                widget=forms.NumberInput(
                    attrs={"min": 1, "max": MAX_RETENTION_MONTHS, "step": 1, "inputmode": "numeric", "class": "short"}
                ),
            )

    def months_by_kind(self) -> dict[str, int | None]:
        return {kind: self.cleaned_data[field_name(kind)] for kind in RecordKind.values}
