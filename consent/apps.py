from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConsentConfig(AppConfig):
    name = "consent"
    verbose_name = _("Consent and privacy settings")

    def ready(self):
        from django.contrib.auth.signals import user_logged_in

        from consent import gpc, policy_notice, sensitive
        from consent.services import lifecycle

        # CON-6: a significant policy change is put in front of the person at sign-in.
        user_logged_in.connect(policy_notice.flag_pending_policy_notice, dispatch_uid="consent-policy-notice")
        # CON-3: the cookie banner's answer is read once at sign-in, into the session.
        user_logged_in.connect(gpc.remember_state_at_sign_in, dispatch_uid="consent-banner-state")
        # ORG-11, ACC-5: closing services and telling recipients are part of the cascades.
        lifecycle.register()
        # CON-5: explicit consents to sensitive processing given on lower apps' pages.
        sensitive.connect()

        from consent.models import DeletionNotice
        from consent.services import notices
        from dataprotection import liveness

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
        from consent.services import demo_data
        from organizations.services.demo_data.journeys import register_demo_step

        # seed_demo: a third-party service whose deletion endpoint works (the dev receiver).
        register_demo_step("third_party_service", demo_data.ensure_demo_service)
