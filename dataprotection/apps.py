from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DataProtectionConfig(AppConfig):
    name = "dataprotection"
    verbose_name = _("Data protection")

    def ready(self):
        from django.core.signals import setting_changed

        from dataprotection import crypto, third_party_personal_data

        third_party_personal_data.register()  # ANON-1: models we do not own

        from dataprotection import anonymization
        from dataprotection.models import JobKind

        # ANON-3: events about a deleted person are scrubbed of their values.
        anonymization.register_kind(JobKind.ACCOUNT_DELETION, anonymization.plan_audit_trail_of_subject)
        # ANON-4: values kept under a legal hold get their final policy when it ends.
        anonymization.register_kind(JobKind.RETENTION, anonymization.plan_ended_holds)

        from dataprotection import liveness
        from dataprotection.models import AnonymizationJob

        def drive_again(job) -> None:
            from dataprotection.tasks import enqueue_drivers

            enqueue_drivers(job.pk, on_commit=False)

        # ANON-2: cascades whose drivers died or whose messages were lost are resumed.
        liveness.register(
            liveness.RecoverableKind(
                key="anonymization",
                label=_("Anonymization jobs"),
                model=AnonymizationJob,
                needs_worker=anonymization.needs_worker,
                enqueue=drive_again,
            )
        )

        def reset_key_ring(setting, **kwargs):
            # Tests and key rotation change the key settings at run time.
            if setting in {"FIELD_ENCRYPTION_KEYS", "FIELD_HASH_KEY", "SECRET_KEY"}:
                crypto.key_ring.cache_clear()

        setting_changed.connect(reset_key_ring, weak=False, dispatch_uid="dataprotection.reset_key_ring")

        from django.db.models.signals import post_migrate

        from dataprotection.staff_roles import sync_after_migrate

        # SEC-1: the operations staff role groups follow the code after every migrate.
        post_migrate.connect(sync_after_migrate, sender=self, dispatch_uid="dataprotection.sync_staff_roles")
