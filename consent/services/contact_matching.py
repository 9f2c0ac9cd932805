"""Contact matching with a keyed one-way hash (CON-4, ZH-CN 三(一)).

The client normalizes each phone number of its address book to E.164 and sends only
``hex(HMAC-SHA256(key, e164))``. We compare those digests with the digests of the people
who allow being found (``PrivacySettings.discovery_digest``, set only while
``findable_by_phone`` is on) and answer with the matches. Submitted digests are never
stored: not in the database, not in logs, not in the audit trail (only their count).

The key: ``settings.CONTACT_MATCHING_KEY`` (UTF-8 bytes) when set; otherwise a key
derived from ``SECRET_KEY`` with HKDF-SHA256 (info ``custodia contact matching``), so
every process of one deployment agrees on it without extra configuration. Clients get
it from ``/privacy/contacts/key.json`` together with its key id (the first 16 hex digits
of its SHA-256), so they notice a rotation. Rotating the key makes stored discovery
digests stale until each person turns "find me by phone number" off and on again.

Because clients hold the key, the hash can be computed by anyone for any number: the
daily per-person limit (``CONTACT_MATCHING_DAILY_LIMIT``, counted in the cache) is what
keeps the phone-number space from being enumerated.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from functools import lru_cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from consent.models import PrivacySettings
from dataprotection.audit import record_event
from dataprotection.masking import mask_phone

MAX_DIGESTS_PER_REQUEST = 500
DIGEST_RE = re.compile(r"^[0-9a-f]{64}$")


class DailyLimitExceeded(Exception):
    """The person submitted more digests today than CONTACT_MATCHING_DAILY_LIMIT."""


@lru_cache(maxsize=4)
def _key_for(configured: str, secret_key: str) -> bytes:
    if configured:
        return configured.encode("utf-8")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"custodia", info=b"custodia contact matching").derive(
        secret_key.encode()
    )


def matching_key() -> bytes:
    return _key_for(settings.CONTACT_MATCHING_KEY, settings.SECRET_KEY)


def key_id() -> str:
    return hashlib.sha256(matching_key()).hexdigest()[:16]


def public_key_document() -> dict:
    """What a signed-in client needs to hash its contacts."""
    return {
        "algorithm": "HMAC-SHA256",
        "key": base64.b64encode(matching_key()).decode("ascii"),
        "key_id": key_id(),
        "normalization": "E.164",
        "max_digests_per_request": MAX_DIGESTS_PER_REQUEST,
    }


def contact_digest(e164: str) -> str:
    """The keyed one-way hash of a phone number already in E.164 form."""
    return hmac.new(matching_key(), e164.encode("ascii"), hashlib.sha256).hexdigest()


def parse_digests(payload) -> list[str]:
    """Validate a decoded JSON body ``{"digests": [...]}``; return the distinct digests
    (lower case) or raise ``ValidationError`` with what is wrong."""
    if not isinstance(payload, dict) or not isinstance(payload.get("digests"), list):
        raise ValidationError(_('Send a JSON object of the form {"digests": ["<64 hex digits>", ...]}.'), code="shape")
    digests = payload["digests"]
    if len(digests) > MAX_DIGESTS_PER_REQUEST:
        raise ValidationError(
            _("Send at most %(max)d digests per request; this one has %(count)d."),
            code="too_many",
            params={"max": MAX_DIGESTS_PER_REQUEST, "count": len(digests)},
        )
    cleaned = []
    for position, digest in enumerate(digests):
        value = digest.lower() if isinstance(digest, str) else None
        if value is None or not DIGEST_RE.match(value):
            # The position, never the value: submitted digests are not echoed or logged.
            raise ValidationError(
                _("Digest number %(position)d is not a hex HMAC-SHA256 (64 characters 0-9, a-f)."),
                code="malformed",
                params={"position": position + 1},
            )
        cleaned.append(value)
    return list(dict.fromkeys(cleaned))


def _daily_counter_key(user) -> str:
    return f"contact-matching:{user.pk}:{timezone.localdate().isoformat()}"


def charge_daily_limit(user, count: int) -> None:
    """Count ``count`` digests against the person's daily limit, atomically in the
    cache; raise ``DailyLimitExceeded`` (and take the charge back) past the limit."""
    key = _daily_counter_key(user)
    cache.add(key, 0, timeout=26 * 3600)  # a day plus slack: the date is in the key
    try:
        used = cache.incr(key, count)
    except ValueError:  # expired between add and incr
        cache.add(key, count, timeout=26 * 3600)
        used = count
    if used > settings.CONTACT_MATCHING_DAILY_LIMIT:
        cache.decr(key, count)
        raise DailyLimitExceeded


def display_name_for_match(user) -> str:
    # Only what a contact would see anyway: the nickname they chose, else a masked number.
    return user.nickname or mask_phone(user.phone)


def match_contacts(user, digests: list[str], *, ip: str | None = None) -> list[dict]:
    """CON-4: the people among ``digests`` who allow being found, except the asker.
    Charges the daily limit first; audits only the counts."""
    charge_daily_limit(user, len(digests))
    if not digests:
        return []
    with transaction.atomic():
        found = list(
            PrivacySettings.objects.filter(findable_by_phone=True, discovery_digest__in=digests)
            .exclude(user=user)
            .select_related("user")
            .only("discovery_digest", "user__nickname", "user__phone")
        )
        record_event(
            "consent.contacts_matched",
            actor=user,
            subject=user,
            ip=ip,
            metadata={"submitted": len(digests), "matched": len(found)},
        )
    return [{"digest": row.discovery_digest, "display_name": display_name_for_match(row.user)} for row in found]
