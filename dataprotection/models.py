"""The audit trail (SEC-2): append-only events about actions on personal data."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dataprotection.personal_data import (
    ANONYMIZED,
    DELETE_ROW,
    SERVICE_LOGS,
    SET_NULL,
    PersonalData,
    legal_hold,
    redact,
)


def event_time():
    # Looked up at call time (not ``default=timezone.now``), as ``auto_now_add`` did, so
    # code and tests that patch ``django.utils.timezone.now`` still set the time.
    return timezone.now()


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):  # append-only: history is never rewritten in place
        raise TypeError("Audit events are append-only")

    def about(self, user) -> AuditEventQuerySet:
        return self.filter(subject_user=user)

    def in_organization(self, organization_id: int) -> AuditEventQuerySet:
        return self.filter(organization_id=organization_id)

    def accessed_by_others(self, user) -> AuditEventQuerySet:
        """SEC-2 "who accessed my data": events about ``user`` that someone else (an
        administrator, operations staff, the system) caused, newest first."""
        return self.about(user).exclude(actor=user).order_by("-occurred_at", "-id")


class AuditEvent(models.Model):
    """One action by a person, staff member or the system on personal data.

    Rows are append-only (SEC-2): ``save`` refuses to update an existing event and the
    queryset refuses bulk updates. Values are never copied in; ``changes`` holds field
    names, so anonymizing a person does not leave their old values here.

    Tamper evidence (SEC-2, ``dataprotection/audit_chain.py``): ``pre_save`` stamps the keyed
    digests of the content at insert; the sealer later links events into a keyed hash
    chain (``chain_seq``, ``chain_hash``) that ``manage.py verify_audit_chain`` checks.
    """

    # A default rather than ``auto_now_add``: the digest stamped in ``save`` must cover
    # the very time that is written, and ``auto_now_add`` would replace it at INSERT.
    occurred_at = models.DateTimeField(_("occurred at"), default=event_time, editable=False, db_index=True)
    action = models.CharField(_("action"), max_length=64, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    actor_kind = models.CharField(
        _("actor kind"),
        max_length=16,
        choices=[("person", _("person")), ("staff", _("operations staff")), ("system", _("system"))],
        default="person",
    )
    subject_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("data subject"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # A plain integer, not a foreign key: the trail must outlive a disbanded organization,
    # and this package depends on no app (docs/architecture.md).
    organization_id = models.BigIntegerField(_("organization"), null=True, blank=True)
    target_type = models.CharField(_("target type"), max_length=64, blank=True)
    target_id = models.CharField(_("target id"), max_length=64, blank=True)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    changes = models.JSONField(_("changed fields"), default=list, blank=True)
    metadata = models.JSONField(_("details"), default=dict, blank=True)
    # Tamper evidence (SEC-2; see dataprotection/audit_chain.py for the scheme).
    digest_salt = models.CharField(_("digest salt"), max_length=32, blank=True, editable=False)
    field_digests = models.JSONField(_("field digests"), default=dict, blank=True, editable=False)
    content_digest = models.CharField(_("content digest"), max_length=64, blank=True, editable=False)
    chain_seq = models.BigIntegerField(_("chain position"), null=True, blank=True, unique=True, editable=False)
    chain_hash = models.CharField(_("chain hash"), max_length=64, blank=True, editable=False)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["-occurred_at", "-id"]
        # SEC-1: console permissions of the staff roles (dataprotection/staff_roles.py)
        # whose every use writes an audit event.
        permissions = [
            ("reveal_certification", _("Can reveal certification documents and the legal representative's identity")),
            ("verify_audit_chain", _("Can run the verification of the audit chain")),
        ]
        indexes = [
            models.Index(fields=["subject_user", "occurred_at"], name="audit_subject_time"),
            models.Index(fields=["organization_id", "occurred_at"], name="audit_org_time"),
            # The sealer's backlog: small, whatever the size of the trail.
            models.Index(fields=["id"], condition=models.Q(chain_seq__isnull=True), name="audit_unsealed"),
        ]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.action}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise TypeError("Audit events are append-only")
        super().save(*args, **kwargs)  # stamped on pre_save by the audit chain (dataprotection/hooks.py)

    def delete(self, *args, **kwargs):
        raise TypeError("Audit events are append-only")

    @property
    def is_held(self) -> bool:
        """ANON-4: the event was scrubbed when its person was anonymized; what it still
        keeps (the IP address, a service log) is held for the law's period only and is
        shown to no one in the organization's own views."""
        return self.metadata == ANONYMIZED

    personal_data = PersonalData(
        subject="subject_user",
        note="The trail is append-only and kept; the people in it are de-linked (SEC-2).",
        fields={
            "actor": SET_NULL,
            "subject_user": SET_NULL,
            "target_id": redact("", note="the id of the subject's own user or roster row links the event to them"),
            "ip_address": legal_hold(SERVICE_LOGS, after=SET_NULL, since="occurred_at"),
            "changes": redact(ANONYMIZED, note="only personal values inside the JSON are replaced"),
            "metadata": redact(ANONYMIZED, note="only personal values inside the JSON are replaced"),
            # Blanking the salt with the rest marks the event scrubbed and makes its field
            # digests unlinkable: nobody can test a guessed IP or id against them.
            "digest_salt": redact("", note="the salt of the keyed field digests (audit_chain.py)"),
        },
        non_personal={
            "id",
            "occurred_at",
            "action",
            "actor_kind",
            "organization_id",
            "target_type",
            # Keyed, salted digests and chain links: without the salt they reveal nothing.
            "field_digests",
            "content_digest",
            "chain_seq",
            "chain_hash",
        },
    )


