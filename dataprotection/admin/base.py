"""Building blocks for the operations console shared by every app."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.cache import add_never_cache_headers, patch_cache_control
from django.utils.html import format_html
from django.utils.text import capfirst
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from dataprotection.audit import client_ip, organization_names, record_event

MASK = "••••••"


class ReadOnly:
    """For a model admin or an inline: records staff may look at but never add, change
    or delete (ledgers, audit trails, evidence, jobs). Writes happen only through the
    services that own them."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyModelAdmin(ReadOnly, admin.ModelAdmin):
    """A read-only console page (``ReadOnly``)."""


class OrganizationNamesAdmin(admin.ModelAdmin):
    """Lists whose rows hold an ``organization_id`` (a plain integer: the trail outlives
    the organization) show the organization's name: looked up once for the whole page
    through the registered namers, never per row."""

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        rows = list(changelist.result_list)  # evaluated once; the template reuses these rows
        names = organization_names({row.organization_id for row in rows})
        for row in rows:
            row.organization_name = names.get(row.organization_id)
        return changelist

    @admin.display(description=_("organization"), ordering="organization_id")
    def organization_display(self, obj) -> str:
        if obj.organization_id is None:
            return "—"
        if hasattr(obj, "organization_name"):  # looked up with the rest of the page
            name = obj.organization_name
        else:  # a detail page: one object, one lookup
            name = organization_names({obj.organization_id}).get(obj.organization_id)
        return name or gettext("organization no longer exists (#%(id)s)") % {"id": obj.organization_id}


def choice_column(model, field_name: str):
    """A console column (and read-only field) showing a choice's label in sentence case:
    the models keep lowercase labels that read well inside sentences ("status: in
    progress"), the console shows them on their own ("In progress")."""
    model_field = model._meta.get_field(field_name)

    @admin.display(description=model_field.verbose_name, ordering=field_name)
    def column(self, obj):
        value = getattr(obj, field_name)
        label = dict(model_field.flatchoices).get(value, value)
        return capfirst(str(label)) if label else "—"

    return column


def choice_filter(model, field_name: str) -> type[admin.SimpleListFilter]:
    """A list filter of a choice field, its labels in sentence case (see ``choice_column``)."""
    model_field = model._meta.get_field(field_name)

    class ChoiceFilter(admin.SimpleListFilter):
        title = model_field.verbose_name
        parameter_name = f"{field_name}__exact"  # the parameter Django's own choice filter uses

        def lookups(self, request, model_admin):
            return [(value, capfirst(str(label))) for value, label in model_field.flatchoices]

        def queryset(self, request, queryset):
            return queryset.filter(**{field_name: self.value()}) if self.value() else queryset

    return ChoiceFilter


class LabelledDateTimeAdmin(admin.ModelAdmin):
    """Django's split date-and-time inputs have no label of their own (one label names
    both): each part gets an accessible name, "<field>: date" and "<field>: time"."""

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        widget = getattr(formfield, "widget", None)
        widget = getattr(widget, "widget", widget)  # inside a related-field wrapper
        if isinstance(widget, forms.SplitDateTimeWidget):
            label = capfirst(db_field.verbose_name)
            date_part, time_part = widget.widgets
            date_part.attrs = {**date_part.attrs, "aria-label": gettext("%(field)s: date") % {"field": label}}
            time_part.attrs = {**time_part.attrs, "aria-label": gettext("%(field)s: time") % {"field": label}}
        return formfield


class LabelledTabularInline(admin.TabularInline):
    """A tabular inline names its columns in the table head, not its inputs: each input
    gets the field's name as its accessible name."""

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        if formfield is not None:
            widget = getattr(formfield.widget, "widget", formfield.widget)  # inside a related-field wrapper
            widget.attrs = {**widget.attrs, "aria-label": str(capfirst(db_field.verbose_name))}
        return formfield


def mask_all(value: str) -> str:
    return MASK


def _nobody(obj) -> None:
    return None


@dataclass(frozen=True)
class SensitiveValue:
    """One decrypted value the console shows masked (SEC-1). ``permission`` reveals it;
    every reveal is recorded as ``action`` with the field name, never the value (SEC-2).
    ``subject`` and ``organization`` name whose data it is, for "who accessed my data"
    and the organization's audit log."""

    label: Any
    permission: str
    mask: Callable[[str], str] = mask_all
    action: str = "console.value_revealed"
    subject: Callable[[Any], Any] = _nobody
    organization: Callable[[Any], Any] = _nobody
    metadata: Callable[[Any], dict] = lambda obj: {}


