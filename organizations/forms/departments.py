"""Forms of the department pages (ORG-3). They validate input only; the views call
``organizations.services.departments``."""

from __future__ import annotations

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from organizations.models import Department


class DepartmentChoiceField(forms.ModelChoiceField):
    """A department select, indented by depth so the tree shows in a flat list."""

    def label_from_instance(self, obj: Department) -> str:
        return "\u00a0\u00a0\u00a0" * obj.depth + obj.name


class DepartmentForm(forms.Form):
    """Create, rename or move a department. ``parents`` are the departments the
    administrator may put it under (``edit_roster`` there); without ``parents`` the form
    has no parent field (the top-level department stays where it is)."""

    name = forms.CharField(label=_("Name"), max_length=200)
    parent = DepartmentChoiceField(
        label=_("Parent department"),
        queryset=Department.objects.none(),
        empty_label=None,
        help_text=_("Moving a department moves all its sub-departments with it."),
    )

    def __init__(self, *args, parents: QuerySet[Department] | None, allow_top_level: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if parents is None:
            del self.fields["parent"]
            return
        field = self.fields["parent"]
        field.queryset = parents.order_by("path")
        if allow_top_level:
            field.required = False
            field.empty_label = _("— none: the top-level department —")
            field.help_text = ""

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError(_("Enter a name for the department."), code="required")
        return name


class DepartmentDeleteForm(forms.Form):
    confirm = forms.BooleanField(
        label=_("Yes, delete this department and all its sub-departments"),
        error_messages={"required": _("Tick the box to confirm the deletion.")},
    )
