"""Automated decisions about people (REQ-11, EN V(V)): every decision the system makes
about a person without a human, that significantly affects them, is recorded with an
explanation they can read on /requests/decisions/ and appeal from there."""

from __future__ import annotations

from django.db import transaction

from dataprotection.audit import record_event
from requests.models import AutomatedDecision


@transaction.atomic
def record_automated_decision(
    subject, *, system: str, decision: str, explanation: str, organization=None, significant: bool = True
) -> AutomatedDecision:
    made = AutomatedDecision.objects.create(
        subject=subject,
        organization=organization,
        system=system,
        decision=decision,
        explanation=explanation,
        significant=significant,
    )
    record_event(
        "automated_decision.made",
        subject=subject,
        target=made,
        organization=organization,
        metadata={"system": system, "significant": significant},
    )
    return made
