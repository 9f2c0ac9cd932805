"""Where dataprotection fills its own registries and Django's signals (the apps above
fill theirs from their own ``hooks.py``; docs/architecture.md lists every hook).
``connect()`` runs once, from ``DataProtectionConfig.ready``; every registry ignores a
second registration of the same function and every signal has a ``dispatch_uid``, so
calling it again changes nothing."""

from __future__ import annotations

from django.apps import apps
from django.core.signals import setting_changed
from django.db.models.signals import post_migrate, pre_save
from django.utils.translation import gettext_lazy as _

from dataprotection import anonymization, audit_chain, crypto, liveness, third_party_personal_data
from dataprotection.models import AnonymizationJob, AuditEvent, JobKind
from dataprotection.staff_roles import sync_after_migrate
from dataprotection.tasks import enqueue_drivers


def drive_again(job) -> None:
    """The recovery sweep's way to resume a cascade: enqueue its drivers now."""
    enqueue_drivers(job.pk, on_commit=False)


def reset_key_ring(setting, **kwargs) -> None:
    # Tests and key rotation change the key settings at run time.
    if setting in {"FIELD_ENCRYPTION_KEYS", "FIELD_HASH_KEY", "SECRET_KEY"}:
        crypto.key_ring.cache_clear()


def connect() -> None:
    # ANON-1: the personal data of models we do not own (Django's, django-otp's).
    third_party_personal_data.declare_models_we_do_not_own()
    anonymization.register_kind(JobKind.ACCOUNT_DELETION, third_party_personal_data.plan_second_factor_devices)
    # ANON-3: events about a deleted person are scrubbed of their values.
    anonymization.register_kind(JobKind.ACCOUNT_DELETION, anonymization.plan_audit_trail_of_subject)
    # ANON-4: values kept under a legal hold get their final policy when it ends.
    anonymization.register_kind(JobKind.RETENTION, anonymization.plan_ended_holds)
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
    # SEC-2: every new audit event carries its keyed digests (the tamper-evident chain).
    pre_save.connect(audit_chain.stamp_before_save, sender=AuditEvent, dispatch_uid="dataprotection.audit_stamp")
    setting_changed.connect(reset_key_ring, dispatch_uid="dataprotection.reset_key_ring")
    # SEC-1: the operations staff role groups follow the code after every migrate.
    post_migrate.connect(
        sync_after_migrate, sender=apps.get_app_config("dataprotection"), dispatch_uid="dataprotection.sync_staff_roles"
    )
