"""Personal accounts (ACC-1 to ACC-6)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _

from dataprotection.fields import EncryptedTextField
from dataprotection.masking import mask_phone
from dataprotection.models import LiveJob
from dataprotection.personal_data import (
    DELETE_ROW,
    ERASE_FILE,
    REDACT_BLANK,
    SELF,
    SET_NULL,
    PersonalData,
    pseudonymize,
    redact,
)


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, phone: str, password: str | None = None, **extra) -> User:
        if not phone:
            raise ValueError("A verified mobile number is required")
        user = self.model(phone=phone, **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, phone: str, password: str | None = None, **extra) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(phone, password, **extra)


class Gender(models.TextChoices):
    UNSPECIFIED = "", _("Prefer not to say")
    FEMALE = "female", _("Female")
    MALE = "male", _("Male")
    OTHER = "other", _("Other")


class DataRegion(models.TextChoices):
    """SEC-6: where a person's or organization's data is kept (EN VII)."""

    MAINLAND_CHINA = "cn", _("Mainland China")
    SINGAPORE = "sg", _("Singapore")


def avatar_upload_to(instance: User, filename: str) -> str:
    # Random names: the file name must not reveal the person (ANON-1).
    import secrets

    return f"avatars/{secrets.token_hex(16)}.{filename.rsplit('.', 1)[-1].lower()}"


class User(AbstractBaseUser, PermissionsMixin):
    """A personal account, identified by a verified mobile number in E.164 form (ACC-1).

    The profile fields are the person's own (ACC-2): they can view, correct and
    supplement each of them on the profile page.
    """

    phone = models.CharField(
        _("mobile number"),
        max_length=16,
        unique=True,
        help_text=_("Verified mobile number in international format, e.g. +8613800138000."),
    )
    name = models.CharField(_("name"), max_length=100, blank=True)
    nickname = models.CharField(_("nickname"), max_length=50, blank=True)
    avatar = models.ImageField(_("avatar"), upload_to=avatar_upload_to, blank=True)
    gender = models.CharField(_("gender"), max_length=8, choices=Gender.choices, blank=True, default="")
    birthday = models.DateField(_("birthday"), null=True, blank=True)
    work_region = models.CharField(_("work region"), max_length=100, blank=True)
    company_email = models.EmailField(_("company email"), blank=True)
    preferred_language = models.CharField(
        _("preferred language"), max_length=10, choices=settings.LANGUAGES, blank=True, default=""
    )
    data_region = models.CharField(
        _("data region"), max_length=2, choices=DataRegion.choices, default=settings.DATA_REGION
    )
    is_active = models.BooleanField(_("active"), default=True)
    is_staff = models.BooleanField(
        _("operations staff"), default=False, help_text=_("Can sign in to the operations console.")
    )
    date_joined = models.DateTimeField(_("date joined"), default=timezone.now)
    # SEC-1: bumped whenever the sign-in factors change (second factor enrolled or
    # removed, recovery codes regenerated). It is part of the session hash, so every other
    # session of the person ends at once with no extra query per request.
    security_stamp = models.PositiveIntegerField(_("security stamp"), default=0, editable=False)

    objects = UserManager()

    USERNAME_FIELD = "phone"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        verbose_name = _("personal user")
        verbose_name_plural = _("personal users")

    def __str__(self) -> str:
        # Never the full number: str() ends up in logs, admin lists and audit views.
        return self.name or self.nickname or mask_phone(self.phone)

    def get_short_name(self) -> str:
        # The operations console greets staff with this, else with the full number.
        return self.display_name

    def _get_session_auth_hash(self, secret=None) -> str:
        """Django's password-based session hash, extended with the security stamp (SEC-1);
        SECRET_KEY_FALLBACKS keep working because Django passes each fallback here."""
        return salted_hmac(
            "accounts.User.get_session_auth_hash",
            f"{self.password}:{self.security_stamp}",
            secret=secret,
            algorithm="sha256",
        ).hexdigest()

    @property
    def display_name(self) -> str:
        return self.nickname or self.name or mask_phone(self.phone)

    @property
    def masked_phone(self) -> str:
        return mask_phone(self.phone)

    personal_data = PersonalData(
        subject=SELF,
        row=DELETE_ROW,
        fields={
            "phone": pseudonymize("accounts.user.phone", note="unique: a stable pseudonym while the row exists"),
            "password": redact("!", note="an unusable password"),
            "last_login": SET_NULL,
            "name": REDACT_BLANK,
            "nickname": REDACT_BLANK,
            "avatar": ERASE_FILE,
            "gender": REDACT_BLANK,
            "birthday": SET_NULL,
            "work_region": REDACT_BLANK,
            "company_email": REDACT_BLANK,
        },
        non_personal={
            "id",
            "is_superuser",
            "preferred_language",
            "data_region",
            "is_active",
            "is_staff",
            "date_joined",
            "security_stamp",
            "groups",
            "user_permissions",
        },
    )


class CodePurpose(models.TextChoices):
    REGISTER = "register", _("registration")
    SIGN_IN = "sign_in", _("sign-in")
    PASSWORD_RESET = "password_reset", _("password reset")
    REVERIFY = "reverify", _("identity re-verification")


class OneTimeCodeQuerySet(models.QuerySet):
    def for_number(self, phone: str, purpose: str) -> OneTimeCodeQuerySet:
        return self.filter(phone=phone, purpose=purpose)

    def sent_since(self, since) -> OneTimeCodeQuerySet:
        return self.filter(created_at__gte=since)


class OneTimeCode(models.Model):
    """An SMS one-time code (ACC-1). Only a keyed hash of the code is stored; a code is
    good for ``SMS_CODE_TTL``, for one use, and for a limited number of wrong guesses."""

    phone = models.CharField(_("mobile number"), max_length=16)
    purpose = models.CharField(_("purpose"), max_length=20, choices=CodePurpose.choices)
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(_("sent at"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires at"))
    used_at = models.DateTimeField(_("used at"), null=True, blank=True)
    failed_attempts = models.PositiveSmallIntegerField(_("failed attempts"), default=0)
    requested_from = models.GenericIPAddressField(_("requested from"), null=True, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )

    objects = OneTimeCodeQuerySet.as_manager()

    class Meta:
        verbose_name = _("one-time code")
        verbose_name_plural = _("one-time codes")
        indexes = [
            models.Index(fields=["phone", "purpose", "created_at"], name="otc_phone_purpose_time"),
            models.Index(fields=["requested_from", "created_at"], name="otc_ip_time"),
            models.Index(fields=["created_at"], name="otc_created"),
        ]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} {mask_phone(self.phone)}"

    personal_data = PersonalData(
        subject="user",
        row=DELETE_ROW,
        fields={"phone": DELETE_ROW, "code_hash": DELETE_ROW, "requested_from": DELETE_ROW, "user": DELETE_ROW},
        non_personal={"id", "purpose", "created_at", "expires_at", "used_at", "failed_attempts"},
    )


class SMSStatus(models.TextChoices):
    PENDING = "pending", _("pending")
    SENDING = "sending", _("sending")
    SENT = "sent", _("sent")
    FAILED = "failed", _("failed")


class SMSMessage(LiveJob):
    """The SMS outbox. A message is written in the same transaction as the code it
    carries and delivered by a Celery task after commit; the body stays encrypted until
    delivery and is erased once sent, so codes never rest in plaintext. Liveness
    (``LiveJob``): a delivery is claimed in ``worker`` and beaten while the gateway
    call runs; ``next_attempt_at`` is when a failed delivery is due again."""

    phone = models.CharField(_("mobile number"), max_length=16)
    body = EncryptedTextField(_("body"), purpose="accounts.sms.body", blank=True)
    status = models.CharField(_("status"), max_length=10, choices=SMSStatus.choices, default=SMSStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("SMS message")
        verbose_name_plural = _("SMS messages")
        indexes = [models.Index(fields=["status", "created_at"], name="sms_status_created")]

    def __str__(self) -> str:
        return f"{mask_phone(self.phone)} ({self.get_status_display()})"

    personal_data = PersonalData(
        subject=None,
        row=DELETE_ROW,
        fields={
            "phone": DELETE_ROW,
            "body": REDACT_BLANK,
            "last_error": redact("", note="gateway errors can echo the number"),
        },
        non_personal={"id", "status", "attempts", "next_attempt_at", "created_at", "sent_at", *LiveJob.LIVENESS_FIELDS},
    )


class VerificationStatus(models.TextChoices):
    SUBMITTED = "submitted", _("submitted")
    VERIFIED = "verified", _("verified")
    REJECTED = "rejected", _("rejected")


class IdentityVerification(models.Model):
    """Optional real-person authentication (ACC-3). The legal name and ID number are
    sensitive: encrypted at rest, with a keyed hash of the ID number so that one identity
    cannot be claimed by two accounts without the number ever being stored in clear."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="identity_verification"
    )
    legal_name = EncryptedTextField(_("legal name"), purpose="accounts.identity.legal_name")
    id_number = EncryptedTextField(_("ID card number"), purpose="accounts.identity.id_number")
    id_number_digest = models.CharField(max_length=64, unique=True)
    status = models.CharField(
        _("status"), max_length=10, choices=VerificationStatus.choices, default=VerificationStatus.SUBMITTED
    )
    submitted_at = models.DateTimeField(_("submitted at"), default=timezone.now)

    class Meta:
        verbose_name = _("real-person authentication")
        verbose_name_plural = _("real-person authentications")

    def __str__(self) -> str:
        return f"{self.user} ({self.get_status_display()})"

    personal_data = PersonalData(
        subject="user",
        row=DELETE_ROW,
        fields={
            "user": DELETE_ROW,
            "legal_name": REDACT_BLANK,
            "id_number": REDACT_BLANK,
            "id_number_digest": DELETE_ROW,
        },
        non_personal={"id", "status", "submitted_at"},
    )


