"""Form-level validators for identifiers, shared by every form that accepts them so the
rule and the message are the same everywhere (ACC-3, ORG-2, ORG-7)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from dataprotection.identifiers import is_valid_id_number, normalize_id_number

INVALID_ID_NUMBER = _("Enter the 18-character resident ID number; this one has a wrong length, date or check digit.")


def clean_id_number(value: str, message=INVALID_ID_NUMBER) -> str:
    """The normalized 18-character resident ID number, or a clear ``ValidationError``
    (``message`` lets a form name whose number it is)."""
    value = normalize_id_number(value)
    if not is_valid_id_number(value):
        raise ValidationError(message, code="invalid")
    return value