@transaction.atomic
def reveal_value(obj, name: str, spec: SensitiveValue, *, actor, ip: str | None = None) -> str:
    """SEC-1, SEC-2: the clear value for a staff member allowed to see it (the caller
    checked ``spec.permission``), audited with actor, target, field and address."""
    record_event(
        spec.action,
        actor=actor,
        subject=spec.subject(obj),
        target=obj,
        organization=spec.organization(obj),
        ip=ip,
        metadata={**spec.metadata(obj), "field": name},
    )
    return getattr(obj, name) or ""


class SensitiveValuesAdmin(admin.ModelAdmin):
    """A ModelAdmin whose sensitive values are masked everywhere (lists, change pages)
    and revealed one at a time (SEC-1): a "Reveal" link, shown only to staff holding the
    value's permission, opens a page whose POST shows the value and writes an audit
    event (SEC-2). Without the permission the clear value is in no page at all.

    Declare the values in ``sensitive_values`` and show each with a display method that
    returns ``self.sensitive_display(obj, name)``. The display methods need the request
    (to offer the link or not): the list and change views run on a per-request copy of
    the ModelAdmin (instances are shared between threads)."""

    sensitive_values: dict[str, SensitiveValue] = {}
    reveal_template = "admin/sensitive_reveal.html"
    _console_request = None

    # ---- permissions

    def may_reveal(self, request, name: str) -> bool:
        spec = self.sensitive_values.get(name)
        return spec is not None and request.user.has_perm(spec.permission)

    # ---- display

    def _for_request(self, request) -> SensitiveValuesAdmin:
        clone = copy.copy(self)
        clone._console_request = request
        return clone

    def changelist_view(self, request, extra_context=None):
        if self._console_request is not request:
            return self._for_request(request).changelist_view(request, extra_context)
        return super().changelist_view(request, extra_context)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if self._console_request is not request:
            return self._for_request(request).changeform_view(request, object_id, form_url, extra_context)
        return super().changeform_view(request, object_id, form_url, extra_context)

    def sensitive_display(self, obj, name: str):
        """The masked value, with a reveal link for staff allowed to see it; never the value."""
        value = getattr(obj, name, "") if obj is not None else ""
        if not value:
            return "—"
        spec = self.sensitive_values[name]
        masked = spec.mask(value)
        request = self._console_request
        if request is None or not self.may_reveal(request, name):
            return masked
        return format_html(
            '<span class="masked">{}</span> <a class="reveal-link" href="{}">{}</a>',
            masked,
            self.reveal_url(obj, name),
            gettext("Reveal"),
        )

    def reveal_url(self, obj, name: str) -> str:
        opts = self.model._meta
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_reveal", args=[obj.pk, name])

    # ---- the reveal page

    def get_urls(self):
        opts = self.model._meta
        own = [
            path(
                "<path:object_id>/reveal/<str:name>/",
                self.admin_site.admin_view(self.reveal_view),
                name=f"{opts.app_label}_{opts.model_name}_reveal",
            )
        ]
        return own + super().get_urls()

    def reveal_view(self, request, object_id: str, name: str):
        """GET: what is about to be revealed (nothing decrypted, nothing recorded).
        POST: the clear value, recorded in the audit trail, never cached."""
        if name not in self.sensitive_values:
            raise Http404
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404
        if not self.has_view_or_change_permission(request, obj) or not self.may_reveal(request, name):
            raise PermissionDenied
        spec = self.sensitive_values[name]
        value = None
        if request.method == "POST":
            value = reveal_value(obj, name, spec, actor=request.user, ip=client_ip(request))
        elif request.method != "GET":
            raise Http404
        opts = self.model._meta
        stored = getattr(obj, name)
        context = {
            **self.admin_site.each_context(request),
            "opts": opts,
            "title": gettext("Reveal: %(label)s") % {"label": spec.label},
            "object": obj,
            "label": spec.label,
            "masked": spec.mask(stored) if stored else "—",
            "value": value,
            "change_url": reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk]),
        }
        response = TemplateResponse(request, self.reveal_template, context)
        add_never_cache_headers(response)
        patch_cache_control(response, no_store=True, private=True)
        return response
