"""Real-person (identity) verification (ACC-3, CON-5): submitting and removing it."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import IdentityVerification, User
from accounts.services import signals
from dataprotection.audit import record_event
from dataprotection.crypto import keyed_hash
from dataprotection.identifiers import normalize_id_number


@transaction.atomic
def submit_identity_verification(
    user: User, *, legal_name: str, id_number: str, explicit_consent: bool, ip: str | None = None
):
    """Record optional real-person authentication data, encrypted (ACC-3), only with the
    person's own explicit consent to this sensitive processing (CON-5), which the
    consent ledger records through ``sensitive_processing_consented``."""
    if not explicit_consent:
        raise ValidationError(
            _("Checking your identity needs your explicit consent to processing your ID number."),
            code="consent_required",
        )
    id_number = normalize_id_number(id_number)
    digest = keyed_hash(id_number, "accounts.identity.id_number")
    if IdentityVerification.objects.filter(id_number_digest=digest).exclude(user=user).exists():
        raise ValidationError(_("This ID number is already verified on another account."), code="taken")
    verification, _created = IdentityVerification.objects.update_or_create(
        user=user,
        defaults={
            "legal_name": legal_name.strip(),
            "id_number": id_number,
            "id_number_digest": digest,
            "status": "submitted",
            "submitted_at": timezone.now(),
        },
    )
    record_event(
        "identity.submitted", actor=user, subject=user, target=verification, ip=ip, changes=["legal_name", "id_number"]
    )
    signals.sensitive_processing_consented.send(User, user=user, purpose=signals.IDENTITY_CHECK, ip=ip)
    return verification


@transaction.atomic
def remove_identity_verification(user: User, *, ip: str | None = None) -> None:
    deleted, _details = IdentityVerification.objects.filter(user=user).delete()
    if deleted:
        record_event("identity.removed", actor=user, subject=user, target=user, ip=ip)
        signals.sensitive_processing_stopped.send(User, user=user, purpose=signals.IDENTITY_CHECK, ip=ip)
