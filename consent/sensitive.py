"""Sensitive processing and its explicit consent (CON-5).

Lower apps announce that a person explicitly consented to, or stopped, sensitive
processing (``accounts.services.signals``); the ledger records it. The other way round, a
withdrawal on the privacy page stops the processing itself: the data it needs is
deleted, since nothing may process it any more (EN I(II)10, V(III))."""

from __future__ import annotations

from collections.abc import Callable

from consent.models import Channel, Decision, Purpose


def _stop_identity_checks(user, ip: str | None) -> None:
    from accounts.services.identity import remove_identity_verification

    remove_identity_verification(user, ip=ip)


def _stop_face_recognition(user, ip: str | None) -> None:
    from organizations.services.roster import erase_face_templates_of_person

    erase_face_templates_of_person(user, ip=ip)


# What withdrawing each sensitive purpose stops, in the withdrawal's transaction.
STOP_PROCESSING: dict[str, Callable[[object, str | None], None]] = {
    Purpose.IDENTITY_CHECK: _stop_identity_checks,
    Purpose.FACE_RECOGNITION: _stop_face_recognition,
}


def stop_processing(user, purpose: str, ip: str | None = None) -> None:
    effect = STOP_PROCESSING.get(purpose)
    if effect is not None:
        effect(user, ip)


def record_sensitive_consent(sender, *, user, purpose: str, ip: str | None = None, **kwargs) -> None:
    from consent.services.ledger import record_consent

    record_consent(
        user=user, purpose=purpose, decision=Decision.GRANTED, channel=Channel.WEB, policy_version="current", ip=ip
    )


def record_sensitive_stop(sender, *, user, purpose: str, ip: str | None = None, **kwargs) -> None:
    from consent.services.ledger import record_consent

    record_consent(user=user, purpose=purpose, decision=Decision.WITHDRAWN, channel=Channel.WEB, ip=ip)


def connect() -> None:
    from accounts.services import signals

    signals.sensitive_processing_consented.connect(record_sensitive_consent, dispatch_uid="consent-sensitive-granted")
    signals.sensitive_processing_stopped.connect(record_sensitive_stop, dispatch_uid="consent-sensitive-stopped")
