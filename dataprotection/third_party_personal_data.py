"""Personal-data declarations for models we do not own but keep in our database
(ANON-1): Django's auth, contenttypes, sessions and admin, django-guardian's generic
object-permission tables, and django-otp's second-factor devices (SEC-1). Registered from
``DataProtectionConfig.ready()``; the user model is ``settings.AUTH_USER_MODEL``, so no
app of ours is imported here. The account-deletion cascade removes a person's devices and
recovery codes (``plan_second_factor_devices``, ACC-5)."""

from __future__ import annotations

from django.apps import apps

from dataprotection.personal_data import (
    DELETE_ROW,
    REDACT_TEXT,
    SET_NULL,
    PersonalData,
    declare,
    redact,
)

# The columns every django-otp device has (Device, ThrottlingMixin, TimestampMixin).
OTP_DEVICE_NON_PERSONAL = frozenset(
    {"id", "name", "confirmed", "throttling_failure_timestamp", "throttling_failure_count", "created_at"}
)

DECLARATIONS: dict[str, PersonalData] = {
    "auth.Group": PersonalData(non_personal={"id", "name", "permissions"}),
    "auth.Permission": PersonalData(non_personal={"id", "name", "content_type", "codename"}),
    "contenttypes.ContentType": PersonalData(non_personal={"id", "app_label", "model"}),
    "sessions.Session": PersonalData(
        note="The session data carries the signed-in user's id: the session identifies them.",
        row=DELETE_ROW,
        fields={"session_key": DELETE_ROW, "session_data": DELETE_ROW},
        non_personal={"expire_date"},
    ),
    "admin.LogEntry": PersonalData(
        subject="user",
        note="The operations console's own log; object_repr and change_message can name people.",
        fields={
            "user": DELETE_ROW,
            "object_id": SET_NULL,
            "object_repr": REDACT_TEXT,
            "change_message": redact("", note="may quote changed values"),
        },
        non_personal={"id", "action_time", "content_type", "action_flag"},
    ),
    "guardian.UserObjectPermission": PersonalData(
        subject="user",
        row=DELETE_ROW,
        fields={"user": DELETE_ROW},
        non_personal={"id", "permission", "content_type", "object_pk"},
    ),
    "guardian.GroupObjectPermission": PersonalData(
        non_personal={"id", "permission", "content_type", "object_pk", "group"},
    ),
    # SEC-1: a person's authenticator (its secret key) and recovery codes.
    "otp_totp.TOTPDevice": PersonalData(
        subject="user",
        row=DELETE_ROW,
        fields={"user": DELETE_ROW, "key": DELETE_ROW, "last_used_at": DELETE_ROW},
        non_personal=OTP_DEVICE_NON_PERSONAL | {"step", "t0", "digits", "tolerance", "drift", "last_t"},
    ),
    "otp_static.StaticDevice": PersonalData(
        subject="user",
        row=DELETE_ROW,
        fields={"user": DELETE_ROW, "last_used_at": DELETE_ROW},
        non_personal=OTP_DEVICE_NON_PERSONAL,
    ),
    "otp_static.StaticToken": PersonalData(
        subject="device__user",
        row=DELETE_ROW,
        fields={"token": DELETE_ROW},
        non_personal={"id", "device"},
    ),
}

# Recovery codes before their devices; both long before the account row (phase 9).
SECOND_FACTOR_STAGES = (
    ("otp_static.StaticToken", "device__user_id", 1),
    ("otp_totp.TOTPDevice", "user_id", 1),
    ("otp_static.StaticDevice", "user_id", 2),
)


def plan_second_factor_devices(job) -> list:
    """ACC-5: an account deletion removes the person's second-factor devices and codes."""
    from dataprotection.anonymization import StageSpec

    specs = []
    for label, lookup, phase in SECOND_FACTOR_STAGES:
        try:
            apps.get_model(label)
        except LookupError:  # the plugin is not installed in this configuration
            continue
        specs.append(StageSpec(label, {lookup: job.subject_id}, phase=phase))
    return specs


def declare_models_we_do_not_own() -> None:
    """ANON-1: declare the personal data of the installed models we do not own."""
    for label, declaration in DECLARATIONS.items():
        try:
            model = apps.get_model(label)
        except LookupError:  # the app is not installed in this configuration
            continue
        declare(model, declaration)
