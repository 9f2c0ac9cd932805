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
from dataprotection import crypto, files
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
    assert "Would re-encrypt 1 values and 0 files." in capsys.readouterr().out
    call_command("rotate_field_keys")
    after = raw_values("organizations_member", "mobile")
    call_command("rotate_field_keys")
    assert raw_values("organizations_member", "mobile") == after
    assert "Re-encrypted 0 values and 0 files." in capsys.readouterr().out.splitlines()[-1]


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


# --------------------------------------------------------------------------- stored files

EVIDENCE = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


@pytest.fixture
def private_root(settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    return settings.PRIVATE_MEDIA_ROOT


def request_with_evidence():
    from requests.services.filing import EVIDENCE_FILE_PURPOSE
    from tests.requests.test_workflow import make_request

    return make_request(evidence=files.store_encrypted(EVIDENCE, EVIDENCE_FILE_PURPOSE))


def test_stored_files_are_resealed_under_the_new_key_and_the_old_ones_deleted(settings, private_root, capsys):
    """SEC-5: an evidence file sealed under the old key is re-encrypted into a new file,
    the request is switched to it, the old file is deleted, and it still reads after the
    old key is dropped; a second run has nothing to do."""
    from requests.services.filing import EVIDENCE_FILE_PURPOSE

    old = new_key("k1")
    settings.FIELD_ENCRYPTION_KEYS = [old]
    request = request_with_evidence()
    before = request.evidence
    assert crypto.bytes_key_id(files.stored_bytes(before)) == "k1"
    settings.FIELD_ENCRYPTION_KEYS = [new_key("k2"), old]

    call_command("rotate_field_keys")
    assert "Re-encrypted 0 values and 1 files." in capsys.readouterr().out
    request.refresh_from_db()
    assert request.evidence != before and not (private_root / before).exists()
    assert crypto.bytes_key_id(files.stored_bytes(request.evidence)) == "k2"
    assert sorted(p.name for p in private_root.iterdir()) == [request.evidence]

    settings.FIELD_ENCRYPTION_KEYS = [settings.FIELD_ENCRYPTION_KEYS[0]]  # drop the old key
    assert files.read_decrypted(request.evidence, EVIDENCE_FILE_PURPOSE) == EVIDENCE
    call_command("rotate_field_keys")
    assert "Re-encrypted 0 values and 0 files." in capsys.readouterr().out


def test_a_file_erased_meanwhile_is_not_brought_back(settings, private_root, monkeypatch):
    """SEC-5, ANON-2: when the row stops naming the file while it is being re-encrypted
    (an anonymization cleared it), the compare-and-set fails and the new copy is
    deleted: no file of the erased evidence is left."""
    from requests.models import DataSubjectRequest

    old = new_key("k1")
    settings.FIELD_ENCRYPTION_KEYS = [old]
    request = request_with_evidence()
    settings.FIELD_ENCRYPTION_KEYS = [new_key("k2"), old]
    store = files.store_encrypted

    def store_while_the_engine_erases(data, purpose):
        name = store(data, purpose)
        DataSubjectRequest.objects.filter(pk=request.pk).update(evidence="")
        files.delete_stored(request.evidence)
        return name

    monkeypatch.setattr(files, "store_encrypted", store_while_the_engine_erases)
    from dataprotection.rotation import file_columns, rotate_files

    reports = rotate_files(DataSubjectRequest, file_columns()["requests.DataSubjectRequest"])
    assert [(r.column, r.rotated, r.skipped_concurrent) for r in reports] == [
        ("evidence", 0, 1),
        ("agent_proof", 0, 0),
    ]
    assert list(private_root.iterdir()) == []


def test_a_file_sealed_with_a_missing_key_stops_with_a_clear_error(settings, private_root):
    settings.FIELD_ENCRYPTION_KEYS = [new_key("k1")]
    request_with_evidence()
    settings.FIELD_ENCRYPTION_KEYS = [new_key("k2")]
    with pytest.raises(CommandError, match=r"requests\.DataSubjectRequest: a file cannot be decrypted"):
        call_command("rotate_field_keys", stdout=io.StringIO())
