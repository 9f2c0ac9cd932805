"""``consent.hooks.connect`` (called once by ``ConsentConfig.ready``) fills every
registry and signal of the lower layers that the consent app needs, and calling it again
changes nothing."""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_in

from accounts.services import signals as account_signals
from consent import hooks
from consent.services import lifecycle
from dataprotection import anonymization, liveness
from dataprotection.models import JobKind
from organizations.services import disband


def uids(signal) -> set:
    return {key[0] for key, *_rest in signal.receivers}


def registries() -> tuple:
    return (
        uids(user_logged_in),
        uids(account_signals.sensitive_processing_consented),
        uids(account_signals.sensitive_processing_stopped),
        {kind.key for kind in liveness.kinds()},
        list(anonymization._planners[JobKind.DISBAND]),
        list(anonymization._planners[JobKind.ACCOUNT_DELETION]),
        list(disband._preview_contributors),
    )


def test_the_registries_after_setup_and_again():
    """CON-3, CON-5, CON-6, SVC-3, ORG-11, ACC-5: what the app registers at setup."""
    after_setup = registries()
    sign_in, granted, stopped, recoverable, disband_planners, deletion_planners, previews = after_setup
    assert {"consent-policy-notice", "consent-banner-state"} <= sign_in
    assert "consent-sensitive-granted" in granted and "consent-sensitive-stopped" in stopped
    assert "deletion_notice" in recoverable
    assert lifecycle.plan_disband_sharing in disband_planners
    assert lifecycle.plan_person_sharing in deletion_planners
    assert lifecycle.disband_preview_services in previews
    hooks.connect()
    assert registries() == after_setup
