"""The personal account (ACC-1, ACC-2, ACC-6): a person signs in with a mobile number."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _

from dataprotection.masking import mask_phone
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
