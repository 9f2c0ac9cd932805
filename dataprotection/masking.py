"""Masking of sensitive values for lists and admin pages (ORG-10)."""

from __future__ import annotations


def mask_middle(value: str, keep_start: int, keep_end: int, fill: str = "*") -> str:
    if not value:
        return ""
    if len(value) <= keep_start + keep_end:
        return fill * len(value)
    return value[:keep_start] + fill * (len(value) - keep_start - keep_end) + value[len(value) - keep_end :]


def mask_phone(e164: str) -> str:
    """+8613812345678 -> +86138****5678; keeps the country code, first three and last four."""
    if not e164:
        return ""
    if e164.startswith("+86") and len(e164) == 14:
        return e164[:6] + "****" + e164[-4:]
    return mask_middle(e164, 4, 3)


def mask_id_number(value: str) -> str:
    """110101199003077777 -> 1101**********7777 (region prefix and last four)."""
    return mask_middle(value, 4, 4)


def mask_bank_card(value: str) -> str:
    return mask_middle(value, 0, 4)


def mask_email(value: str) -> str:
    local, sep, domain = value.partition("@")
    if not sep:
        return mask_middle(value, 1, 0)
    return (local[:1] + "***" if local else "") + "@" + domain
