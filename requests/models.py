"""Data-subject requests (REQ-1 to REQ-11): what a person asks for, who answers it by
when, every step taken, and what they get back.

A request is filed by the person it is about, or by an authorized agent whom the person
confirms (REQ-9); its identity was verified with a fresh SMS code bound to the signed-in
account before it exists (REQ-3). Its due date follows the person's jurisdiction
(REQ-4, ``requests.services.deadlines``); it is routed to the organization that controls the data
or to operations staff (REQ-5); every transition is a ``RequestEvent`` and an audit
event (REQ-6)."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from dataprotection.deferred_text import render_stored
from dataprotection.fields import EncryptedTextField
from dataprotection.models import LiveJob
from dataprotection.personal_data import (
    DELETE_ROW,
    ERASE_FILE,
    REDACT_BLANK,
    REDACT_TEXT,
    SET_NULL,
    PersonalData,
    redact,
)


class Jurisdiction(models.TextChoices):
    """Where the person is, which decides the rights they have and the deadline."""

    MAINLAND = "mainland", _("Mainland China")
    INTERNATIONAL = "international", _("Elsewhere (international edition)")
    EEA = "eea", _("European Economic Area")
    CALIFORNIA = "california", _("California")
    JAPAN = "japan", _("Japan")
    AUSTRALIA = "australia", _("Australia")


class RequestKind(models.TextChoices):
    ACCESS = "access", _("Access to my data or a copy of it")
    CORRECTION = "correction", _("Correction of my data")
    SUPPLEMENT = "supplement", _("Supplement of my data")
    DELETION = "deletion", _("Deletion of my data")
    CONSENT_WITHDRAWAL = "consent_withdrawal", _("Withdrawal of a consent")
    ACCOUNT_CANCELLATION = "account_cancellation", _("Cancellation of my account")
    AUTOMATED_DECISION = "automated_decision", _("Explanation of an automated decision")
    COMPLAINT = "complaint", _("Complaint")
    OBJECTION = "objection", _("Objection to processing (EEA)")
    RESTRICTION = "restriction", _("Restriction of processing (EEA)")
    PORTABILITY = "portability", _("Data portability (EEA)")
    DISCLOSURE = "disclosure", _("Disclosure of retained data (Japan)")
    CA_ACCESS = "ca_access", _("Right to know (California)")
    CA_DELETION = "ca_deletion", _("Right to delete (California)")
    CA_PORTABILITY = "ca_portability", _("Data portability (California)")


COMMON_KINDS = (
    RequestKind.ACCESS,
    RequestKind.CORRECTION,
    RequestKind.SUPPLEMENT,
    RequestKind.DELETION,
    RequestKind.CONSENT_WITHDRAWAL,
    RequestKind.ACCOUNT_CANCELLATION,
    RequestKind.AUTOMATED_DECISION,
    RequestKind.COMPLAINT,
)
# REQ-1: the kinds a person may file, by jurisdiction.
KINDS_BY_JURISDICTION: dict[str, tuple[str, ...]] = {
    Jurisdiction.MAINLAND: COMMON_KINDS,
    Jurisdiction.INTERNATIONAL: COMMON_KINDS,
    Jurisdiction.EEA: (*COMMON_KINDS, RequestKind.OBJECTION, RequestKind.RESTRICTION, RequestKind.PORTABILITY),
    Jurisdiction.JAPAN: (*COMMON_KINDS, RequestKind.DISCLOSURE),
    Jurisdiction.CALIFORNIA: (
        *COMMON_KINDS,
        RequestKind.CA_ACCESS,
        RequestKind.CA_DELETION,
        RequestKind.CA_PORTABILITY,
    ),
    Jurisdiction.AUSTRALIA: COMMON_KINDS,
}
# Kinds answered with a machine-readable archive (REQ-7).
EXPORT_KINDS = frozenset(
    {
        RequestKind.ACCESS,
        RequestKind.PORTABILITY,
        RequestKind.DISCLOSURE,
        RequestKind.CA_ACCESS,
        RequestKind.CA_PORTABILITY,
    }
)
DELETION_KINDS = frozenset({RequestKind.DELETION, RequestKind.CA_DELETION})


class DeletionGround(models.TextChoices):
    """EN V(II) 1-5: when a person may ask for deletion (REQ-2)."""

    UNLAWFUL = "unlawful", _("The data is processed in violation of laws and regulations")
    NO_CONSENT = "no_consent", _("The data was collected or used without my explicit consent")
    BREACH = "breach", _("The processing seriously violates the agreement with me")
    NO_LONGER_USED = "no_longer_used", _("I no longer use the service, or I cancel my account")
    SERVICE_ENDED = "service_ended", _("The service is no longer provided to me")


class RefusalGround(models.TextChoices):
    """REQ-6: the only grounds on which a request may be refused: the six legal
    exemptions of EN V(VI) 1-6, then the reasonableness limits of the same section."""

    NATIONAL_SECURITY = "national_security", _("It relates to national security or national defence")
    PUBLIC_INTEREST = "public_interest", _("It relates to public safety, public health or a major public interest")
    CRIMINAL_PROCEEDINGS = (
        "criminal_proceedings",
        _("It relates to a criminal investigation, prosecution, trial or the execution of a judgment"),
    )
    ABUSE = "abuse", _("There is sufficient evidence of malice or abuse of rights")
    HARM_TO_OTHERS = (
        "harm_to_others",
        _("Answering would seriously damage the legitimate rights and interests of the person or others"),
    )
    TRADE_SECRETS = "trade_secrets", _("It involves trade secrets")
    REPEATED = "repeated", _("It unreasonably repeats an earlier request")
    NOT_ABOUT_REQUESTER = "not_about_requester", _("It is not about the requester's own data")
    IMPRACTICAL = "impractical", _("It is impractical (it would need a new system or a fundamental change)")


class RequestStatus(models.TextChoices):
    RECEIVED = "received", _("received")
    VERIFYING = "verifying", _("verifying")
    IN_PROGRESS = "in_progress", _("in progress")
    PAUSED = "paused", _("paused")
    EXTENDED = "extended", _("extended")
    COMPLETED = "completed", _("completed")
    REFUSED = "refused", _("refused")
    WITHDRAWN = "withdrawn", _("withdrawn")


OPEN_STATUSES = frozenset(
    {
        RequestStatus.RECEIVED,
        RequestStatus.VERIFYING,
        RequestStatus.IN_PROGRESS,
        RequestStatus.PAUSED,
        RequestStatus.EXTENDED,
    }
)
CLOSED_STATUSES = frozenset({RequestStatus.COMPLETED, RequestStatus.REFUSED, RequestStatus.WITHDRAWN})


# Purposes bound into the encryption of the stored files (dataprotection.files): a file
# of one kind cannot be passed off as the other. Filing writes them, the handlers'
# pages read them, key rotation re-encrypts them.
EVIDENCE_FILE_PURPOSE = "requests.request.evidence"
AGENT_PROOF_FILE_PURPOSE = "requests.request.agent_proof"


def new_reference() -> str:
    """A public reference people can quote: short, unguessable, no internal id."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "R-" + "".join(secrets.choice(alphabet) for _ in range(10))


