"""Keyed-hash lookups of roster members' sensitive values (ORG-10).

Mobile and ID numbers are encrypted at rest; equality lookups go through the HMAC
digest columns (``Member.mobile_digest``, ``Member.id_number_digest``). Everything that
writes or searches those columns hashes with the purposes defined here, so the seeder,
the roster search and the roster edit service always agree.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db.models import Q

from accounts.services.phones import normalize_mobile
from dataprotection.crypto import keyed_hash
from dataprotection.identifiers import normalize_id_number

MOBILE_DIGEST_PURPOSE = "organizations.member.mobile"
ID_NUMBER_DIGEST_PURPOSE = "organizations.member.id_number"


def mobile_digest(e164: str) -> str:
    """The lookup digest of a mobile number in E.164 form ("" for no number)."""
    return keyed_hash(e164, MOBILE_DIGEST_PURPOSE) if e164 else ""


def id_number_digest(normalized: str) -> str:
    """The lookup digest of a normalized ID number ("" for no number)."""
    return keyed_hash(normalized, ID_NUMBER_DIGEST_PURPOSE) if normalized else ""


_ID_NUMBER_SHAPE = re.compile(r"^\d{17}[\dX]$")


def member_search(query: str) -> Q:
    """ORG-7: the roster search box as one filter.

    A query that reads as a mobile number (any way ``normalize_mobile`` accepts) or has
    the shape of an 18-character ID number is an exact lookup through the keyed-hash
    digest column: the number itself never reaches the SQL, and an ID number with a
    wrong check digit simply finds nobody. Anything else matches names containing it
    or employee numbers equal to or starting with it.
    """
    query = (query or "").strip()
    if not query:
        return Q()
    try:
        e164 = normalize_mobile(query)
    except ValidationError:
        e164 = ""
    if e164:
        return Q(mobile_digest=mobile_digest(e164))
    id_number = normalize_id_number(query)
    if _ID_NUMBER_SHAPE.match(id_number):  # valid or not: an ID-shaped query is never sent in clear
        return Q(id_number_digest=id_number_digest(id_number))
    return Q(name__icontains=query) | Q(employee_number__startswith=query)
