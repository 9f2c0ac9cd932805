"""Encrypted columns rotate to a new key without downtime (ORG-10, SEC-5): new writes use
the first key at once, old keys keep decrypting, and `rotate_field_keys` re-encrypts
every stored value so the old key can be dropped."""

from __future__ import annotations

import base64
import io
import os

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from accounts.models import IdentityVerification
from dataprotection import crypto
from tests.factories import MemberFactory, UserFactory

pytestmark = pytest.mark.django_db


def new_key(key_id: str) -> str:
    return f"{key_id}:" + base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")


def raw_values(table: str, column: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE {column} <> '' ORDER BY id")
        return [row[0] for row in cursor.fetchall()]


def test_rotation_reencrypts_everything_under_the_new_key(settings):
    old = new_key("k1")
    settings.FIELD_ENCRYPTION_KEYS = [old]
    members = [MemberFactory(mobile=f"+8613900000{index:03d}", id_number="", bank_card="") for index in range(25)]
    user = UserFactory()
    IdentityVerification.objects.create(user=user, legal_name="张三", id_number="11010519491231002X",
                                        id_number_digest="d")  # fmt: skip
    assert all(value.startswith("enc1:k1:") for value in raw_values("organizations_member", "mobile"))

    settings.FIELD_ENCRYPTION_KEYS = [new_key("k2"), old]
    fresh = MemberFactory(mobile="+8613900000999")
    assert raw_values("organizations_member", "mobile")[-1].startswith("enc1:k2:")  # new writes: new key at once

    call_command("rotate_field_keys", "--chunk-size", "7", stdout=io.StringIO())
    assert all(value.startswith("enc1:k2:") for value in raw_values("organizations_member", "mobile"))
    assert raw_values("accounts_identityverification", "id_number")[0].startswith("enc1:k2:")

    settings.FIELD_ENCRYPTION_KEYS = [settings.FIELD_ENCRYPTION_KEYS[0]]  # drop the old key
    from organizations.models import Member

    assert [m.mobile for m in Member.objects.order_by("id")] == [m.mobile for m in [*members, fresh]]
    assert IdentityVerification.objects.get().id_number == "11010519491231002X"


def test_rotation_is_idempotent_and_dry_run_changes_nothing(settings, capsys):
    old = new_key("k1")
    settings.FIELD_ENCRYPTION_KEYS = [old]
    MemberFactory(mobile="+8613900000001")
    settings.FIELD_ENCRYPTION_KEYS = [new_key("k2"), old]
    before = raw_values("organizations_member", "mobile")
    call_command("rotate_field_keys", "--dry-run")
    assert raw_values("organizations_member", "mobile") == before
    assert "Would re-encrypt 1 values." in capsys.readouterr().out
    call_command("rotate_field_keys")
    after = raw_values("organizations_member", "mobile")
    call_command("rotate_field_keys")
    assert raw_values("organizations_member", "mobile") == after
    assert "Re-encrypted 0 values." in capsys.readouterr().out.splitlines()[-1]


def test_missing_old_key_stops_with_a_clear_error(settings):
    settings.FIELD_ENCRYPTION_KEYS = [new_key("k1")]
    MemberFactory(mobile="+8613900000001")
    settings.FIELD_ENCRYPTION_KEYS = [new_key("k2")]
    with pytest.raises(CommandError, match="Is an old key missing"):
        call_command("rotate_field_keys", stdout=io.StringIO())


def test_ciphertext_is_bound_to_its_column():
    """A value copied into another column does not decrypt (associated data)."""
    stored = crypto.encrypt("110105194912310021", "organizations.member.id_number")
    assert crypto.decrypt(stored, "organizations.member.id_number") == "110105194912310021"
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(stored, "organizations.member.mobile")


def test_tampered_ciphertext_is_rejected():
    stored = crypto.encrypt("secret", "p")
    tampered = stored[:-2] + ("A" if stored[-2] != "A" else "B") + stored[-1]
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(tampered, "p")
