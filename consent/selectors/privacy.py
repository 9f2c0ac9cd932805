"""Reads of the consent app that are more than a QuerySet method: a person's consent
overview and their machine-readable consent receipt (CON-2, CON-3)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import DataRegion
from consent.models import PURPOSES, ConsentRecord, Decision, Purpose
from consent.services.ledger import current_consents
from dataprotection.crypto import keyed_hash

RECEIPT_VERSION = "KI-CR-v1.1.0"

# Who answers for the processing. A deployment overrides it with the setting
# CONSENT_RECEIPT_CONTROLLER (a dict with the same keys).
DEFAULT_CONTROLLER = {
    "piiController": "Custodia operator",
    "contact": "Data protection officer",
    "address": "See the privacy policy",
    "email": "privacy@custodia.invalid",
}

# Kantara CR v1.1 categories per purpose: (purposeCategory, piiCategory, third party).
RECEIPT_CATEGORIES = {
    Purpose.MARKETING: (["Marketing"], ["Contact information", "Usage data"], False),
    Purpose.OPTIONAL_SHARING: (["Sharing with third parties"], ["Basic profile"], True),
    Purpose.CONTACT_MATCHING: (["Social features"], ["Keyed hashes of phone numbers"], False),
    Purpose.PERSONALIZATION: (["Personalization"], ["Usage data", "Preference cookies"], False),
    Purpose.FACE_RECOGNITION: (["Attendance and access"], ["Biometric data (face template)"], False),
    Purpose.IDENTITY_CHECK: (["Identity verification"], ["Name", "ID number"], False),
    Purpose.CROSS_BORDER: (["Cross-border transfer"], ["Basic profile"], True),
}


@dataclass(frozen=True)
class PurposeState:
    """One purpose as the privacy page shows it."""

    purpose: str
    label: str
    description: str
    sensitive: bool
    record: ConsentRecord | None

    @property
    def granted(self) -> bool:
        return self.record is not None and self.record.decision == Decision.GRANTED


def purpose_states(user) -> list[PurposeState]:
    """Every purpose with the person's current decision (one query)."""
    consents = current_consents(user)
    return [
        PurposeState(value, label, PURPOSES[value].description, PURPOSES[value].sensitive, consents.get(value))
        for value, label in Purpose.choices
    ]


def principal_id(user) -> str:
    """A pseudonymous, stable identifier of the person for receipts: never the phone."""
    return keyed_hash(f"user:{user.pk}", "consent.receipt.principal")[:32]


def _timestamp(moment) -> int:
    return int(moment.timestamp())


def consent_receipt(user, *, policy_url: str, language: str) -> dict:
    """A consent receipt modelled on the Kantara Initiative Consent Receipt v1.1 (the
    ``publicKey`` field is omitted: the receipt is not signed), with the person's full
    ledger history appended as ``ledger``."""
    history = list(
        ConsentRecord.objects.of_person(user).select_related("policy_version").order_by("-recorded_at", "-pk")
    )
    latest: dict[str, ConsentRecord] = {}
    for record in history:
        latest.setdefault(record.purpose, record)
    granted = [record for purpose, record in latest.items() if record.decision == Decision.GRANTED]
    purposes = []
    for record in sorted(granted, key=lambda r: list(PURPOSES).index(r.purpose)):
        info = PURPOSES[record.purpose]
        category, pii, third_party = RECEIPT_CATEGORIES.get(record.purpose, ([], [], False))
        purposes.append(
            {
                "purpose": str(Purpose(record.purpose).label),
                "purposeCode": record.purpose,
                "consentType": "explicit",  # every grant in the ledger is an opt-in
                "purposeCategory": category,
                "piiCategory": pii,
                "primaryPurpose": False,  # additional functions only; basic ones need no consent
                "termination": _("Until you withdraw it in your privacy settings."),
                "thirdPartyDisclosure": third_party,
                "sensitive": info.sensitive,
                "grantedAt": _timestamp(record.recorded_at),
            }
        )
    controller = {**DEFAULT_CONTROLLER, **getattr(settings, "CONSENT_RECEIPT_CONTROLLER", {})}
    sensitive = [p for p in purposes if p["sensitive"]]
    return {
        "version": RECEIPT_VERSION,
        "jurisdiction": "CN" if settings.DATA_REGION == DataRegion.MAINLAND_CHINA else "SG",
        "consentTimestamp": _timestamp(history[0].recorded_at if history else timezone.now()),
        "collectionMethod": _("Custodia privacy settings, cookie banner and Global Privacy Control signal"),
        "consentReceiptID": str(uuid.uuid4()),
        "language": language,
        "piiPrincipalId": principal_id(user),
        "piiControllers": [controller],
        "policyUrl": policy_url,
        "services": [{"service": "Custodia", "purposes": purposes}],
        "sensitive": bool(sensitive),
        "spiCat": sorted({category for p in sensitive for category in p["piiCategory"]}),
        "ledger": [
            {
                "purpose": record.purpose,
                "decision": record.decision,
                "channel": record.channel,
                "actor": record.actor,
                "policyVersion": record.policy_version.version if record.policy_version else None,
                "recordedAt": record.recorded_at.isoformat(),
            }
            for record in history
        ],
    }
