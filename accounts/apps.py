from django.apps import AppConfig
from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class AccountsConfig(AppConfig):
    default = True  # this module holds other configs too (below)
    name = "accounts"
    verbose_name = _("Personal accounts")

    def ready(self):
        from accounts import hooks

        hooks.connect()


# SEC-1: django-otp's two apps name themselves and their models in English only; the
# operations console reads in the staff member's language. These configs only rename:
# the migration state keeps django-otp's own names (``Meta`` and field ``verbose_name``
# are read from the class definitions), so no migration follows.
DEVICE_FIELD_NAMES = {
    "user": _("person"),
    "name": _("name"),
    "confirmed": pgettext_lazy("device", "confirmed"),
    "created_at": _("created at"),
    "last_used_at": _("last used at"),
    "throttling_failure_timestamp": _("last failed attempt"),
    "throttling_failure_count": _("failed attempts"),
    "key": _("secret key"),
    "step": _("time step (seconds)"),
    "t0": _("time origin"),
    "digits": _("digits"),
    "tolerance": _("tolerance (steps)"),
    "drift": _("drift (steps)"),
    "last_t": _("last time step used"),
    "device": _("device"),
    "token": _("recovery code"),
}


def _rename(model, singular, plural) -> None:
    model._meta.verbose_name = singular
    model._meta.verbose_name_plural = plural
    for field in model._meta.get_fields():
        if field.name in DEVICE_FIELD_NAMES and hasattr(field, "verbose_name"):
            field.verbose_name = DEVICE_FIELD_NAMES[field.name]
    model_admin = admin.site._registry.get(model)
    if model_admin is not None and model_admin.search_help_text:
        model_admin.search_help_text = _("Search by the person's mobile number")


class AuthenticatorAppsConfig(AppConfig):
    default = False
    name = "django_otp.plugins.otp_totp"
    label = "otp_totp"
    verbose_name = _("Two-factor: authenticator apps")
    default_auto_field = "django.db.models.AutoField"

    def ready(self):
        _rename(self.get_model("TOTPDevice"), _("authenticator app"), _("authenticator apps"))


class RecoveryCodesConfig(AppConfig):
    default = False
    name = "django_otp.plugins.otp_static"
    label = "otp_static"
    verbose_name = _("Two-factor: recovery codes")
    default_auto_field = "django.db.models.AutoField"

    def ready(self):
        _rename(self.get_model("StaticDevice"), _("recovery code set"), _("recovery code sets"))
        _rename(self.get_model("StaticToken"), _("recovery code"), _("recovery codes"))
