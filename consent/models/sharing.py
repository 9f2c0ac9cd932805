"""Services an organization (or a person) opens, what each receives, and the outbox of
deletion notices to providers (SVC-1 to SVC-5, REQ-8)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dataprotection.fields import EncryptedTextField
from dataprotection.models import LiveJob
from dataprotection.personal_data import DELETE_ROW, SET_NULL, PersonalData, redact


class ServiceKind(models.TextChoices):
    FIRST_PARTY = "first_party", _("Custodia service")
    THIRD_PARTY = "third_party", _("Third-party app")
    SELF_BUILT = "self_built", _("Self-built app")
    MINI_PROGRAM = "mini_program", _("Mini-program")


class DataScope(models.TextChoices):
    """What a service may receive about members beyond the basic information (user ID,
    avatar and nickname), which every opened service receives (SVC-2)."""

    NAME = "name", _("Name")
    MOBILE = "mobile", _("Mobile number")
    OFFICE_EMAIL = "office_email", _("Office email")
    OFFICE_PHONE = "office_phone", _("Office phone")
    DEPARTMENTS = "departments", _("Departments")
    POSITION = "position", _("Position and grade")
    EMPLOYEE_NUMBER = "employee_number", _("Employee number")
    ATTENDANCE = "attendance", _("Attendance punches")
    APPROVALS = "approvals", _("Approvals")
    WORK_LOGS = "work_logs", _("Work logs")
    SCHEDULE = "schedule", _("Schedule entries")


class HostingRegion(models.TextChoices):
    """SEC-6: where a provider stores the data it receives. The first two are the
    portal's data regions (the values of ``settings.DATA_REGION``); any other place is
    outside both."""

    MAINLAND_CHINA = "cn", _("Mainland China")
    SINGAPORE = "sg", _("Singapore")
    HONG_KONG = "hk", _("Hong Kong SAR")
    JAPAN = "jp", _("Japan")
    UNITED_STATES = "us", _("United States")
    EUROPEAN_UNION = "eu", _("European Union")
    AUSTRALIA = "au", _("Australia")
    ELSEWHERE = "xx", _("Elsewhere (see the provider's privacy policy)")


class Service(models.Model):
    """One entry of the catalog (SVC-1), maintained by operations staff. A self-built
    app belongs to the organization that built it."""

    code = models.SlugField(_("code"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=16, choices=ServiceKind.choices)
    description = models.TextField(_("description"), blank=True)
    provider_name = models.CharField(_("provider"), max_length=150, blank=True)
    privacy_policy_url = models.URLField(_("provider's privacy policy"), blank=True)
    hosting_region = models.CharField(
        _("hosted in"),
        max_length=2,
        choices=HostingRegion.choices,
        blank=True,
        default="",
        help_text=_(
            "Where the provider stores the data it receives (SEC-6). Blank: in this portal's own data region "
            "(Custodia services, and providers hosting here)."
        ),
    )
    data_scopes = models.JSONField(_("declared data scopes"), default=list, blank=True)
    scopes_revision = models.PositiveIntegerField(
        _("scopes revision"), default=1, help_text=_("Goes up each time the declared scopes grow.")
    )
    notice_url = models.URLField(_("deletion notice endpoint"), blank=True)
    notice_secret = EncryptedTextField(_("notice signing secret"), purpose="consent.service.notice_secret", blank=True)
    client_secret_digest = models.CharField(max_length=64, blank=True)
    organization = models.ForeignKey(
        "organizations.Organization",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="self_built_services",
        verbose_name=_("built by"),
    )
    listed = models.BooleanField(_("listed in the catalog"), default=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("service")
        verbose_name_plural = _("services")
        ordering = ["kind", "name"]

    def __str__(self) -> str:
        return self.name

    @property
    def hosted_outside_region(self) -> bool:
        """SEC-6: sending this service personal data transfers it out of the
        deployment's data region, which needs each person's cross-border consent."""
        return bool(self.hosting_region) and self.hosting_region != settings.DATA_REGION

    personal_data = PersonalData(
        note="No personal data; the signing secret is a credential, erased with a self-built app's organization.",
        fields={"notice_secret": redact("", note="a credential")},
        non_personal={
            "id",
            "code",
            "name",
            "kind",
            "description",
            "provider_name",
            "privacy_policy_url",
            "hosting_region",
            "data_scopes",
            "scopes_revision",
            "notice_url",
            "client_secret_digest",
            "organization",
            "listed",
            "created_at",
        },
    )


class GrantStatus(models.TextChoices):
    ACTIVE = "active", _("open")
    REVOKED = "revoked", _("closed")


class SharingGrant(models.Model):
    """An organization's decision to open a service: who decided, which fields, since
    when (SVC-3). Closing revokes it; a closed grant stays as the record of the share."""

    organization = models.ForeignKey(
        "organizations.Organization", on_delete=models.CASCADE, related_name="sharing_grants"
    )
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="grants")
    status = models.CharField(_("status"), max_length=10, choices=GrantStatus.choices, default=GrantStatus.ACTIVE)
    scopes = models.JSONField(_("confirmed data scopes"), default=list, blank=True)
    scopes_revision = models.PositiveIntegerField(_("confirmed scopes revision"), default=1)
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("opened by")
    )
    opened_at = models.DateTimeField(_("opened at"), default=timezone.now)
    confirmed_at = models.DateTimeField(_("scopes last confirmed at"), default=timezone.now)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("closed by"),
    )
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    close_reason = models.CharField(_("why closed"), max_length=24, blank=True)

    class Meta:
        verbose_name = _("sharing grant")
        verbose_name_plural = _("sharing grants")
        ordering = ["-opened_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "service"],
                condition=models.Q(status="active"),
                name="one_open_grant_per_service",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.service} ({self.get_status_display()})"

    personal_data = PersonalData(
        note="Who opened or closed a service is the administrator's personal data; the grant stays as the "
        "record of the share.",
        fields={"opened_by": SET_NULL, "closed_by": SET_NULL},
        non_personal={
            "id",
            "organization",
            "service",
            "status",
            "scopes",
            "scopes_revision",
            "opened_at",
            "confirmed_at",
            "closed_at",
            "close_reason",
        },
    )


class PersonalAuthorization(models.Model):
    """A person's own authorization of a mini-program: basic information only (SVC-4)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="personal_authorizations")
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="personal_authorizations")
    status = models.CharField(_("status"), max_length=10, choices=GrantStatus.choices, default=GrantStatus.ACTIVE)
    granted_at = models.DateTimeField(_("authorized at"), default=timezone.now)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        verbose_name = _("mini-program authorization")
        verbose_name_plural = _("mini-program authorizations")
        ordering = ["-granted_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "service"],
                condition=models.Q(status="active"),
                name="one_open_authorization_per_app",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.service} ({self.get_status_display()})"

    personal_data = PersonalData(
        subject="user",
        row=DELETE_ROW,
        fields={"user": DELETE_ROW},
        non_personal={"id", "service", "status", "granted_at", "revoked_at"},
    )


