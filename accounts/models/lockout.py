"""Sign-in lockout (SEC-1): failed attempts and the locks they set."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dataprotection.personal_data import DELETE_ROW, PersonalData


class LockoutScope(models.TextChoices):
    ACCOUNT = "account", _("account")
    ADDRESS = "address", _("network address")


class SignInFailure(models.Model):
    """One failed sign-in proof: a wrong password, SMS code or second-factor code (SEC-1).

    Only keyed hashes of the account identifier (the mobile number, or ``user:<id>`` for
    second-factor codes) and of the address are stored, never the number itself; one
    INSERT per failure, so concurrent failures are all counted (``accounts.services.lockout``).
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
