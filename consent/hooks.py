"""Where the consent app fills the registries and signals of the layers below it
(``AppConfig.ready`` calls ``connect`` once, at setup)."""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_in
from django.utils.translation import gettext_lazy as _

from accounts.services import signals as account_signals
from consent import tasks
from consent.models import DeletionNotice
from consent.services import demo_data, ledger, lifecycle, notices
from consent.views import gpc, policy_notice
from dataprotection import anonymization, liveness
from dataprotection.models import JobKind
from organizations.services import disband
from organizations.services.demo_data.journeys import register_demo_step


def connect() -> None:
    # SVC-3: the notice services enqueue the delivery task (which imports them) through this.
    notices.use_deliverer(tasks.deliver_deletion_notice)
    # CON-6: a significant policy change is put in front of the person at sign-in.
    user_logged_in.connect(policy_notice.flag_pending_policy_notice, dispatch_uid="consent-policy-notice")
    # CON-3: the cookie banner's answer is read once at sign-in, into the session.
    user_logged_in.connect(gpc.remember_state_at_sign_in, dispatch_uid="consent-banner-state")

    # ORG-11, ACC-5: closing services and telling recipients are part of the cascades.
    anonymization.register_kind(JobKind.DISBAND, lifecycle.plan_disband_sharing)
    anonymization.register_kind(JobKind.ACCOUNT_DELETION, lifecycle.plan_person_sharing)
    disband.register_preview_contributor(lifecycle.disband_preview_services)

    # CON-5: explicit consents to sensitive processing given on lower apps' pages.
    account_signals.sensitive_processing_consented.connect(
        ledger.record_sensitive_consent, dispatch_uid="consent-sensitive-granted"
    )
    account_signals.sensitive_processing_stopped.connect(
        ledger.record_sensitive_stop, dispatch_uid="consent-sensitive-stopped"
    )

    # SVC-3: notices due again, and deliveries whose worker died, are sent again.
    liveness.register(
        liveness.RecoverableKind(
            key="deletion_notice",
            label=_("Deletion notices"),
            model=DeletionNotice,
            needs_worker=notices.needs_worker,
            enqueue=notices.resume,
        )
    )

    # seed_demo: a third-party service whose deletion endpoint works (the dev receiver).
    register_demo_step("third_party_service", demo_data.ensure_demo_service)
