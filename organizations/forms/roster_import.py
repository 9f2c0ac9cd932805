"""Forms of the roster import (ORG-6, ORG-7, SEC-1). The upload form checks only what
costs nothing: the file's size (capped) and its kind, sniffed from its first bytes. It
never reads the header, opens a workbook or parses CSV: a small file can unpack to
gigabytes or hold a row of millions of cells, and the web request must not pay for it.
The header, the file's limits and every row are checked on a worker
(``organizations.tasks``), and the import's page shows what it found."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from organizations.services.roster_import import files

# ORG-6 (EN I(II)4): the sentence the administrator confirms; stored with the upload.
ATTESTATION_TEXT = _(
    "I confirm that the members in this file gave their explicit consent to the organization collecting and "
    "uploading this data"
)


class RosterFileField(forms.FileField):
    """A CSV or XLSX file no larger than ``files.MAX_UPLOAD_BYTES``, recognized from
    its content. Cleans to ``(content, file_format, file_name)``."""

    def clean(self, data, initial=None):
        upload = super().clean(data, initial)
        if not upload:
            return upload
        limit = files.MAX_UPLOAD_BYTES
        too_large = ValidationError(
            _("The file is %(size)s; the largest allowed is %(limit)s. Split it into smaller files."),
            code="too_large",
            params={"size": filesizeformat(upload.size), "limit": filesizeformat(limit)},
        )
        if upload.size > limit:
            raise too_large
        # Read in chunks, not with read(limit + 1): that allocates the whole limit (50 MB)
        # up front whatever the file's size. ``isspace`` looks without copying the file.
        content = bytearray()
        for chunk in upload.chunks():
            content += chunk
            if len(content) > limit:  # the declared size lied
                raise too_large
        content = bytes(content)
        if not content or content.isspace():
            raise ValidationError(_("The file is empty."), code="empty")
        file_format = files.sniff_format(content[:8192])
        if file_format is None:
            raise ValidationError(
                _("This is not a CSV or Excel (.xlsx) file. Save the roster as “CSV UTF-8” or as an Excel workbook."),
                code="file_type",
            )
        return content, file_format, (upload.name or f"roster.{file_format}")[:255]


class RosterImportForm(forms.Form):
    file = RosterFileField(
        label=_("Roster file"),
        help_text=_("CSV (UTF-8 or GBK) or Excel .xlsx, at most 50 MB; the first row names the columns."),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.xlsx,text/csv"}),
    )
    attestation = forms.BooleanField(
        label=ATTESTATION_TEXT,
        error_messages={"required": _("Confirm that the members consented before you upload their data.")},
    )

    def clean_attestation(self):
        # Store the sentence the administrator saw, in the language it was shown in.
        return str(ATTESTATION_TEXT) if self.cleaned_data["attestation"] else ""


class ImportDecisionForm(forms.Form):
    action = forms.ChoiceField(
        choices=[
            ("all", _("Import all rows")),
            ("valid_only", _("Import only the valid rows")),
            ("discard", _("Discard")),
        ]
    )
