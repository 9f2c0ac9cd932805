"""The collection settings form (ORG-5): one "collected" checkbox and one purpose per
available field, and the confirmation that turning fields off erases their values. It
validates input only; the view calls ``organizations.services.collection``."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from organizations.services.collection import GROUPS, PURPOSE_MAX_LENGTH, CollectableField


class CollectionSettingsForm(forms.Form):
    """``fields`` are the catalog fields available to the organization; ``current`` maps
    each to its ``(collected, purpose)``; ``counts`` is how many members hold a value in
    each currently collected field (shown as the warning next to its checkbox)."""

    erase = forms.BooleanField(
        label=_("Erase the stored values of fields I turn off"),
        required=False,
        help_text=_("Turning a field off deletes what members' entries hold in it, for the whole organization."),
    )

    def __init__(
        self,
        *args,
        fields: tuple[CollectableField, ...],
        current: dict[str, tuple[bool, str]],
        counts: dict[str, int],
        read_only: bool = False,
        **kwargs,
    ):
        initial = {}
        for catalog_field in fields:
            enabled, purpose = current[catalog_field.name]
            initial[f"collect_{catalog_field.name}"] = enabled
            initial[f"purpose_{catalog_field.name}"] = purpose
        kwargs.setdefault("initial", initial)
        super().__init__(*args, **kwargs)
        self.catalog = fields
        self.current = current
        self.counts = counts
        self.read_only = read_only
        for catalog_field in fields:
            label = capfirst(catalog_field.label)
            self.fields[f"collect_{catalog_field.name}"] = forms.BooleanField(
                label=_("Collect %(field)s") % {"field": label}, required=False, disabled=read_only
            )
            self.fields[f"purpose_{catalog_field.name}"] = forms.CharField(
                label=_("Purpose of %(field)s") % {"field": label},
                max_length=PURPOSE_MAX_LENGTH,
                required=False,
                strip=True,
                disabled=read_only,
                widget=forms.TextInput(attrs={"placeholder": _("Why the organization collects it")}),
            )
        if read_only:
            del self.fields["erase"]

    def clean(self):
        cleaned = super().clean()
        for catalog_field in self.catalog:
            collect, purpose = f"collect_{catalog_field.name}", f"purpose_{catalog_field.name}"
            if cleaned.get(collect) and not cleaned.get(purpose) and purpose not in self.errors:
                self.add_error(purpose, ValidationError(_("State why you collect it."), code="purpose_required"))
        return cleaned

    def settings_by_field(self) -> dict[str, tuple[bool, str]]:
        return {
            f.name: (self.cleaned_data[f"collect_{f.name}"], self.cleaned_data[f"purpose_{f.name}"])
            for f in self.catalog
        }

    def turned_off_with_values(self) -> dict[str, int]:
        """Fields being turned off that members hold values in (after validation)."""
        return {
            f.name: self.counts[f.name]
            for f in self.catalog
            if self.current[f.name][0] and not self.cleaned_data.get(f"collect_{f.name}") and self.counts.get(f.name)
        }

    def groups(self) -> list[dict]:
        """Rows for the template, grouped as in ORG-4."""
        rows: dict[str, list[dict]] = {}
        for catalog_field in self.catalog:
            rows.setdefault(catalog_field.group, []).append(
                {
                    "field": catalog_field,
                    "label": capfirst(catalog_field.label),
                    "collect": self[f"collect_{catalog_field.name}"],
                    "purpose": self[f"purpose_{catalog_field.name}"],
                    "collected": self.current[catalog_field.name][0],
                    "stored": self.counts.get(catalog_field.name, 0),
                }
            )
        return [{"key": key, "label": GROUPS[key], "rows": rows[key]} for key in GROUPS if key in rows]