class DeletionStatus(models.TextChoices):
    RECEIVED = "received", _("received")
    PROCESSING = "processing", _("processing")
    COMPLETED = "completed", _("completed")
    CANCELLED = "cancelled", _("cancelled")


class AccountDeletionRequest(models.Model):
    """A person's verified request to delete their account (ACC-5, EN V(IV)).

    It is recorded after the person re-verifies with a fresh SMS code; the cascade that
    deletes or anonymizes their data picks it up (ANON-3)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="deletion_requests"
    )
    status = models.CharField(
        _("status"), max_length=12, choices=DeletionStatus.choices, default=DeletionStatus.RECEIVED
    )
    reason = models.TextField(_("reason"), blank=True)
    requested_at = models.DateTimeField(_("requested at"), default=timezone.now)
    verified_at = models.DateTimeField(_("identity verified at"))
    # The cascade that carries the request out (dataprotection.AnonymizationJob).
    job_id = models.BigIntegerField(_("anonymization job"), null=True, blank=True)

    class Meta:
        verbose_name = _("account deletion request")
        verbose_name_plural = _("account deletion requests")
        constraints = [
            models.UniqueConstraint(
                fields=["user"],
                condition=models.Q(status__in=["received", "processing"]),
                name="one_open_deletion_request_per_user",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user or '-'} {self.get_status_display()}"

    personal_data = PersonalData(
        subject="user",
        note="Kept, de-linked, as the record that the request was honoured (ACC-5).",
        fields={"user": SET_NULL, "reason": REDACT_BLANK},
        non_personal={"id", "status", "requested_at", "verified_at", "job_id"},
    )


class TokenScope(models.TextChoices):
    """What a personal access token may do through the API (issue 7). The permission
    gate still decides what the person behind it may see and change."""

    READ = "read", _("Read")
    WRITE = "write", _("Read and write")


class ApiToken(models.Model):
    """A personal access token for the REST API: hashed at rest (SHA-256 of a random
    secret: the secret itself is shown once), scoped, expiring and revocable. A token
    restricted to one organization serves that organization's integrations and reaches
    nothing else (``organization_id``: a plain id, accounts cannot import organizations)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("token starts with"), max_length=12, db_index=True)
    digest = models.CharField(max_length=64, unique=True)
    scope = models.CharField(_("scope"), max_length=8, choices=TokenScope.choices, default=TokenScope.READ)
    organization_id = models.BigIntegerField(_("only for organization"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires at"))
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    # SEC-1: the assurance of the session that minted it (``accounts.assurance``). A token
    # from before the policy has neither and is refused wherever they are needed.
    minted_with_second_factor = models.BooleanField(_("made after the second factor"), default=False)
    minted_with_fresh_proof = models.BooleanField(_("made with a recent proof of identity"), default=False)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_usable(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()

    personal_data = PersonalData(
        subject="user",
        row=DELETE_ROW,
        fields={"user": DELETE_ROW, "digest": DELETE_ROW},
        non_personal={
            "id",
            "name",
            "prefix",
            "scope",
            "organization_id",
            "created_at",
            "expires_at",
            "last_used_at",
            "revoked_at",
            "minted_with_second_factor",
            "minted_with_fresh_proof",
        },
    )


class IdempotencyRecord(models.Model):
    """The first answer to a create request sent with an ``Idempotency-Key`` header:
    a retry with the same key and body gets the same answer and writes nothing again; the
    same key with another body is refused (issue 7). Swept after a day."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=100)
    endpoint = models.CharField(max_length=200)
    request_digest = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response_body = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
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


class LockoutScope(models.TextChoices):
    ACCOUNT = "account", _("account")
    ADDRESS = "address", _("network address")


class SignInFailure(models.Model):
    """One failed sign-in proof: a wrong password, SMS code or second-factor code (SEC-1).

    Only keyed hashes of the account identifier (the mobile number, or ``user:<id>`` for
    second-factor codes) and of the address are stored, never the number itself; one
    INSERT per failure, so concurrent failures are all counted (``accounts.lockout``).
    Rows are purged a day after the failure by the hourly ``purge_spent_codes`` task."""

    identifier_digest = models.CharField(max_length=64, blank=True)  # blank once the account succeeded
    address_digest = models.CharField(max_length=64, blank=True)
    kind = models.CharField(_("kind"), max_length=16)
    occurred_at = models.DateTimeField(_("occurred at"), default=timezone.now)

    class Meta:
        verbose_name = _("failed sign-in")
        verbose_name_plural = _("failed sign-ins")
        indexes = [
            models.Index(fields=["identifier_digest", "occurred_at"], name="signin_failure_identifier"),
            models.Index(fields=["address_digest", "occurred_at"], name="signin_failure_address"),
            models.Index(fields=["occurred_at"], name="signin_failure_time"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.occurred_at:%Y-%m-%d %H:%M}"

    personal_data = PersonalData(
        subject=None,
        row=DELETE_ROW,
        note=(
            "Pseudonymous (keyed hashes): deleted a day after the failure by the hourly purge, and "
            "by digest in an account-deletion cascade."
        ),
        fields={"identifier_digest": DELETE_ROW, "address_digest": DELETE_ROW},
        non_personal={"id", "kind", "occurred_at"},
    )


class SignInLockout(models.Model):
    """An account (by identifier digest) or an address locked until ``locked_until``
    after too many failures (SEC-1). One row per scope and key: the unique constraint
    makes the failure that crosses the threshold the only one that locks, audits and
    texts the owner; a later lock of the same key renews the row by compare-and-set."""

    scope = models.CharField(_("scope"), max_length=8, choices=LockoutScope.choices)
    key_digest = models.CharField(max_length=64)
    locked_at = models.DateTimeField(_("locked at"), default=timezone.now)
    locked_until = models.DateTimeField(_("locked until"))

    class Meta:
        verbose_name = _("sign-in lockout")
        verbose_name_plural = _("sign-in lockouts")
        constraints = [models.UniqueConstraint(fields=["scope", "key_digest"], name="one_lockout_per_key")]
        indexes = [models.Index(fields=["locked_until"], name="signin_lockout_until")]

    def __str__(self) -> str:
        return f"{self.get_scope_display()} until {self.locked_until:%Y-%m-%d %H:%M}"

    personal_data = PersonalData(
        subject=None,
        row=DELETE_ROW,
        note=(
            "Pseudonymous (a keyed hash): deleted a day after the lock ends by the hourly purge, and "
            "by digest in an account-deletion cascade."
        ),
        fields={"key_digest": DELETE_ROW},
        non_personal={"id", "scope", "locked_at", "locked_until"},
    )
