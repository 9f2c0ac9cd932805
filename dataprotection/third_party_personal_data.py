"""Personal-data declarations for models we do not own but keep in our database
(ANON-1): Django's auth, contenttypes, sessions and admin, and django-guardian's generic
object-permission tables. Registered from ``DataProtectionConfig.ready()``; the user
model is ``settings.AUTH_USER_MODEL``, so no app of ours is imported here."""

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
}


def register() -> None:
    for label, declaration in DECLARATIONS.items():
        try:
            model = apps.get_model(label)
        except LookupError:  # the app is not installed in this configuration
            continue
        declare(model, declaration)
