"""Forms for the account pages. They validate input only; the views call services."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Gender, TokenScope, User
from accounts.services.phones import normalize_mobile
from dataprotection.api.strict import INT64_MAX
from dataprotection.validators import clean_id_number

ALLOWED_AVATAR_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}


class PhoneField(forms.CharField):
    """A mobile number typed any common way, cleaned to E.164."""

    def __init__(self, **kwargs):
        kwargs.setdefault("label", _("Mobile number"))
        kwargs.setdefault("max_length", 32)
        kwargs.setdefault(
            "widget",
            forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel", "placeholder": "138 0013 8000"}),
        )
        super().__init__(**kwargs)

    def clean(self, value):
        value = super().clean(value)
        return normalize_mobile(value) if value else value


class CodeField(forms.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("label", _("SMS code"))
        kwargs.setdefault("min_length", 6)
        kwargs.setdefault("max_length", 6)
        kwargs.setdefault(
            "widget", forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "size": 8})
        )
        super().__init__(**kwargs)

    def clean(self, value):
        value = (value or "").strip()
        value = super().clean(value)
        if value and not value.isdigit():
            raise ValidationError(_("The code is six digits."), code="format")
        return value


class SendCodeForm(forms.Form):
    phone = PhoneField()


class NewPasswordMixin(forms.Form):
    password1 = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html,
    )
    password2 = forms.CharField(
        label=_("Repeat password"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    def password_user(self) -> User:
        return User(phone=self.cleaned_data.get("phone", ""), name=self.cleaned_data.get("name", ""))

    def clean(self):
        cleaned = super().clean()
        first, second = cleaned.get("password1"), cleaned.get("password2")
        if first and second and first != second:
            self.add_error("password2", ValidationError(_("The two passwords differ."), code="mismatch"))
        elif first:
            try:
                password_validation.validate_password(first, self.password_user())
            except ValidationError as exc:
                self.add_error("password1", exc)
        return cleaned


class RegistrationForm(NewPasswordMixin):
    phone = PhoneField()
    code = CodeField()
    name = forms.CharField(label=_("Name"), max_length=100, required=False)
    field_order = ["phone", "code", "name", "password1", "password2"]


class PasswordSignInForm(forms.Form):
    phone = PhoneField()
    password = forms.CharField(
        label=_("Password"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )


class CodeSignInForm(forms.Form):
    phone = PhoneField()
    code = CodeField()


class PasswordResetForm(NewPasswordMixin):
    phone = PhoneField()
    code = CodeField()
    field_order = ["phone", "code", "password1", "password2"]


class ProfileForm(forms.ModelForm):
    """ACC-2: correct and supplement one's own profile."""

    class Meta:
        model = User
        fields = (
            "name",
            "nickname",
            "avatar",
            "gender",
            "birthday",
            "work_region",
            "company_email",
            "preferred_language",
        )
        widgets = {
            "birthday": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "gender": forms.Select(choices=Gender.choices),
        }

    def __init__(self, *args, locked: dict[str, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        # ACC-6: fields the person's dedicated-edition organization provides are shown
        # but disabled; Django ignores any value posted for a disabled field.
        for name, reason in (locked or {}).items():
            if name in self.fields:
                self.fields[name].disabled = True
                self.fields[name].help_text = reason

    def clean_avatar(self):
        avatar = self.cleaned_data.get("avatar")
        if not avatar or avatar == self.instance.avatar:
            return avatar
        if avatar.size > settings.AVATAR_MAX_BYTES:
            raise ValidationError(
                _("The picture is %(size)s; the largest allowed is %(limit)s."),
                code="too_large",
                params={"size": filesizeformat(avatar.size), "limit": filesizeformat(settings.AVATAR_MAX_BYTES)},
            )
        image = getattr(avatar, "image", None)
        if image is None or image.format not in ALLOWED_AVATAR_TYPES:
            raise ValidationError(_("Upload a JPEG, PNG, WebP or GIF picture."), code="type")
        return avatar

    def clean_birthday(self):
        birthday = self.cleaned_data.get("birthday")
        if birthday and birthday > timezone.localdate():
            raise ValidationError(_("A birthday cannot be in the future."), code="future")
        if birthday and birthday.year < 1900:
            raise ValidationError(_("Enter a birthday after 1900."), code="too_old")
        return birthday

    def changes(self) -> dict:
        # A ticked "clear" box cleans to False; the model's "no picture" is "".
        return {
            field: "" if self.cleaned_data[field] is False else self.cleaned_data[field] for field in self.changed_data
        }


class IdentityVerificationForm(forms.Form):
    """ACC-3: optional real-person authentication by ID card."""

    legal_name = forms.CharField(label=_("Legal name (as on the ID card)"), max_length=100)
    id_number = forms.CharField(label=_("ID card number"), max_length=20)
    # CON-5: sensitive processing needs its own explicit consent, never a bundled one.
    explicit_consent = forms.BooleanField(
        label=_(
            "I explicitly consent to Custodia processing my legal name and ID card number to check my identity. "
            "They are sensitive personal information; I can withdraw this consent at any time, which deletes them."
        ),
        error_messages={"required": _("Checking your identity needs your explicit consent.")},
    )

    def clean_id_number(self):
        return clean_id_number(self.cleaned_data["id_number"])


class DeletionConfirmForm(forms.Form):
    code = CodeField()
    reason = forms.CharField(label=_("Why are you leaving? (optional)"), required=False, widget=forms.Textarea)


def second_factor_field(**kwargs) -> forms.CharField:
    """A code of the authenticator app (six digits) or a recovery code (xxxx-xxxx)."""
    kwargs.setdefault("label", _("Authentication code"))
    kwargs.setdefault("help_text", _("The six-digit code of your authenticator app, or one of your recovery codes."))
    return forms.CharField(
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autocapitalize": "off", "size": 12}),
        **kwargs,
    )


class SecondFactorForm(forms.Form):
    """The second step of signing in, and re-authentication before changing factors."""

    code = second_factor_field()


class EnrollTwoFactorForm(forms.Form):
    """Confirm a new authenticator with one of its codes; replacing an old one also needs
    a current code of the old factors."""

    code = forms.CharField(
        label=_("Code shown by the app"),
        max_length=8,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "size": 8}),
    )

    def __init__(self, *args, replacing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if replacing:
            self.fields["current_code"] = second_factor_field(
                label=_("Current code of your old app"),
                help_text=_(
                    "You are replacing your authenticator: prove it is you with the old app or a recovery code."
                ),
            )


class ReauthenticateForm(forms.Form):
    password = forms.CharField(
        label=_("Password"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        label=_("Name"), max_length=100, help_text=_("What uses the token, e.g. “HR sync” or “my script”.")
    )
    scope = forms.ChoiceField(
        label=_("Access"),
        choices=[(TokenScope.READ, _("Read only")), (TokenScope.WRITE, _("Read and write"))],
        initial=TokenScope.READ,
    )
    days = forms.IntegerField(
        label=_("Valid for (days)"),
        min_value=1,
        max_value=settings.API_TOKEN_MAX_DAYS,
        initial=settings.API_TOKEN_DEFAULT_DAYS,
    )
    organization_id = forms.IntegerField(
        label=_("Only for organization number"),
        min_value=1,
        max_value=INT64_MAX,
        required=False,
        help_text=_(
            "Optional: for an organization's integrations. The token then reaches that organization only "
            "(you must administer it) and cannot act as you."
        ),
    )