class DataSubjectRequestQuerySet(models.QuerySet):
    def open(self) -> DataSubjectRequestQuerySet:
        return self.filter(status__in=OPEN_STATUSES)

    def for_operations(self) -> DataSubjectRequestQuerySet:
        """REQ-5: requests no organization controls."""
        return self.filter(organization__isnull=True)

    def of_organization(self, organization_id: int) -> DataSubjectRequestQuerySet:
        return self.filter(organization_id=organization_id)

    def due_by(self, day) -> DataSubjectRequestQuerySet:
        return self.open().filter(due_on__lte=day)


class DataSubjectRequest(models.Model):
    reference = models.CharField(_("reference"), max_length=12, unique=True, default=new_reference, editable=False)
    kind = models.CharField(_("kind"), max_length=24, choices=RequestKind.choices)
    jurisdiction = models.CharField(_("jurisdiction"), max_length=16, choices=Jurisdiction.choices)
    # Whose data it is, and who filed it (the same person unless an agent did, REQ-9).
    subject = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="data_subject_requests",
        verbose_name=_("person"),
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="agent_requests",
        verbose_name=_("authorized agent"),
    )
    agent_proof = models.CharField(_("proof of authority (file)"), max_length=200, blank=True)
    subject_confirmed_at = models.DateTimeField(_("confirmed by the person at"), null=True, blank=True)
    # REQ-5: the controller. Empty: operations staff answer.
    organization = models.ForeignKey(
        "organizations.Organization",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="data_subject_requests",
        verbose_name=_("organization"),
    )
    member = models.ForeignKey(
        "organizations.Member",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("roster entry"),
    )
    details = EncryptedTextField(_("details"), purpose="requests.request.details", blank=True)
    deletion_grounds = models.JSONField(_("deletion grounds"), default=list, blank=True)
    # A correction or supplement is structured: which field, the proposed value, evidence.
    field = models.CharField(_("field"), max_length=64, blank=True)
    proposed_value = EncryptedTextField(_("proposed value"), purpose="requests.request.proposed_value", blank=True)
    evidence = models.CharField(_("evidence (file)"), max_length=200, blank=True)
    automated_decision = models.ForeignKey(
        "requests.AutomatedDecision",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="requests",
        verbose_name=_("automated decision"),
    )
    escalated_from = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="escalations",
        verbose_name=_("escalated from"),
    )
    duplicate_of = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="duplicates",
        verbose_name=_("same as"),
    )
    status = models.CharField(_("status"), max_length=12, choices=RequestStatus.choices, default=RequestStatus.RECEIVED)
    received_at = models.DateTimeField(_("received at"), default=timezone.now)
    verified_at = models.DateTimeField(_("identity verified at"), null=True, blank=True)
    verification_method = models.CharField(_("verified by"), max_length=20, blank=True)
    # REQ-4: the legal due date, pushed back by pauses and recorded extensions.
    original_due_on = models.DateField(_("first due date"))
    due_on = models.DateField(_("due date"))
    paused_since = models.DateTimeField(_("paused since"), null=True, blank=True)
    paused_days = models.PositiveIntegerField(_("days paused"), default=0)
    extended_at = models.DateTimeField(_("extended at"), null=True, blank=True)
    extension_reason = models.TextField(_("reason for the extension"), blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_requests",
        verbose_name=_("assigned to"),
    )
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    outcome = models.TextField(_("answer to the person"), blank=True)
    # An answer the portal wrote (a key and parameters, ``dataprotection.deferred_text``),
    # rendered in the reader's language; ``outcome`` holds an answer a handler typed.
    outcome_message = models.TextField(_("answer to the person (message key)"), blank=True, editable=False)
    refusal_ground = models.CharField(_("refusal ground"), max_length=24, choices=RefusalGround.choices, blank=True)
    last_reminded_on = models.DateField(_("assignee last reminded on"), null=True, blank=True)

    objects = DataSubjectRequestQuerySet.as_manager()

    class Meta:
        verbose_name = _("data-subject request")
        verbose_name_plural = _("data-subject requests")
        ordering = ["due_on", "pk"]
        # REQ-6, SEC-1: staff see a request's details and proposed value only with this
        # permission; everyone else sees them masked in the console.
        permissions = [("view_request_details", _("Can see the details of data-subject requests"))]
        indexes = [
            models.Index(fields=["status", "due_on"], name="request_status_due"),
            models.Index(fields=["organization", "status", "due_on"], name="request_org_status_due"),
            models.Index(fields=["subject", "kind", "received_at"], name="request_subject_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.reference} ({self.get_kind_display()})"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def answer(self) -> str:
        """The answer to the person, in the reader's language when the portal wrote it."""
        return render_stored(self.outcome_message, self.outcome)

    @property
    def is_overdue(self) -> bool:
        return self.is_open and self.due_on < timezone.localdate()

    personal_data = PersonalData(
        subject="subject",
        note="The request stays as the record that it was answered; what identifies the person goes.",
        fields={
            "subject": SET_NULL,
            "agent": SET_NULL,
            "agent_proof": ERASE_FILE,
            "member": SET_NULL,
            "details": REDACT_BLANK,
            "field": REDACT_BLANK,
            "proposed_value": REDACT_BLANK,
            "evidence": ERASE_FILE,
            "outcome": redact("", note="may quote the person's data"),
            "outcome_message": redact("", note="may name the organization that held the person's data"),
            "extension_reason": redact("", note="may name the person"),
        },
        non_personal={
            "id",
            "reference",
            "kind",
            "jurisdiction",
            "subject_confirmed_at",
            "organization",
            "deletion_grounds",
            "automated_decision",
            "escalated_from",
            "duplicate_of",
            "status",
            "received_at",
            "verified_at",
            "verification_method",
            "original_due_on",
            "due_on",
            "paused_since",
            "paused_days",
            "extended_at",
            "assignee",
            "closed_at",
            "refusal_ground",
            "last_reminded_on",
        },
    )


class EventKind(models.TextChoices):
    TRANSITION = "transition", _("status change")
    NOTE = "note", _("internal note")
    MESSAGE = "message", _("message to the person")
    ASSIGNMENT = "assignment", _("assignment")


class RequestEvent(models.Model):
    """One step in the life of a request, shown to handlers (and, unless internal, to
    the person). Only ever appended."""

    request = models.ForeignKey(DataSubjectRequest, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(_("kind"), max_length=12, choices=EventKind.choices)
    at = models.DateTimeField(_("at"), default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    from_status = models.CharField(_("from"), max_length=12, choices=RequestStatus.choices, blank=True)
    to_status = models.CharField(_("to"), max_length=12, choices=RequestStatus.choices, blank=True)
    text = EncryptedTextField(_("text"), purpose="requests.event.text", blank=True)
    # What the portal wrote, as a key and parameters rendered in the reader's language
    # (``dataprotection.deferred_text``); ``text`` holds what a person typed.
    message = EncryptedTextField(_("message"), purpose="requests.event.message", blank=True, editable=False)
    internal = models.BooleanField(_("internal"), default=True)

    class Meta:
        verbose_name = _("request event")
        verbose_name_plural = _("request events")
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} @ {self.at:%Y-%m-%d %H:%M}"

    @property
    def display_text(self) -> str:
        """The event's text in the reader's language when the portal wrote it."""
        return render_stored(self.message, self.text)

    personal_data = PersonalData(
        subject="request__subject",
        fields={"actor": SET_NULL, "text": REDACT_BLANK, "message": REDACT_BLANK},
        non_personal={"id", "request", "kind", "at", "from_status", "to_status", "internal"},
    )


class Holiday(models.Model):
    """A public holiday (or a working weekend day) of a jurisdiction's calendar, for
    deadlines counted in working days (REQ-4). Maintained by operations staff."""

    jurisdiction = models.CharField(_("jurisdiction"), max_length=16, choices=Jurisdiction.choices)
    date = models.DateField(_("date"))
    name = models.CharField(_("name"), max_length=100)
    working_day = models.BooleanField(
        _("working day"), default=False, help_text=_("A weekend day that is worked (a make-up working day).")
    )

    class Meta:
        verbose_name = _("holiday")
        verbose_name_plural = _("holidays")
        ordering = ["jurisdiction", "date"]
        constraints = [models.UniqueConstraint(fields=["jurisdiction", "date"], name="holiday_once_per_day")]

    def __str__(self) -> str:
        return f"{self.date} {self.name}"

    personal_data = PersonalData(non_personal={"id", "jurisdiction", "date", "name", "working_day"})


class ExportStatus(models.TextChoices):
    QUEUED = "queued", _("queued")
    BUILDING = "building", _("building")
    READY = "ready", _("ready")
    FAILED = "failed", pgettext_lazy("export archive", "failed")
    EXPIRED = "expired", _("expired")


class ExportArchive(LiveJob):
    """The archive answering an access or portability request (REQ-7): built by a
    Celery job (progress on this row), stored encrypted, downloadable by the person
    only, until it expires. Liveness (``LiveJob``): the build is claimed in ``worker``
    and beaten while it runs; a build whose worker died is taken over within seconds."""

    request = models.ForeignKey(DataSubjectRequest, on_delete=models.CASCADE, related_name="exports")
    status = models.CharField(_("status"), max_length=10, choices=ExportStatus.choices, default=ExportStatus.QUEUED)
    sections_total = models.PositiveSmallIntegerField(_("sections"), default=0)
    sections_done = models.PositiveSmallIntegerField(_("sections done"), default=0)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.CharField(_("last error"), max_length=300, blank=True)
    stored_file = models.CharField(_("stored file"), max_length=200, blank=True)
    size = models.PositiveBigIntegerField(_("size (bytes)"), default=0)
    sha256 = models.CharField(_("SHA-256"), max_length=64, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    ready_at = models.DateTimeField(_("ready at"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    downloads = models.PositiveIntegerField(_("downloads"), default=0)

    class Meta:
        verbose_name = _("export archive")
        verbose_name_plural = _("export archives")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "expires_at"], name="export_status_expiry"),
            # The recovery sweep's query: the few archives queued or being built.
            models.Index(
                fields=["heartbeat_at"], condition=models.Q(status__in=["queued", "building"]), name="export_at_work"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.request.reference} ({self.get_status_display()})"

    personal_data = PersonalData(
        subject="request__subject",
        row=DELETE_ROW,
        fields={"stored_file": ERASE_FILE},
        non_personal={
            "id",
            "request",
            "status",
            "sections_total",
            "sections_done",
            "attempts",
            "last_error",
            "size",
            "sha256",
            "created_at",
            "ready_at",
            "expires_at",
            "downloads",
            *LiveJob.LIVENESS_FIELDS,
        },
    )


class AutomatedDecision(models.Model):
    """A decision a system made about a person without a human (REQ-11, EN V(V)), with
    the explanation the person reads; they may ask for more and appeal."""

    subject = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="automated_decisions")
    organization = models.ForeignKey(
        "organizations.Organization", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    system = models.CharField(_("system"), max_length=100)
    decision = models.CharField(_("decision"), max_length=200)
    explanation = models.TextField(_("explanation"))
    significant = models.BooleanField(_("significantly affects the person"), default=True)
    made_at = models.DateTimeField(_("made at"), default=timezone.now)

    class Meta:
        verbose_name = _("automated decision")
        verbose_name_plural = _("automated decisions")
        ordering = ["-made_at"]

    def __str__(self) -> str:
        return f"{self.system}: {self.decision}"

    personal_data = PersonalData(
        subject="subject",
        row=DELETE_ROW,
        fields={"subject": DELETE_ROW, "decision": REDACT_TEXT, "explanation": REDACT_TEXT},
        non_personal={"id", "organization", "system", "significant", "made_at"},
    )
