"""The one place accounts fills the registries and signals of lower layers (and of
Django itself); ``AccountsConfig.ready()`` calls ``connect()`` once at setup."""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_in
from django.utils.translation import gettext_lazy as _

from accounts import assurance
from accounts.models import SMSMessage
from accounts.services import deletion, sms, sms_delivery
from dataprotection import anonymization, liveness
from dataprotection.models import JobKind


def connect() -> None:
    # SEC-1: the sign-in is the first proof of identity and the first activity of the
    # session; whether the person needs a second factor is worked out then, once.
    user_logged_in.connect(assurance.stamp_sign_in, dispatch_uid="accounts.assurance.stamp_sign_in")

    # ANON-3: the account's own tables in an account-deletion cascade.
    anonymization.register_kind(
        JobKind.ACCOUNT_DELETION, deletion.plan_account_tables, deletion.finish_account_deletion
    )

    # ACC-1: messages whose delivery task was lost or whose worker died are sent.
    liveness.register(
        liveness.RecoverableKind(
            key="sms",
            label=_("SMS messages"),
            model=SMSMessage,
            needs_worker=sms_delivery.sms_needing_a_worker,
            enqueue=sms.resend_sms,
        )
    )
