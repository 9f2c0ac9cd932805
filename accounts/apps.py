from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Personal accounts")

    def ready(self):
        from accounts import assurance, deletion  # noqa: F401  SEC-1: stamps the sign-in (user_logged_in)

        deletion.register()  # ANON-3: the account's own tables in an account-deletion cascade

        from accounts import services
        from accounts.models import SMSMessage
        from dataprotection import liveness

        # ACC-1: messages whose delivery task was lost or whose worker died are sent.
        liveness.register(
            liveness.RecoverableKind(
                key="sms",
                label=_("SMS messages"),
                model=SMSMessage,
                needs_worker=services.sms_needing_a_worker,
                enqueue=services.resend_sms,
            )
        )