class AuditChainHead(models.Model):
    """The one row that ends the audit hash chain (SEC-2): the last sealed position and
    hash, which the sealer locks (``select_for_update``) so sealers run one at a time
    while writers never wait, and the outcome of the last verification, which the admin
    shows on the audit event list and which the daily task sets."""

    last_seq = models.BigIntegerField(_("last sealed position"), default=0)
    last_hash = models.CharField(_("last chain hash"), max_length=64, blank=True)
    sealed_at = models.DateTimeField(_("last sealed at"), null=True, blank=True)
    verifying_since = models.DateTimeField(_("verification running since"), null=True, blank=True)
    last_verified_at = models.DateTimeField(_("last verified at"), null=True, blank=True)
    last_verification_ok = models.BooleanField(_("last verification passed"), null=True, blank=True)
    verified_events = models.BigIntegerField(_("events verified"), default=0)
    problems = models.JSONField(_("problems found"), default=list, blank=True)

    class Meta:
        verbose_name = _("audit chain head")
        verbose_name_plural = _("audit chain head")

    def __str__(self) -> str:
        return f"audit chain #{self.last_seq}"

    personal_data = PersonalData(
        note="Positions, digests, times and problem descriptions (event ids, never values).",
        non_personal={
            "id",
            "last_seq",
            "last_hash",
            "sealed_at",
            "verifying_since",
            "last_verified_at",
            "last_verification_ok",
            "verified_events",
            "problems",
        },
    )


class LiveJob(models.Model):
    """The liveness of a background job's row (``dataprotection.liveness``): who holds
    it, when that worker last proved it was alive, and when the recovery sweep last
    enqueued it. Every kind of job (cascades, roster imports, export archives, deletion
    notices, SMS) carries these fields; none of them is personal data."""

    worker = models.CharField(_("worker"), max_length=100, blank=True)
    heartbeat_at = models.DateTimeField(_("last heartbeat"), null=True, blank=True, default=timezone.now)
    queued_at = models.DateTimeField(_("re-queued at"), null=True, blank=True)

    LIVENESS_FIELDS = frozenset({"worker", "heartbeat_at", "queued_at"})

    class Meta:
        abstract = True


class JobKind(models.TextChoices):
    DISBAND = "disband", _("Organization disband")
    ACCOUNT_DELETION = "account_deletion", _("Account deletion")
    RETENTION = "retention", _("Retention sweep")
    MEMBER_ERASURE = "member_erasure", _("Erasure of one roster entry (data-subject request)")


class JobStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("Scheduled (grace window)")
    RUNNING = "running", _("Running")
    VERIFYING = "verifying", _("Verifying")
    COMPLETED = "completed", _("Completed")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


# A job in these states still has work ahead (at most one disband per organization).
LIVE_JOB_STATUSES = (JobStatus.SCHEDULED, JobStatus.RUNNING, JobStatus.VERIFYING)


class AnonymizationJob(LiveJob):
    """One cascade (ORG-11, ACC-5, ANON-2, ANON-3): the database row that the Celery
    tasks drive, checkpoint and report on, and that the owner's and staff's progress bars
    read. ``organization_id`` and ``subject_id`` are plain integers: the job outlives what
    it anonymizes, and this package imports no app (docs/architecture.md).

    Liveness (``LiveJob``): every driver of a running job beats ``heartbeat_at``; the
    steps one worker does alone (planning, verifying) are claimed in ``worker``."""

    kind = models.CharField(_("kind"), max_length=20, choices=JobKind.choices)
    status = models.CharField(
        _("status"), max_length=10, choices=JobStatus.choices, default=JobStatus.SCHEDULED, db_index=True
    )
    organization_id = models.BigIntegerField(_("organization"), null=True, blank=True, db_index=True)
    subject_id = models.BigIntegerField(_("person"), null=True, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    label = models.CharField(_("what"), max_length=200, blank=True)
    not_before = models.DateTimeField(_("runs after"))
    created_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    attempts = models.PositiveIntegerField(_("failed attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    preview = models.JSONField(_("preview"), default=dict, blank=True)
    report = models.JSONField(_("deletion report"), default=dict, blank=True)

    class Meta:
        verbose_name = _("anonymization job")
        verbose_name_plural = _("anonymization jobs")
        ordering = ["-created_at", "-id"]
        constraints = [
            # One live cascade per organization: a second disband is refused, not queued.
            models.UniqueConstraint(
                fields=["kind", "organization_id"],
                condition=models.Q(status__in=LIVE_JOB_STATUSES, kind="disband"),
                name="one_live_disband_per_organization",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} ({self.get_status_display()})"

    personal_data = PersonalData(
        subject=None,
        note="The job and its report hold counts, table names and ids, never values (ANON-7).",
        fields={"requested_by": SET_NULL, "label": redact(ANONYMIZED)},
        non_personal={
            "id",
            "kind",
            "status",
            "organization_id",
            "subject_id",
            "not_before",
            "created_at",
            "started_at",
            "finished_at",
            "cancelled_at",
            "attempts",
            "last_error",
            "preview",
            "report",
            *LiveJob.LIVENESS_FIELDS,
        },
    )


class StageAction(models.TextChoices):
    ANONYMIZE = "anonymize", _("anonymize in place")
    DELETE = "delete", _("delete")


class AnonymizationStage(models.Model):
    """One table of a cascade: which rows (``lookup``), what happens to them, and the
    progress counters (processed of total) the progress bar shows."""

    job = models.ForeignKey(AnonymizationJob, on_delete=models.CASCADE, related_name="stages")
    position = models.PositiveIntegerField()
    phase = models.PositiveIntegerField(default=0)
    model_label = models.CharField(max_length=100)
    action = models.CharField(max_length=10, choices=StageAction.choices)
    lookup = models.JSONField(default=dict)
    extra = models.JSONField(default=dict, blank=True)
    # Only these declared fields (a retention stage releasing ended holds); empty: all.
    only = models.JSONField(default=list, blank=True)
    total = models.BigIntegerField(default=0)
    processed = models.BigIntegerField(default=0)
    changed = models.BigIntegerField(default=0)
    files_erased = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("anonymization stage")
        verbose_name_plural = _("anonymization stages")
        ordering = ["job", "position"]
        constraints = [models.UniqueConstraint(fields=["job", "position"], name="one_stage_per_position")]

    def __str__(self) -> str:
        return f"{self.model_label} ({self.action})"

    personal_data = PersonalData(
        non_personal={
            "id",
            "job",
            "position",
            "phase",
            "model_label",
            "action",
            "lookup",
            "extra",
            "only",
            "total",
            "processed",
            "changed",
            "files_erased",
        },
    )


class ChunkStatus(models.TextChoices):
    PENDING = "pending", _("pending")
    RUNNING = "running", _("running")
    DONE = "done", _("done")


class AnonymizationChunk(models.Model):
    """A key range of one stage: the unit of work one task runs in one transaction.

    A worker claims a chunk by compare-and-set (pending -> running, with its claim token
    and a heartbeat), works on it in one transaction that also marks it done on that
    token. A worker killed mid-chunk rolls its transaction back and stops beating; once
    the heartbeat is stale another worker takes the chunk again, so each range is applied
    exactly once and the attempt count stops redelivery loops."""

    job = models.ForeignKey(AnonymizationJob, on_delete=models.CASCADE, related_name="chunks")
    stage = models.ForeignKey(AnonymizationStage, on_delete=models.CASCADE, related_name="chunks")
    phase = models.PositiveIntegerField(default=0)
    low = models.BigIntegerField()
    high = models.BigIntegerField()
    planned = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=8, choices=ChunkStatus.choices, default=ChunkStatus.PENDING)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    claim = models.CharField(max_length=32, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    rows = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("anonymization chunk")
        verbose_name_plural = _("anonymization chunks")
        indexes = [models.Index(fields=["job", "status", "phase", "id"], name="anon_chunk_claim")]

    def __str__(self) -> str:
        return f"{self.stage_id}: {self.low}..{self.high} ({self.status})"

    personal_data = PersonalData(
        non_personal={
            "id",
            "job",
            "stage",
            "phase",
            "low",
            "high",
            "planned",
            "status",
            "heartbeat_at",
            "claim",
            "attempts",
            "rows",
            "last_error",
            "done_at",
        },
    )


class AnonymizationFingerprints(models.Model):
    """ANON-7: the value scan's memory between planning and verification: how many
    distinct values of kept (non-personal) columns were compared with the original personal
    values, and keyed 64-bit digests of those found to be copies. Digests of personal values
    are pseudonymous data, so the row goes as soon as the job completes."""

    job = models.OneToOneField(
        AnonymizationJob, on_delete=models.CASCADE, primary_key=True, related_name="fingerprints"
    )
    digests = models.BinaryField(_("digests"), editable=False)
    values = models.PositiveIntegerField(_("values"), default=0)

    class Meta:
        verbose_name = _("anonymization fingerprints")
        verbose_name_plural = _("anonymization fingerprints")

    def __str__(self) -> str:
        return f"{self.job_id}: {self.values}"

    personal_data = PersonalData(
        subject=None,
        note="Keyed digests, never values; deleted with the job's completion (ANON-7).",
        row=DELETE_ROW,
        fields={"digests": DELETE_ROW},
        non_personal={"job", "values"},
    )


class IdempotencyRecord(models.Model):
    """The first answer to a create request sent with an ``Idempotency-Key`` header:
    a retry with the same key and body gets the same answer and writes nothing again; the
    same key with another body is refused. Swept after a day
    (``dataprotection.api.idempotency``). The table keeps the name it had when accounts
    held the API's foundation."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=100)
    endpoint = models.CharField(max_length=200)
    request_digest = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response_body = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        db_table = "accounts_idempotencyrecord"
        verbose_name = _("idempotency record")
        verbose_name_plural = _("idempotency records")
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_once_per_user")]

    def __str__(self) -> str:
        return f"{self.endpoint} {self.status_code}"

    personal_data = PersonalData(
        subject="user",
        row=DELETE_ROW,
        note="The stored answer can repeat what was created.",
        fields={"user": DELETE_ROW, "response_body": DELETE_ROW},
        non_personal={"id", "key", "endpoint", "request_digest", "status_code", "created_at"},
    )
