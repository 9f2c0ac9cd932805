from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DataProtectionConfig(AppConfig):
    name = "dataprotection"
    verbose_name = _("Data protection")

    def ready(self):
        from django.core.signals import setting_changed

        from dataprotection import crypto, third_party_personal_data

        third_party_personal_data.register()  # ANON-1: models we do not own

        def reset_key_ring(setting, **kwargs):
            # Tests and key rotation change the key settings at run time.
            if setting in {"FIELD_ENCRYPTION_KEYS", "FIELD_HASH_KEY", "SECRET_KEY"}:
                crypto.key_ring.cache_clear()

        setting_changed.connect(reset_key_ring, weak=False, dispatch_uid="dataprotection.reset_key_ring")
