"""Operations console for personal accounts. Sensitive values are masked: staff see
that a value exists, never the value itself (ORG-10, SEC-1)."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import AccountDeletionRequest, IdentityVerification, OneTimeCode, SMSMessage, User
from dataprotection.admin.base import ReadOnlyModelAdmin, choice_column, choice_filter
from dataprotection.masking import mask_email, mask_phone


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ("id", "masked_phone_display", "name", "nickname", "is_staff", "is_active", "date_joined")
    list_filter = ("is_staff", "is_active", "data_region")
    search_fields = ("=phone", "name", "nickname")
    ordering = ("-date_joined",)
    readonly_fields = ("masked_phone_display", "masked_email_display", "date_joined", "last_login")
    fieldsets = (
        (None, {"fields": ("masked_phone_display", "password")}),
        (_("Profile"), {"fields": ("name", "nickname", "gender", "work_region", "masked_email_display")}),
        (_("Status"), {"fields": ("is_active", "is_staff", "is_superuser", "groups", "data_region")}),
        (_("Dates"), {"fields": ("date_joined", "last_login")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("phone", "password1", "password2")}),)

    # SEC-1: who is staff and which role groups they hold is for superusers alone; a
    # staff member allowed to edit accounts must not be able to raise their own rights.
    PRIVILEGE_FIELDS = ("is_staff", "is_superuser", "groups")

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            readonly.extend(name for name in self.PRIVILEGE_FIELDS if name not in readonly)
        return readonly

    @admin.display(description=_("mobile number"))
    def masked_phone_display(self, obj: User) -> str:
        return mask_phone(obj.phone)

    @admin.display(description=_("company email"))
    def masked_email_display(self, obj: User) -> str:
        return mask_email(obj.company_email) if obj.company_email else "—"


@admin.register(IdentityVerification)
class IdentityVerificationAdmin(admin.ModelAdmin):
    list_display = ("user", "status_display", "submitted_at")
    list_filter = (choice_filter(IdentityVerification, "status"),)
    status_display = choice_column(IdentityVerification, "status")
    list_select_related = ("user",)
    fields = ("user", "status", "submitted_at")
    readonly_fields = ("user", "submitted_at")

    def has_add_permission(self, request):
        return False


@admin.register(AccountDeletionRequest)
class AccountDeletionRequestAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "status_display", "requested_at", "verified_at")
    list_filter = (choice_filter(AccountDeletionRequest, "status"),)
    list_select_related = ("user",)
    fields = ("user", "status_display", "reason", "requested_at", "verified_at")
    readonly_fields = fields
    status_display = choice_column(AccountDeletionRequest, "status")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(OneTimeCode)
class OneTimeCodeAdmin(admin.ModelAdmin):
    list_display = ("masked_phone_display", "purpose_display", "created_at", "expires_at", "used_at", "failed_attempts")
    list_filter = (choice_filter(OneTimeCode, "purpose"),)
    fields = ("masked_phone_display", "purpose_display", "created_at", "expires_at", "used_at", "failed_attempts")
    readonly_fields = fields
    purpose_display = choice_column(OneTimeCode, "purpose")

    @admin.display(description=_("mobile number"))
    def masked_phone_display(self, obj: OneTimeCode) -> str:
        return mask_phone(obj.phone)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(SMSMessage)
class SMSMessageAdmin(admin.ModelAdmin):
    list_display = ("masked_phone_display", "status_display", "attempts", "created_at", "sent_at", "last_error")
    list_filter = (choice_filter(SMSMessage, "status"),)
    fields = ("masked_phone_display", "status_display", "attempts", "created_at", "sent_at", "last_error")
    readonly_fields = fields
    status_display = choice_column(SMSMessage, "status")

    @admin.display(description=_("mobile number"))
    def masked_phone_display(self, obj: SMSMessage) -> str:
        return mask_phone(obj.phone)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


# SEC-1: django-otp's own console pages show each person's authenticator key (as text
# and as a QR code) and let staff add or edit devices: whoever reads them can produce
# that person's codes. Staff see only whether someone has a second factor.
for _model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)


class TwoFactorDeviceAdmin(ReadOnlyModelAdmin):
    list_display = ("masked_phone_display", "name", "confirmed", "created_at")
    list_filter = ("confirmed",)
    fields = ("masked_phone_display", "name", "confirmed", "created_at", "last_used_at")
    readonly_fields = fields
    list_select_related = ("user",)

    @admin.display(description=_("mobile number"))
    def masked_phone_display(self, obj) -> str:
        return mask_phone(obj.user.phone)


admin.site.register(TOTPDevice, TwoFactorDeviceAdmin)
admin.site.register(StaticDevice, TwoFactorDeviceAdmin)