class ProviderToken(models.Model):
    """An access token a provider uses to fetch data, for one grant or one personal
    authorization. Only its SHA-256 digest is stored; closing the grant revokes it at
    once (SVC-3)."""

    digest = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(_("token starts with"), max_length=8)
    grant = models.ForeignKey(SharingGrant, on_delete=models.CASCADE, null=True, blank=True, related_name="tokens")
    authorization = models.ForeignKey(
        PersonalAuthorization, on_delete=models.CASCADE, null=True, blank=True, related_name="tokens"
    )
    created_at = models.DateTimeField(_("issued at"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires at"))
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)

    class Meta:
        verbose_name = _("provider token")
        verbose_name_plural = _("provider tokens")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(grant__isnull=False, authorization__isnull=True)
                | models.Q(grant__isnull=True, authorization__isnull=False),
                name="provider_token_for_one_grant",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.prefix}…"

    personal_data = PersonalData(
        note="A credential; it dies with the grant or authorization it belongs to.",
        row=DELETE_ROW,
        fields={"digest": DELETE_ROW},
        non_personal={
            "id",
            "prefix",
            "grant",
            "authorization",
            "created_at",
            "expires_at",
            "revoked_at",
            "last_used_at",
        },
    )


class Disclosure(models.Model):
    """Every share of a person's data with a third party (SVC-5): which service received
    which scopes of whom, through which organization (or the person's own
    authorization), first and last. A deletion uses it to notify each recipient."""

    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="disclosures")
    organization = models.ForeignKey(
        "organizations.Organization", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    member = models.ForeignKey(
        "organizations.Member", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="disclosures"
    )
    scopes = models.JSONField(_("data scopes"), default=list)
    first_disclosed_at = models.DateTimeField(_("first shared at"), default=timezone.now)
    last_disclosed_at = models.DateTimeField(_("last shared at"), default=timezone.now)
    times = models.PositiveIntegerField(_("times shared"), default=1)

    class Meta:
        verbose_name = _("disclosure")
        verbose_name_plural = _("disclosures")
        constraints = [
            models.UniqueConstraint(
                fields=["service", "member"], condition=models.Q(member__isnull=False), name="disclosure_per_member"
            ),
            models.UniqueConstraint(
                fields=["service", "user"],
                condition=models.Q(member__isnull=True, user__isnull=False),
                name="disclosure_per_person",
            ),
        ]
        indexes = [models.Index(fields=["user", "service"], name="disclosure_user")]

    def __str__(self) -> str:
        return f"{self.service} ({self.first_disclosed_at:%Y-%m-%d})"

    personal_data = PersonalData(
        subject="user",
        note="Kept, without the person, as the record that the recipient was told to delete (REQ-8).",
        fields={"member": SET_NULL, "user": SET_NULL},
        non_personal={
            "id",
            "service",
            "organization",
            "scopes",
            "first_disclosed_at",
            "last_disclosed_at",
            "times",
        },
    )


class NoticeReason(models.TextChoices):
    SERVICE_CLOSED = "service_closed", _("the organization closed the service")
    AUTHORIZATION_REVOKED = "authorization_revoked", _("the person revoked the authorization")
    ORGANIZATION_DISBANDED = "organization_disbanded", _("the organization was disbanded")
    ACCOUNT_DELETED = "account_deleted", _("the person deleted their account")
    DELETION_REQUESTED = "deletion_requested", _("the person asked for deletion")
    CORRECTED = "corrected", _("the person's data was corrected: the copy held is outdated")


class NoticeStatus(models.TextChoices):
    PENDING = "pending", _("waiting to be sent")
    SENDING = "sending", _("sending")
    ACKNOWLEDGED = "acknowledged", _("acknowledged")


class DeletionNotice(LiveJob):
    """The outbox of deletion notices to providers (SVC-3, REQ-8). Retried with
    backoff until the provider acknowledges; once acknowledged never sent again. The
    payload names people only by the pseudonymous IDs the provider already holds, and
    those are erased from it once the provider acknowledges. Liveness (``LiveJob``): a
    delivery is claimed in ``worker`` and beaten while the POST is in flight."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="deletion_notices")
    organization = models.ForeignKey(
        "organizations.Organization",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    reason = models.CharField(_("reason"), max_length=24, choices=NoticeReason.choices)
    payload = models.JSONField(_("payload"), default=dict)
    status = models.CharField(_("status"), max_length=12, choices=NoticeStatus.choices, default=NoticeStatus.PENDING)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), default=timezone.now)
    last_error = models.CharField(_("last error"), max_length=300, blank=True)
    last_status_code = models.PositiveSmallIntegerField(_("last HTTP status"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)

    class Meta:
        verbose_name = _("deletion notice")
        verbose_name_plural = _("deletion notices")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="notice_due")]

    def __str__(self) -> str:
        return f"{self.service} ({self.get_status_display()})"

    personal_data = PersonalData(
        note="Addressed to the provider; people appear only as the provider's own pseudonymous IDs.",
        non_personal={
            "id",
            "uuid",
            "payload",
            "service",
            "organization",
            "reason",
            "status",
            "attempts",
            "next_attempt_at",
            "last_error",
            "last_status_code",
            "created_at",
            "acknowledged_at",
            *LiveJob.LIVENESS_FIELDS,
        },
    )
