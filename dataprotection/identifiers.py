"""Check digits of the identifiers the portal validates and the demo data fakes:
mainland 18-digit resident ID numbers (GB 11643-1999, ISO 7064 MOD 11-2) and bank card
numbers (Luhn)."""

from __future__ import annotations

import re
from datetime import date

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID_PATTERN = re.compile(r"^\d{17}[\dX]$")


def id_number_check_digit(first17: str) -> str:
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def normalize_id_number(value: str) -> str:
    return (value or "").strip().replace(" ", "").upper()


def is_valid_id_number(value: str) -> bool:
    """True for an 18-digit ID number with a real birth date and the right check digit."""
    value = normalize_id_number(value)
    if not _ID_PATTERN.match(value):
        return False
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    if born.year < 1900 or born > date.today():
        return False
    return id_number_check_digit(value[:17]) == value[17]


def luhn_check_digit(partial: str) -> str:
    total = 0
    for index, char in enumerate(reversed(partial)):
        digit = int(char)
        if index % 2 == 0:  # these positions are doubled once the check digit is appended
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return str((10 - total % 10) % 10)


def is_valid_bank_card(value: str) -> bool:
    digits = (value or "").replace(" ", "")
    if not digits.isdigit() or not 12 <= len(digits) <= 19:
        return False
    return luhn_check_digit(digits[:-1]) == digits[-1]
