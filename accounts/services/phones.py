"""Mobile numbers: parsed with ``phonenumbers`` and stored in E.164 (ACC-1)."""

from __future__ import annotations

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

MOBILE_TYPES = {phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}


def normalize_mobile(raw: str) -> str:
    """Return the E.164 form of a mobile number or raise ``ValidationError``.

    Numbers without a country code are read in ``SMS_DEFAULT_REGION`` (mainland China
    by default), so "138 0013 8000" and "+86 138-0013-8000" are the same person."""
    text = (raw or "").strip()
    if not text:
        raise ValidationError(_("Enter your mobile number."), code="required")
    try:
        number = phonenumbers.parse(text, settings.SMS_DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        raise ValidationError(
            _("“%(value)s” is not a phone number. Enter a mobile number such as 138 0013 8000 or +65 8123 4567."),
            code="invalid",
            params={"value": text},
        ) from None
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(
            _("“%(value)s” is not a valid mobile number. Check the digits and the country code."),
            code="invalid",
            params={"value": text},
        )
    if phonenumbers.number_type(number) not in MOBILE_TYPES:
        raise ValidationError(
            _("“%(value)s” is not a mobile number; SMS codes can only be sent to mobile phones."),
            code="not_mobile",
            params={"value": text},
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
