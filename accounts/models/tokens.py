"""Personal access tokens of the REST API and stored answers to idempotent requests."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dataprotection.personal_data import DELETE_ROW, PersonalData


class TokenScope(models.TextChoices):
    """What a personal access token may do through the API. The permission
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
