"""Check digits of the identifiers the portal validates and the demo data fakes:
mainland 18-digit resident ID numbers (GB 11643-1999, ISO 7064 MOD 11-2), bank card
numbers (Luhn) and unified social credit codes of organizations (GB 32100-2015)."""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache
from operator import mul

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
    if value.isascii():  # the common case, computed in C (same verdict as below)
        born = _birth_date(value[6:14])
        if born is None or born > date.today():
            return False
        total = sum(map(mul, value[:17].encode(), _ID_WEIGHTS)) - _ID_ASCII_OFFSET
        return _ID_CHECK[total % 11] == value[17]
    try:  # other Unicode digits, which ``\d`` and ``int`` accept too
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    if born.year < 1900 or born > date.today():
        return False
    return id_number_check_digit(value[:17]) == value[17]


# sum(weight * ord(digit)) exceeds sum(weight * digit) by 48 * sum(weights) ("0" is 48).
_ID_ASCII_OFFSET = ord("0") * sum(_ID_WEIGHTS)


@lru_cache(maxsize=65536)
def _birth_date(digits: str) -> date | None:
    """The date of YYYYMMDD (ASCII digits), ``None`` when it is no date or before 1900."""
    try:
        born = date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        return None
    return born if born.year >= 1900 else None


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


# Each digit replaced by the digit sum of its double (Luhn): 5 -> 10 -> 1, 9 -> 18 -> 9.
_LUHN_DOUBLE = str.maketrans("0123456789", "0246813579")


def is_valid_bank_card(value: str) -> bool:
    digits = (value or "").replace(" ", "")
    if not digits.isdigit() or not 12 <= len(digits) <= 19:
        return False
    if digits.isascii():  # the common case, computed in C (same verdict as ``luhn_check_digit``)
        reverse = digits[-2::-1]  # the partial number, check digit excluded, from the right
        total = (
            sum(reverse[::2].translate(_LUHN_DOUBLE).encode()) + sum(reverse[1::2].encode()) - ord("0") * len(reverse)
        )
        return str((10 - total % 10) % 10) == digits[-1]
    return luhn_check_digit(digits[:-1]) == digits[-1]


# Unified social credit codes (GB 32100-2015): 18 characters from a 31-character set that
# leaves out I, O, Z, S and V; the last one is a check character over the first 17.
CREDIT_CODE_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_CREDIT_PATTERN = re.compile(rf"^[{CREDIT_CODE_CHARSET}]{{18}}$")


def normalize_credit_code(value: str) -> str:
    return (value or "").strip().replace(" ", "").upper()


def credit_code_check_char(first17: str) -> str:
    total = sum(CREDIT_CODE_CHARSET.index(c) * w for c, w in zip(first17, _CREDIT_WEIGHTS, strict=True))
    return CREDIT_CODE_CHARSET[(31 - total % 31) % 31]


def is_valid_credit_code(value: str) -> bool:
    """True for an 18-character unified social credit code with the right check
    character (GB 32100-2015), as organizations register them (ORG-2)."""
    value = normalize_credit_code(value)
    if not _CREDIT_PATTERN.match(value):
        return False
    return credit_code_check_char(value[:17]) == value[17]
