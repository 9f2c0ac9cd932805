"""Sensitive processing and its explicit consent (CON-5).

Lower apps announce that a person explicitly consented to, or stopped, sensitive
processing (``accounts.services.signals``); the ledger records it (``ledger.record_sensitive_consent``,
connected by ``consent.hooks``). The other way round, a withdrawal on the privacy page
stops the processing itself: the data it needs is deleted, since nothing may process it
any more (EN I(II)10, V(III))."""

from __future__ import annotations

from collections.abc import Callable

from accounts.services.identity import remove_identity_verification
from consent.models import Purpose
from organizations.services.roster import erase_face_templates_of_person

# What withdrawing each sensitive purpose stops, in the withdrawal's transaction.
STOP_PROCESSING: dict[str, Callable[[object, str | None], None]] = {
    Purpose.IDENTITY_CHECK: remove_identity_verification,
    Purpose.FACE_RECOGNITION: erase_face_templates_of_person,
}


def stop_processing(user, purpose: str, ip: str | None = None) -> None:
    effect = STOP_PROCESSING.get(purpose)
    if effect is not None:
        effect(user, ip=ip)
