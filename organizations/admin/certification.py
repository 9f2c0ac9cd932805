"""The console's review of organization certifications (ORG-2)."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from dataprotection.admin.base import (
    SensitiveValue,
    SensitiveValuesAdmin,
)
from dataprotection.audit import client_ip
from dataprotection.masking import mask_id_number, mask_middle
from dataprotection.staff_roles import REVEAL_CERTIFICATION
from organizations.models import (
    Certification,
    CertificationStatus,
)
from organizations.services import registration as registration_services

FILE_EXTENSIONS = {"application/pdf": "pdf", "image/png": "png", "image/jpeg": "jpg"}


class CertificationReviewForm(forms.Form):
    """Approve, or reject with a reason the organization's owner will read (ORG-2)."""

    decision = forms.ChoiceField(
        label=_("Decision"),
        choices=[("approve", _("Approve")), ("reject", _("Reject"))],
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(
        label=_("Reason for rejecting"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
        help_text=_("Required when rejecting; the organization's owner sees it."),
    )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("decision") == "reject" and not (cleaned.get("reason") or "").strip():
            self.add_error("reason", ValidationError(_("Give the reason for rejecting."), code="required"))
        return cleaned


REVIEW_PERMISSION = "organizations.change_certification"


def _certification_organization(obj: Certification) -> int:
    return obj.organization_id


@admin.register(Certification)
class CertificationAdmin(SensitiveValuesAdmin):
    """Operations review of certification submissions (ORG-2). Staff see the legal
    representative's name and ID number masked; the certification reviewer role
    (``dataprotection.reveal_certification``, SEC-1) reveals them one at a time and
    downloads the documents, each time audited (SEC-2). Decisions go through
    ``approve_certification`` / ``reject_certification`` on the review page, for staff
    holding ``organizations.change_certification``."""

    sensitive_values = {
        "legal_representative_name": SensitiveValue(
            label=_("legal representative's name"),
            permission=REVEAL_CERTIFICATION,
            mask=lambda value: mask_middle(value, 1, 0),
            action="certification.revealed",
            organization=_certification_organization,
        ),
        "legal_representative_id_number": SensitiveValue(
            label=_("legal representative's ID number"),
            permission=REVEAL_CERTIFICATION,
            mask=mask_id_number,
            action="certification.revealed",
            organization=_certification_organization,
        ),
    }

    list_display = ("organization", "registration_number", "status", "submitted_at", "reviewed_at")
    list_filter = ("status",)
    list_select_related = ("organization",)
    search_fields = ("=registration_number", "organization__name")
    ordering = ("-submitted_at",)
    fields = (
        "organization",
        "registration_number",
        "masked_name_display",
        "masked_id_number_display",
        "submitted_by",
        "submitted_at",
        "attestation",
        "documents",
        "status",
        "reviewed_by",
        "reviewed_at",
        "review_reason",
        "review_link",
    )
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # decisions go through the review page and its services

    def has_delete_permission(self, request, obj=None):
        return False  # the encrypted documents and the review trail stay together

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("organization", "submitted_by", "reviewed_by")

    @admin.display(description=_("legal representative's name"))
    def masked_name_display(self, obj: Certification) -> str:
        return self.sensitive_display(obj, "legal_representative_name")

    @admin.display(description=_("legal representative's ID number"))
    def masked_id_number_display(self, obj: Certification) -> str:
        return self.sensitive_display(obj, "legal_representative_id_number")

    def may_download(self, request) -> bool:
        """SEC-1: the documents are decrypted only for the certification reviewer role."""
        return request is not None and request.user.has_perm(REVEAL_CERTIFICATION)

    def may_review(self, request) -> bool:
        return request is not None and request.user.has_perm(REVIEW_PERMISSION)

    @admin.display(description=_("documents"))
    def documents(self, obj: Certification) -> str:
        if not self.may_download(self._console_request):
            return gettext("Business licence and certification letter (downloading needs the reviewer role)")
        return format_html(
            '<a href="{}">{}</a> · <a href="{}">{}</a>',
            reverse("admin:organizations_certification_file", args=[obj.pk, "business_licence"]),
            gettext("Download business licence"),
            reverse("admin:organizations_certification_file", args=[obj.pk, "certification_letter"]),
            gettext("Download certification letter"),
        )

    @admin.display(description=_("review"))
    def review_link(self, obj: Certification) -> str:
        if obj.status != CertificationStatus.PENDING or not self.may_review(self._console_request):
            return "—"
        return format_html(
            '<a class="button" href="{}">{}</a>',
            reverse("admin:organizations_certification_review", args=[obj.pk]),
            gettext("Approve or reject"),
        )

    def get_urls(self):
        own = [
            path(
                "<int:pk>/file/<str:which>/",
                self.admin_site.admin_view(self.file_view),
                name="organizations_certification_file",
            ),
            path(
                "<int:pk>/review/",
                self.admin_site.admin_view(self.review_view),
                name="organizations_certification_review",
            ),
        ]
        return own + super().get_urls()  # the reveal page comes with SensitiveValuesAdmin

    def file_view(self, request, pk: int, which: str):
        """Decrypt and send one document to staff; every viewing is audited."""
        certification = get_object_or_404(Certification, pk=pk)
        if not self.has_view_permission(request, certification) or not self.may_download(request):
            raise PermissionDenied
        if which not in registration_services.CERTIFICATION_FILES:
            raise Http404
        content, content_type = registration_services.read_certification_file(
            certification, which, request.user, ip=client_ip(request)
        )
        response = HttpResponse(content, content_type=content_type)
        extension = FILE_EXTENSIONS.get(content_type, "bin")
        response["Content-Disposition"] = f'attachment; filename="certification-{pk}-{which}.{extension}"'
        response["Cache-Control"] = "no-store"
        response["X-Content-Type-Options"] = "nosniff"
        return response

    def review_view(self, request, pk: int):
        """Approve, or reject with a reason (ORG-2)."""
        certification = get_object_or_404(Certification.objects.select_related("organization"), pk=pk)
        if not (self.has_view_permission(request, certification) and self.may_review(request)):
            raise PermissionDenied
        change_url = reverse("admin:organizations_certification_change", args=[pk])
        form = CertificationReviewForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                if form.cleaned_data["decision"] == "approve":
                    registration_services.approve_certification(certification, request.user, ip=client_ip(request))
                    self.message_user(request, gettext("The organization is certified."), messages.SUCCESS)
                else:
                    registration_services.reject_certification(
                        certification, request.user, form.cleaned_data["reason"], ip=client_ip(request)
                    )
                    self.message_user(request, gettext("The certification was rejected."), messages.SUCCESS)
            except ValidationError as exc:
                self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return redirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": gettext("Review certification"),
            "certification": certification,
            "masked_id_number": mask_id_number(certification.legal_representative_id_number),
            "form": form,
            "change_url": change_url,
        }
        return TemplateResponse(request, "admin/organizations/certification/review.html", context)
