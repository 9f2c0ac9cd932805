"""Mobile numbers (ACC-1) and the password complexity policy (ACC-4, EN IV(V)).

Numbers are parsed with ``phonenumbers`` and kept in E.164, so every common way of
typing one number names the same account; anything that cannot receive an SMS is
refused with a message that says what is wrong. Passwords must be long, uncommon, not
all digits, mix three kinds of characters and not resemble the person's own data.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError

from accounts.forms import SendCodeForm
from accounts.models import User
from accounts.services.passwords import CharacterClassValidator
from accounts.services.phones import normalize_mobile
from tests.factories import TEST_PASSWORD

# --------------------------------------------------------------------------- mobile numbers


@pytest.mark.parametrize(
    "typed",
    [
        "138 0013 8000",  # national form, read in SMS_DEFAULT_REGION (CN)
        "13800138000",
        "+86 138-0013-8000",
        "+8613800138000",
        "  +86 (138) 0013 8000  ",
        "8613800138000",  # phonenumbers recognises the leading country code 86
        "008613800138000",  # the international dialling prefix from China
    ],
)
def test_mainland_mobile_typed_any_common_way_is_one_number(typed):
    """ACC-1: the same mainland mobile, typed differently, is stored once in E.164."""
    assert normalize_mobile(typed) == "+8613800138000"


def test_singapore_mobile_is_valid():
    """ACC-1/SEC-6: mobiles of the Singapore data region are accepted with +65."""
    assert normalize_mobile("+65 8123 4567") == "+6581234567"


def test_default_region_reads_national_numbers(settings):
    """ACC-1: numbers without a country code are read in SMS_DEFAULT_REGION."""
    settings.SMS_DEFAULT_REGION = "SG"
    assert normalize_mobile("8123 4567") == "+6581234567"


def _error(raw: str) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        normalize_mobile(raw)
    return caught.value


@pytest.mark.parametrize(
    ("typed", "code", "message"),
    [
        ("", "required", "Enter your mobile number."),
        ("   ", "required", "Enter your mobile number."),
        (
            "abc",
            "invalid",
            "“abc” is not a phone number. Enter a mobile number such as 138 0013 8000 or +65 8123 4567.",
        ),
        ("123", "invalid", "“123” is not a valid mobile number. Check the digits and the country code."),
        (
            "+86 138 0013 800",  # one digit short
            "invalid",
            "“+86 138 0013 800” is not a valid mobile number. Check the digits and the country code.",
        ),
        (
            "+86 010 1234 5678",  # a Beijing landline
            "not_mobile",
            "“+86 010 1234 5678” is not a mobile number; SMS codes can only be sent to mobile phones.",
        ),
        (
            "010 1234 5678",
            "not_mobile",
            "“010 1234 5678” is not a mobile number; SMS codes can only be sent to mobile phones.",
        ),
    ],
)
def test_malformed_numbers_get_a_clear_message(typed, code, message):
    """ACC-1: each kind of bad input says what is wrong with it."""
    error = _error(typed)
    assert error.code == code
    assert error.messages == [message]


def test_phone_field_cleans_to_e164():
    """ACC-1: the forms' phone field hands the views an E.164 number."""
    form = SendCodeForm({"phone": "+86 138-0013-8000"})
    assert form.is_valid()
    assert form.cleaned_data["phone"] == "+8613800138000"
    form = SendCodeForm({"phone": "+86 010 1234 5678"})
    assert not form.is_valid()
    assert "SMS codes can only be sent to mobile phones" in form.errors["phone"][0]


# --------------------------------------------------------------------------- passwords


def _codes(password: str, user: User | None = None) -> set[str]:
    """The error codes the configured validators (AUTH_PASSWORD_VALIDATORS) raise."""
    user = user or User(phone="+8613800138000", name="Zhang Wei")
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        return {error.code for error in exc.error_list}
    return set()


def test_a_good_password_passes():
    """ACC-4: a long, uncommon password mixing three kinds of characters is accepted."""
    assert _codes(TEST_PASSWORD) == set()
    assert _codes("Lantern!harbour7") == set()


def test_too_short():
    """ACC-4: at least ten characters."""
    assert _codes("Ab1!xyz9") == {"password_too_short"}
    with pytest.raises(ValidationError, match="at least 10 characters"):
        password_validation.validate_password("Ab1!xyz9")


@pytest.mark.parametrize("password", ["Password123", "pe#5gz29ptzmse"])
def test_too_common(password):
    """ACC-4: passwords from the common-passwords list are refused even when they are
    long enough and mix three kinds of characters."""
    assert _codes(password) == {"password_too_common"}


def test_entirely_numeric():
    """ACC-4: an all-digit password is refused."""
    assert "password_entirely_numeric" in _codes("4829103756")


@pytest.mark.parametrize(
    ("password", "classes"),
    [("lanternharbour", 1), ("lanternharbour7", 2), ("LANTERN-HARBOUR", 2), ("Lanternharbour", 2)],
)
def test_fewer_than_three_character_classes(password, classes):
    """ACC-4 (EN IV(V) "complex password"): fewer than 3 of lower/upper/digit/symbol."""
    assert CharacterClassValidator.classes_in(password) == classes
    assert _codes(password) == {"password_too_simple"}


def test_character_class_message_and_threshold():
    """ACC-4: the message names the rule; the threshold is configurable."""
    validator = CharacterClassValidator(min_classes=4)
    with pytest.raises(ValidationError) as caught:
        validator.validate("Lanternharbour7")
    assert caught.value.code == "password_too_simple"
    assert caught.value.messages == [
        "Your password must mix at least 4 kinds of characters: lower-case, upper-case, digits, symbols."
    ]
    validator.validate("Lantern-harbour7")  # all four kinds: no error
    assert CharacterClassValidator.classes_in("Lantern-harbour7") == 4


def test_similar_to_the_phone_number():
    """ACC-4: a password that is mostly the person's mobile number is refused."""
    assert _codes("Ab+8613800138000") == {"password_too_similar"}
    with pytest.raises(ValidationError, match="too similar to the mobile number"):
        password_validation.validate_password("Ab+8613800138000", User(phone="+8613800138000"))
    # The same password is fine for someone with another number.
    assert _codes("Ab+8613800138000", User(phone="+6581234567")) == set()


def test_similar_to_the_name():
    """ACC-4: nor may it be the person's name dressed up."""
    user = User(phone="+8613800138000", name="Lanternharbour")
    assert _codes("Lanternharbour1!", user) == {"password_too_similar"}
